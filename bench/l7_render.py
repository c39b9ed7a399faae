"""What the L7 renderer makes 50 rules cost on bare HAProxy: this tree's renderer
against another revision's, same run, no ``hydria up`` in the way.

``bench/l7.py`` measures through a whole ``hydria up``; on a shared machine its
figures swing (0.67..1.0 from one run to the next). Here one HAProxy per
configuration (master-worker, as the agent runs it) serves 127.0.0.1 with nginx
back-ends, and wrk runs against each in turn, ``--rounds`` times, the order
rotating: ``plain`` (no rules), ``against`` (the 50 rules of ``bench/l7.py``
rendered by ``hydria/render/haproxy_l7.py`` of ``--against``, e.g. ``main``),
``this`` (by this tree's renderer) and ``guard-only`` (this tree's text without
the policies' ``http-request`` lines: what the guard alone costs). Printed:
requests per second and per HAProxy CPU second of each, the ratios to ``plain``
(target >= 0.9) and the load.

    .venv/bin/python bench/l7_render.py [--against main] [--rounds 12]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from _harness import free_port
from l7 import _rule, _wrk, nginx_backends

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hydria.core import graph as g  # noqa: E402
from hydria.render import haproxy as rendering  # noqa: E402
from hydria.render import haproxy_l7  # noqa: E402
from tests.render.cases import AMPHORA, lb, listener, member, pool  # noqa: E402

RULES = 50
WORK = Path(tempfile.mkdtemp(prefix="hydria-bench-l7r-"))  # removed at the end


def renderer_at(rev: str) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{rev}:hydria/render/haproxy_l7.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = WORK / "haproxy_l7_against.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("haproxy_l7_against", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config(renderer: ModuleType, members: list[tuple[str, int]], port: int, rules: int) -> str:
    policies = []
    for i in range(rules):
        r = _rule(i)
        rule = g.L7Rule(f"r{i}", r["type"], r["compare_type"], r["value"], key=r.get("key"))
        policies.append(
            g.L7Policy(
                f"p{i}",
                "REJECT" if i % 2 else "REDIRECT_TO_POOL",
                i,
                redirect_pool_id=None if i % 2 else "other",
                rules=(rule,),
            )
        )
    servers = [member(f"m{j}", host, p) for j, (host, p) in enumerate(members)]
    balancer = lb(
        vip="127.0.0.1",
        listeners=[listener(port=port, l7policies=tuple(policies))],
        pools=[pool(members=servers), pool("other", members=servers)],
    )
    rendering.haproxy_l7 = renderer  # type: ignore[attr-defined]
    try:
        sock = WORK / f"stats-{port}.sock"
        return rendering.render(
            balancer, AMPHORA, g.RenderOptions(stats_socket=str(sock)), version=1
        )
    finally:
        rendering.haproxy_l7 = haproxy_l7  # type: ignore[attr-defined]


def guard_only(text: str) -> str:
    kept = [
        line
        for line in text.splitlines()
        if not ("{ var(txn.hydria_l7g) -m found }" in line and "http-request" in line)
    ]
    return "\n".join(kept) + "\n"


def cpu_seconds(pid: int) -> float:
    """CPU time of a HAProxy master and its worker(s)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--against", default="main")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    against = renderer_at(args.against)
    names = ["plain", "against", "this", "guard-only"]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    with nginx_backends(2) as members:
        try:
            for name in names:
                ports[name] = free_port()
                renderer = against if name == "against" else haproxy_l7
                text = config(renderer, members, ports[name], 0 if name == "plain" else RULES)
                if name == "guard-only":
                    text = guard_only(text)
                cfg = WORK / f"{name}.cfg"
                cfg.write_text(text)
                procs[name] = subprocess.Popen(
                    ["haproxy", "-W", "-db", "-f", str(cfg)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            time.sleep(1.5)
            done = dict.fromkeys(names, 0)
            used = dict.fromkeys(names, 0.0)
            rate = dict.fromkeys(names, 0.0)
            for i in range(args.rounds):
                for name in names[i % 4 :] + names[: i % 4]:
                    before = cpu_seconds(procs[name].pid)
                    rps, n = _wrk(
                        f"http://127.0.0.1:{ports[name]}/", args.seconds, args.connections
                    )
                    used[name] += cpu_seconds(procs[name].pid) - before
                    done[name] += n
                    rate[name] += rps
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(10)
            shutil.rmtree(WORK, ignore_errors=True)
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    per_cpu = {name: done[name] / max(used[name], 1e-9) for name in names}
    for name in names:
        print(
            f"{name:10s} {rate[name] / args.rounds:8.0f} req/s {per_cpu[name]:8.0f} req per CPU s"
            + (
                ""
                if name == "plain"
                else f"   / plain: {rate[name] / rate['plain']:.3f} req/s, "
                f"{per_cpu[name] / per_cpu['plain']:.3f} per CPU (target >= 0.9)"
            )
        )


if __name__ == "__main__":
    main()
