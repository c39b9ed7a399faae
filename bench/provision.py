"""How fast does a new load balancer serve?

Measures, over N load balancers, the time from ``POST /loadbalancers`` (then a
listener, a pool and two members, each created as soon as the API accepts it)
to the first 200 through the VIP. The baseline, taken in the same run, is the
time HAProxy alone needs from ``exec`` to its first 200 with an equivalent
configuration written by hand: the floor any load balancer service has.

    .venv/bin/python bench/provision.py [--count 20]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _harness import backends, free_port, hydria_up, percentile, summary, wait_http, wait_status


def haproxy_alone(members: list[tuple[str, int]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "haproxy.cfg"
            servers = "\n".join(f"    server s{i} {h}:{p}" for i, (h, p) in enumerate(members))
            cfg.write_text(
                "global\n    maxconn 1000\ndefaults\n    mode http\n    timeout connect 5s\n"
                "    timeout client 50s\n    timeout server 50s\n"
                f"frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n"
                f"backend b\n    balance roundrobin\n{servers}\n")
            t0 = time.perf_counter()
            proc = subprocess.Popen(["haproxy", "-W", "-f", str(cfg)])
            try:
                wait_http(f"http://127.0.0.1:{port}/")
                times.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait()
    return times


def one_load_balancer(client: httpx.Client, subnet_id: str, members: list[tuple[str, int]],
                      i: int) -> float:
    t0 = time.perf_counter()
    lb = client.post("/lbaas/loadbalancers", json={"loadbalancer": {
        "name": f"bench-{i}", "vip_subnet_id": subnet_id}}).json()["loadbalancer"]
    lb_path = f"/lbaas/loadbalancers/{lb['id']}"
    wait_status(client, lb_path, "loadbalancer")
    listener = client.post("/lbaas/listeners", json={"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}}).json()["listener"]
    wait_status(client, lb_path, "loadbalancer")
    pool = client.post("/lbaas/pools", json={"pool": {
        "listener_id": listener["id"], "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]
    wait_status(client, lb_path, "loadbalancer")
    for host, port in members:
        res = client.post(f"/lbaas/pools/{pool['id']}/members", json={"member": {
            "address": host, "protocol_port": port}})
        assert res.status_code == 201, res.text
        wait_status(client, lb_path, "loadbalancer")
    wait_http(f"http://{lb['vip_address']}:80/")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    with backends(2) as members:
        baseline = haproxy_alone(members, args.count)
        with hydria_up() as endpoint, httpx.Client(base_url=endpoint + "/v2", timeout=30) as c:
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            samples = [one_load_balancer(c, subnet["id"], members, i) for i in range(args.count)]
            for lb in c.get("/lbaas/loadbalancers").json()["loadbalancers"]:
                c.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
    print(f"haproxy start alone (baseline):      {summary(baseline)}")
    print(f"hydria POST LB -> first 200 via VIP: {summary(samples)}")
    print(f"ratio p50 {percentile(samples, 50) / percentile(baseline, 50):.1f}x   "
          f"ratio p95 {percentile(samples, 95) / percentile(baseline, 95):.1f}x")


if __name__ == "__main__":
    main()
