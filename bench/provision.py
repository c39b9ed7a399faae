"""How fast does a new load balancer serve?

Measures, over N load balancers, the time from ``POST /loadbalancers`` (then a
listener, a pool and two members, each created as soon as the load balancer is
ACTIVE again, as a client must: five converged changes) to the first 200
through the VIP; and the same load balancer as one fully populated ``POST``
(one change, as Kubernetes' cloud-provider-openstack sends it). The baseline, taken in the same run, is the
time HAProxy alone needs from ``exec`` to its first 200 with an equivalent
configuration written by hand (with the agent's ``BASE_CONFIG`` tuning, so
the floor is HAProxy's best): the floor any load balancer service has.

Hydria runs twice: booting each amphora on demand, then with a warm spare pool
(``spare_amphora_pool_size``), waiting before each create until it has refilled.

The client waits for ACTIVE as real clients do: a GET at once after each write,
then one every ``--poll`` seconds while it is PENDING_*. The default, 2 s, is
openstacksdk's ``wait_for_status`` (``interval=2``); ``openstack ... --wait``
sleeps 3 s (octaviaclient's ``wait_for_active``); ``--poll 0.02`` is a brisk
client of our own, closer to the convergence time itself. Each step's time
(its POST to ACTIVE seen) and how often its first GET already saw ACTIVE are
printed too.

    .venv/bin/python bench/provision.py [--count 20] [--spares 2] [--poll 2]
    .venv/bin/python bench/provision.py --driver netns [--count 20]   (root: see _netns.py)

With ``--against CHECKOUT`` (another worktree, e.g. /work/main, with its own
``.venv``) the other checkout is the baseline: rounds alternate between it and
this one (warm spares, both drivers' paths as above), each round printed with
the machine's load, then the ratio of this checkout's p50 and p95 to it.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _harness import (
    backends,
    build_http_lb,
    free_port,
    hydria_up,
    load,
    percentile,
    summary,
    wait_http,
    wait_status,
)


def haproxy_alone(members: list[tuple[str, int]], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "haproxy.cfg"
            servers = "\n".join(f"    server s{i} {h}:{p}" for i, (h, p) in enumerate(members))
            cfg.write_text(
                "global\n    maxconn 1000\n    httpclient.ssl.verify none\ndefaults\n    mode http\n    timeout connect 5s\n"
                "    timeout client 50s\n    timeout server 50s\n"
                f"frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n"
                f"backend b\n    balance roundrobin\n{servers}\n"
            )
            t0 = time.perf_counter()
            proc = subprocess.Popen(["haproxy", "-W", "-f", str(cfg)])
            try:
                wait_http(f"http://127.0.0.1:{port}/")
                times.append(time.perf_counter() - t0)
            finally:
                proc.terminate()
                proc.wait()
    return times


# what each step of the five took: (step, seconds, GETs until ACTIVE was seen)
STEPS: list[tuple[str, float, int]] = []
POLL = 2.0  # openstacksdk's wait_for_status interval (main() sets --poll)


def one_load_balancer(
    client: httpx.Client, subnet_id: str, members: list[tuple[str, int]], i: int
) -> float:
    t0 = time.perf_counter()
    lb = build_http_lb(client, subnet_id, members, f"bench-{i}", interval=POLL, steps=STEPS)
    t1 = time.perf_counter()
    wait_http(f"http://{lb['vip_address']}:80/")
    STEPS.append(("first 200 via VIP", time.perf_counter() - t1, 1))
    return time.perf_counter() - t0


def step_table(steps: list[tuple[str, float, int]]) -> None:
    """Each step's p50/p95 and how often the client's first GET saw ACTIVE."""
    for name in dict.fromkeys(s[0] for s in steps):
        taken = [t for n, t, _ in steps if n == name]
        first = sum(1 for n, _, polls in steps if n == name and polls == 1)
        print(f"    {name:>18}: {summary(taken)}   first GET saw ACTIVE {first}/{len(taken)}")


def one_populated_load_balancer(
    client: httpx.Client, subnet_id: str, members: list[tuple[str, int]], i: int
) -> float:
    t0 = time.perf_counter()
    res = client.post(
        "/lbaas/loadbalancers",
        json={
            "loadbalancer": {
                "name": f"bench-graph-{i}",
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
        },
    )
    assert res.status_code == 201, res.text
    lb = res.json()["loadbalancer"]
    wait_status(client, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", interval=POLL)
    wait_http(f"http://{lb['vip_address']}:80/")
    return time.perf_counter() - t0


def run_hydria(
    members: list[tuple[str, int]], count: int, spares: int, bin_dir: Path | None = None
) -> tuple[list[float], list[float]]:
    """(step by step, fully populated) samples from one ``hydria up``."""
    env = {"HYDRIA_SPARE_AMPHORA_POOL_SIZE": str(spares)}
    with (
        hydria_up(bin_dir=bin_dir, **env) as endpoint,
        httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
    ):
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        steps, graphs = [], []
        for i in range(count):
            if spares:
                wait_spares(c, spares)  # steady state: the pool has refilled
            steps.append(one_load_balancer(c, subnet["id"], members, i))
        for lb in c.get("/lbaas/loadbalancers").json()["loadbalancers"]:
            c.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
        for i in range(count):
            if spares:
                wait_spares(c, spares)
            graphs.append(one_populated_load_balancer(c, subnet["id"], members, i))
        for lb in c.get("/lbaas/loadbalancers").json()["loadbalancers"]:
            c.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
    return steps, graphs


def wait_spares(c: httpx.Client, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        amps = c.get("/octavia/amphorae", params={"status": "READY"}).json()["amphorae"]
        if len([a for a in amps if a["loadbalancer_id"] is None]) >= count:
            return
        time.sleep(0.05)
    raise TimeoutError("spare pool did not fill")


STEPS_BY_SIDE: dict[str, list[tuple[str, float, int]]] = {}


def against(
    members: list[tuple[str, int]], other: Path, count: int, spares: int, rounds: int
) -> None:
    """This checkout against ``other``, alternating, warm spares on both."""
    sides = {f"baseline {other}": other / ".venv" / "bin", "this checkout": None}
    taken: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in sides}
    for r in range(rounds):
        for name, bin_dir in sides.items():
            STEPS.clear()
            steps, graphs = run_hydria(members, count, spares, bin_dir)
            STEPS_BY_SIDE.setdefault(name, []).extend(STEPS)
            taken[name][0].extend(steps)
            taken[name][1].extend(graphs)
            print(
                f"round {r + 1}/{rounds} {name}: 5 steps {summary(steps)} | "
                f"1 POST {summary(graphs)}   ({load()})",
                flush=True,
            )
    for name in sides:
        print(f"  steps of the five, {name}:")
        step_table(STEPS_BY_SIDE[name])
    base, mine = taken[f"baseline {other}"], taken["this checkout"]
    for i, what in enumerate(("5 steps", "1 POST")):
        for name, samples in taken.items():
            print(f"{what:>7}, {spares} spare(s), {name:>40}: {summary(samples[i])}")
        print(
            f"{what:>7}: this checkout / baseline: "
            f"p50 {percentile(mine[i], 50) / percentile(base[i], 50):.2f}x "
            f"p95 {percentile(mine[i], 95) / percentile(base[i], 95):.2f}x   ({load()})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument(
        "--spares",
        type=int,
        default=2,
        help="spare pool size for the second Hydria run (0 skips it)",
    )
    parser.add_argument(
        "--driver",
        choices=["local", "netns"],
        default="local",
        help="netns: namespaces against local in the same run, and the memory of an idle amphora",
    )
    parser.add_argument(
        "--warm-only",
        action="store_true",
        help="skip the run without spares (the target is with spares)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout (with its .venv) as the baseline, rounds alternating",
    )
    parser.add_argument("--rounds", type=int, default=2, help="with --against")
    parser.add_argument(
        "--poll",
        type=float,
        default=2.0,
        help="seconds between a client's GETs while PENDING_* (first GET at once): "
        "2 = openstacksdk's wait_for_status, 3 = the CLI's --wait",
    )
    args = parser.parse_args()
    global POLL
    POLL = args.poll
    print(
        f"client: GET at once after each write, then every {POLL:g} s while PENDING_*   ({load()})"
    )
    if args.driver == "netns":
        from _netns import compare

        compare(args.count, spares=args.spares, against=args.against, rounds=args.rounds)
        return
    if args.against:
        with backends(2) as members:
            against(members, args.against, args.count, max(args.spares, 1), args.rounds)
        return
    with backends(2) as members:
        baseline = haproxy_alone(members, args.count)
        cold = ([], []) if args.warm_only else run_hydria(members, args.count, 0)
        warm = run_hydria(members, args.count, args.spares) if args.spares else ([], [])
    print(f"haproxy start alone (baseline):                        {summary(baseline)}")
    print(f"  steps of the five (all runs above, {load()}):")
    step_table(STEPS)
    spared = f"{args.spares} spare(s)"
    for name, samples in (
        ("5 steps, no spares", cold[0]),
        (f"5 steps, {spared}", warm[0]),
        ("1 POST, no spares", cold[1]),
        (f"1 POST, {spared}", warm[1]),
    ):
        if not samples:
            continue
        print(
            f"hydria -> first 200 via VIP, {name:>20}: {summary(samples)}   "
            f"ratio p50 {percentile(samples, 50) / percentile(baseline, 50):.1f}x "
            f"p95 {percentile(samples, 95) / percentile(baseline, 95):.1f}x"
        )


if __name__ == "__main__":
    main()
