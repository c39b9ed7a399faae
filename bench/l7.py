"""What 50 L7 rules cost: requests per second through an HTTP listener with 50 rules
against one with none, same run, same back-ends, same wrk.

One ``hydria up``; two load balancers made with one fully populated create each:
``plain`` (HTTP listener, default pool) and ``l7`` (the same, plus 50 policies of
one rule each: PATH prefixes, HOST_NAME, HEADER, COOKIE and PATH regexes, sending
to a second pool or rejecting). The measured request (``GET /``) matches none of
them, so HAProxy walks every rule before the default pool: the worst case. wrk
runs against each VIP in turn, ``--rounds`` times, interleaved (the order
alternating); back-ends are nginx answering from memory. Printed per run:
requests per second, and requests per CPU second of the HAProxy processes of
that VIP (from /proc; on a machine shared with other work, throughput swings
with the neighbours' load, CPU per request much less); then both ratios l7 /
plain over all runs (target >= 0.9).

    .venv/bin/python bench/l7.py [--seconds 3] [--rounds 4] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from _harness import free_port, hydria_up, wait_http, wait_status

RULES = 50


def _rule(i: int) -> dict[str, str]:
    kind = i % 5
    if kind == 0:
        return {"type": "PATH", "compare_type": "STARTS_WITH", "value": f"/service-{i}/"}
    if kind == 1:
        return {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": f"h{i}.example"}
    if kind == 2:
        return {"type": "HEADER", "key": f"X-Route-{i}", "compare_type": "EQUAL_TO", "value": "yes"}
    if kind == 3:
        return {"type": "COOKIE", "key": "tenant", "compare_type": "EQUAL_TO", "value": f"t{i}"}
    return {"type": "PATH", "compare_type": "REGEX", "value": f"^/v{i}/[a-z]+/[0-9]+$"}


def _body(subnet: str, members: list[tuple[str, int]], name: str, rules: int) -> dict:
    member_list = [{"address": h, "protocol_port": p} for h, p in members]
    policies = [
        {
            "action": "REJECT" if i % 2 else "REDIRECT_TO_POOL",
            **({} if i % 2 else {"redirect_pool": {"name": "other"}}),
            "rules": [_rule(i)],
        }
        for i in range(rules)
    ]
    return {
        "loadbalancer": {
            "name": name,
            "vip_subnet_id": subnet,
            "listeners": [
                {
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {"name": "web"},
                    "l7policies": policies,
                }
            ],
            "pools": [
                {
                    "name": "web",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": member_list,
                },
                {
                    "name": "other",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": member_list,
                },
            ],
        }
    }


def _wrk(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """Requests per second and requests done."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx answers\n{out}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    assert m is not None and n is not None, out
    return float(m.group(1)), int(n.group(1))


def haproxy_cpu(vip: str) -> float:
    """CPU seconds (user + system) of the HAProxy processes serving ``vip``: on a
    shared machine, requests per HAProxy CPU second is the steadier measure."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "haproxy":
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            # the agent gives its own global section first, then the listeners'
            # configuration, each with its own -f: look through all of them
            configs = [Path(argv[i + 1].decode()) for i, a in enumerate(argv[:-1]) if a == b"-f"]
            if not any(f"bind {vip}:80" in c.read_text() for c in configs):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def nginx_backends(count: int) -> Iterator[list[tuple[str, int]]]:
    """Back-ends fast enough that HAProxy, not they, sets the pace: nginx answering
    ``200 ok`` from memory (a Python server would cap both runs at a few hundred
    requests per second and hide the rules' cost)."""
    folder = Path(tempfile.mkdtemp(prefix="hydria-bench-l7-"))
    ports = [free_port() for _ in range(count)]
    servers = "\n".join(
        f"server {{ listen 127.0.0.1:{p}; access_log off; location / {{ return 200 ok; }} }}"
        for p in ports
    )
    conf = folder / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}; proxy_temp_path {folder}; fastcgi_temp_path {folder};
    uwsgi_temp_path {folder}; scgi_temp_path {folder};
    {servers}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(folder), "-g", "daemon off;"])
    try:
        for p in ports:
            wait_http(f"http://127.0.0.1:{p}/")
        yield [("127.0.0.1", p) for p in ports]
    finally:
        proc.terminate()
        proc.wait(10)
        time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--octet", type=int, default=21)
    args = ap.parse_args()
    with (
        nginx_backends(2) as members,
        hydria_up(args.octet) as endpoint,
        httpx.Client(base_url=endpoint + "/v2", timeout=60) as c,
    ):
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        urls, vips = {}, {}
        for name, rules in (("plain", 0), ("l7", RULES)):
            r = c.post("/lbaas/loadbalancers", json=_body(subnet, members, name, rules))
            assert r.status_code == 201, r.text
            lb = r.json()["loadbalancer"]
            wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", timeout=120)
            vips[name] = lb["vip_address"]
            urls[name] = f"http://{vips[name]}/"
            wait_http(urls[name])
        rates = {"plain": 0.0, "l7": 0.0}
        done = {"plain": 0, "l7": 0}
        cpu = {"plain": 0.0, "l7": 0.0}
        for i in range(args.rounds):
            # alternate which goes first, so a drift in the machine's load favours neither
            for name in ("plain", "l7") if i % 2 == 0 else ("l7", "plain"):
                before = haproxy_cpu(vips[name])
                rps, requests = _wrk(urls[name], args.seconds, args.connections)
                used = haproxy_cpu(vips[name]) - before
                rates[name] += rps
                done[name] += requests
                cpu[name] += used
                print(
                    f"round {i + 1} {name:5s} {rps:10.0f} req/s   HAProxy "
                    f"{requests / max(used, 1e-9):10.0f} req per CPU second"
                )
        ratio = rates["l7"] / rates["plain"]
        if not (cpu["plain"] > 0 and cpu["l7"] > 0):
            raise SystemExit("HAProxy's CPU time was not found: the per-CPU figures would be void")
        per_cpu = (done["l7"] / max(cpu["l7"], 1e-9)) / (done["plain"] / max(cpu["plain"], 1e-9))
        print(f"load average (1, 5, 15 min): {os.getloadavg()}")
        print(
            f"ratio l7 ({RULES} rules) / plain, requests per second: {ratio:.3f}; "
            f"requests per HAProxy CPU second: {per_cpu:.3f} (target >= 0.9)"
        )


if __name__ == "__main__":
    main()
