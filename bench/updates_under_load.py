"""Changes under load: does a reload ever cost a keep-alive client a request?

wrk (keep-alive connections) runs through a load balancer's VIP while the load
balancer is changed ``--changes`` times (pool algorithm and listener timeout in
turn, each change waiting for ACTIVE as a client must: one HAProxy reload each).
Printed: requests, and wrk's socket errors (connect, read, write, timeout) and
non-2xx answers. The baseline, in the same run and under the same wrk, is a
hand-written master-worker HAProxy (``-W``, ``expose-fd listeners``) reloaded
with SIGUSR2 as many times at the pace the Hydria run had.

    .venv/bin/python bench/updates_under_load.py [--changes 100] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _harness import backends, build_http_lb, free_port, hydria_up, wait_http, wait_status


def wrk(url: str, seconds: float, connections: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def parse(out: str) -> dict[str, int]:
    got = {"requests": 0, "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    if m := re.search(r"(\d+) requests in", out):
        got["requests"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        got.update(
            connect=int(m.group(1)),
            read=int(m.group(2)),
            write=int(m.group(3)),
            timeout=int(m.group(4)),
        )
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        got["non2xx"] = int(m.group(1))
    return got


def hydria_run(
    members: list[tuple[str, int]], changes: int, connections: int
) -> tuple[dict[str, int], float]:
    with hydria_up(None) as endpoint, httpx.Client(base_url=endpoint + "/v2", timeout=60) as c:
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        lb = build_http_lb(c, subnet, members, "under-load")
        url = f"http://{lb['vip_address']}/"
        wait_http(url)
        path = f"/lbaas/loadbalancers/{lb['id']}"
        body = c.get(path).json()["loadbalancer"]
        listener = body["listeners"][0]["id"]
        pool = c.get(f"/lbaas/pools?loadbalancer_id={lb['id']}").json()["pools"][0]["id"]
        # wrk runs a fixed time: long enough for the changes (measured as they go)
        proc = wrk(url, 3600, connections)
        time.sleep(1)
        t0 = time.perf_counter()
        for i in range(changes):
            if i % 2:
                res = c.put(
                    f"/lbaas/pools/{pool}",
                    json={
                        "pool": {
                            "lb_algorithm": "LEAST_CONNECTIONS" if i % 4 == 1 else "ROUND_ROBIN"
                        }
                    },
                )
            else:
                res = c.put(
                    f"/lbaas/listeners/{listener}",
                    json={"listener": {"timeout_client_data": 50000 + i}},
                )
            assert res.status_code == 200, res.text
            wait_status(c, path, "loadbalancer")
        pace = (time.perf_counter() - t0) / changes
        time.sleep(1)
        proc.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        out, _ = proc.communicate(timeout=60)
    return parse(out), pace


def haproxy_run(
    members: list[tuple[str, int]], changes: int, connections: int, pace: float
) -> dict[str, int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg, sock = Path(tmp) / "haproxy.cfg", Path(tmp) / "stats.sock"
        servers = "\n".join(f"    server s{i} {h}:{p}" for i, (h, p) in enumerate(members))
        cfg.write_text(
            f"global\n    maxconn 4000\n    stats socket {sock} mode 600 level admin "
            "expose-fd listeners\n"
            "defaults\n    mode http\n    timeout connect 5s\n"
            "    timeout client 50s\n    timeout server 50s\n"
            f"frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n"
            f"backend b\n    balance roundrobin\n{servers}\n"
        )
        master = subprocess.Popen(["haproxy", "-W", "-q", "-f", str(cfg)])
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_http(url)
            proc = wrk(url, 3600, connections)
            time.sleep(1)
            for _ in range(changes):
                os.kill(master.pid, signal.SIGUSR2)
                time.sleep(pace)
            time.sleep(1)
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            master.terminate()
            master.wait(30)
    return parse(out)


def line(name: str, r: dict[str, int]) -> str:
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non2xx"]
    return (
        f"{name:<46} requests {r['requests']:>8}  errors {errors:>5} "
        f"(connect {r['connect']}, read {r['read']}, write {r['write']}, "
        f"timeout {r['timeout']}, non-2xx {r['non2xx']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with backends(2) as members:
        hyd, pace = hydria_run(members, args.changes, args.connections)
        base = haproxy_run(members, args.changes, args.connections, pace)
    print(line(f"hydria, {args.changes} changes ({pace:.2f} s apart)", hyd))
    print(line(f"bare master-worker haproxy, {args.changes} reloads (baseline)", base))
    if base["requests"] and hyd["requests"]:

        def rate(r: dict[str, int]) -> float:
            errors = sum(r[k] for k in ("connect", "read", "write", "timeout", "non2xx"))
            return errors / r["requests"] * 1e6

        print(f"errors per million requests: hydria {rate(hyd):.1f}, baseline {rate(base):.1f}")


if __name__ == "__main__":
    main()
