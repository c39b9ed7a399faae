"""A burst of load balancer creates on one ``hydria up``: how long until all serve,
and does the controller keep its own leases meanwhile?

``--count`` load balancers are POSTed at once from ``--clients`` threads, each
fully populated (HTTP listener, pool, two members: one change each), then the
clock runs until every one is ACTIVE and, with the local driver, answers 200
through its VIP. Printed: time per load balancer over the whole burst, the
reconcile durations from the log, and how many times the controller logged
``event=lease_lost`` (a lease it held and failed to renew: the target is 0).

The baseline, taken in the same run, is the API alone: the same POSTs'
wall time, with no waiting for anything to converge. ``--driver noop`` measures
the control plane with no data plane behind it.

    .venv/bin/python bench/burst.py [--count 500] [--driver noop|local] [--rounds 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from _harness import backends, hydria_up, percentile

# Sustained pressure: a steady two-thread client against a 2-core machine would
# leave the controller idle half the time; several threads keep the API busy.
CLIENTS = 8


def post_all(
    endpoint: str, subnet_id: str, members: list[tuple[str, int]], count: int, clients: int
) -> tuple[list[dict], float]:
    body = {
        "vip_subnet_id": subnet_id,
        "listeners": [
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {
                    "name": "web",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": [{"address": h, "protocol_port": p} for h, p in members],
                },
            }
        ],
    }
    local = threading.local()

    def post(i: int) -> dict:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=endpoint + "/v2", timeout=120)
        res = local.c.post(
            "/lbaas/loadbalancers", json={"loadbalancer": {**body, "name": f"burst-{i}"}}
        )
        assert res.status_code == 201, res.text
        return dict(res.json()["loadbalancer"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lbs = list(pool.map(post, range(count)))
    return lbs, time.perf_counter() - t0


def wait_all_active(endpoint: str, ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=endpoint + "/v2", timeout=60) as c:
        while True:
            lbs = c.get("/lbaas/loadbalancers", params={"fields": "id,provisioning_status"}).json()[
                "loadbalancers"
            ]
            status = {lb["id"]: lb["provisioning_status"] for lb in lbs if lb["id"] in ids}
            bad = [i for i, s in status.items() if s == "ERROR"]
            if bad:
                raise RuntimeError(f"{len(bad)} went to ERROR")
            if sum(s == "ACTIVE" for s in status.values()) == len(ids):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids) - len(status)} not ACTIVE")
            time.sleep(0.1)


def wait_all_serving(lbs: list[dict], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    todo = [lb["vip_address"] for lb in lbs]
    with httpx.Client(timeout=2) as c:
        while todo:
            vip = todo[-1]
            try:
                if c.get(f"http://{vip}:80/").status_code == 200:
                    todo.pop()
                    continue
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(todo)} VIPs not serving")
            time.sleep(0.01)


def one_round(
    driver: str, count: int, clients: int, members: list[tuple[str, int]], env: dict[str, str]
) -> dict[str, float]:
    # a burst that fits a /24 keeps to one (HYDRIA_TEST_NET keeps two people's runs apart)
    with hydria_up(240 if count <= 230 else None, driver=driver, **env) as endpoint:
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        cpu0 = endpoint.cpu_seconds()
        t0 = time.perf_counter()
        lbs, posting = post_all(endpoint, subnet, members, count, clients)
        wait_all_active(endpoint, {lb["id"] for lb in lbs}, timeout=60 + count * 2.0)
        if driver != "noop":
            wait_all_serving(lbs, timeout=60 + count * 1.0)
        total = time.perf_counter() - t0
        cpu = endpoint.cpu_seconds() - cpu0
        log = endpoint.log_text()
    took = [float(t) for t in re.findall(r"event=reconciled .* took=([0-9.]+)s", log)]
    return {
        "per_lb": total / count,
        "cpu_per_lb": cpu / count,
        "post_per_lb": posting / count,
        "lease_lost": float(log.count("event=lease_lost")),
        "renew_failed": float(log.count("event=lease_renew_failed")),
        "reconcile_p95": percentile(took, 95) if took else 0.0,
        "reconcile_max": max(took, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--driver", default="noop")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for hydria up (repeatable)"
    )
    args = parser.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    rounds = []
    with backends(2) as members:
        for _ in range(args.rounds):
            rounds.append(one_round(args.driver, args.count, args.clients, members, env))
    for r in rounds:
        print(
            f"burst of {args.count} ({args.driver}): {r['per_lb'] * 1000:6.1f} ms per LB "
            f"until all {'ACTIVE' if args.driver == 'noop' else 'serving'} "
            f"(hydria up CPU {r['cpu_per_lb'] * 1000:.1f} ms per LB); "
            f"POSTs alone (baseline) {r['post_per_lb'] * 1000:5.1f} ms per LB, "
            f"ratio {r['per_lb'] / r['post_per_lb']:.2f}x; "
            f"reconcile p95 {r['reconcile_p95']:.2f} s max {r['reconcile_max']:.2f} s; "
            f"lease_lost {r['lease_lost']:.0f} renew_failed {r['renew_failed']:.0f}"
        )
    if len(rounds) > 1:
        per = [r["per_lb"] * 1000 for r in rounds]
        print(
            f"per LB over {len(rounds)} rounds: {min(per):.1f}-{max(per):.1f} ms "
            f"(median {statistics.median(per):.1f})"
        )


if __name__ == "__main__":
    main()
