"""The whole table of issue 18 in one run: Hydria beside the real Octavia 19 API.

Both sides get the same client and the same rows: ``--lbs`` load balancers
created in a burst (8 client threads, each POST as soon as the last answered),
then reads (GET one, GET the list, GET a page of 100) and member writes (POST
then DELETE of a member on 8 load balancers in parallel, each waiting for
ACTIVE as a client must). Hydria runs ``hydria up --driver noop`` (SQLite, the
whole control plane, no data plane), Octavia 19 its API (noauth, under gunicorn
with one worker per core as Octavia recommends: ``bench/octavia/wsgi_app.py``)
and ``octavia-worker`` with the amphora provider's no-op compute, network and
amphora drivers (MariaDB, RabbitMQ; set up by ``bench/octavia/setup``). Each
figure is taken ``--rounds`` times, the two sides alternating, and printed as
the range over the rounds and the ratio Hydria/Octavia of each round (for rates
higher is better for Hydria; for times per load balancer it is Octavia/Hydria,
so above 1 always means Hydria is ahead).

If Octavia cannot run here the reason is printed and Hydria's side is shown
against its own baselines (the burst's POSTs alone, and GET / of the API).

    bench/run [--lbs 500] [--rounds 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _harness import hydria_up

HERE = Path(__file__).resolve().parent
OCTAVIA_DIR = Path(os.environ.get("OCTAVIA_BENCH_DIR", HERE / ".octavia"))
OCTAVIA_PORT = int(os.environ.get("OCTAVIA_BENCH_PORT", "19876"))
CLIENTS = 8


class Side:
    """One API under test: its base URL and the subnet its VIPs come from."""

    def __init__(self, name: str, base: str, subnet_id: str) -> None:
        self.name, self.base, self.subnet_id = name, base, subnet_id
        self.lbs: list[str] = []
        self.pools: list[str] = []


# -- sides -----------------------------------------------------------------------


@contextlib.contextmanager
def octavia() -> Iterator[Side]:
    conf = OCTAVIA_DIR / "octavia.conf"
    venv = OCTAVIA_DIR / "venv" / "bin"
    if not (venv / "gunicorn").exists() or not conf.exists():
        raise RuntimeError(f"Octavia 19 is not set up in {OCTAVIA_DIR}: run bench/octavia/setup")
    subprocess.run(
        [str(HERE / "octavia" / "setup")],
        check=True,
        capture_output=True,
        env={**os.environ, "OCTAVIA_BENCH_DIR": str(OCTAVIA_DIR)},
    )  # a fresh db
    # its local certificate generator reads the CA from the environment, not the file
    env = {
        **os.environ,
        "OS_OCTAVIA_TLS_CA_CERT": str(OCTAVIA_DIR / "ca.pem"),
        "OS_OCTAVIA_TLS_CA_KEY": str(OCTAVIA_DIR / "ca.key"),
    }
    api = [
        str(venv / "gunicorn"),
        f"--workers={os.cpu_count() or 1}",
        f"--bind=127.0.0.1:{OCTAVIA_PORT}",
        f"--chdir={HERE / 'octavia'}",
        "--backlog=256",
        "wsgi_app:application",
    ]
    worker = [str(venv / "octavia-worker"), "--config-file", str(conf)]
    procs = [
        subprocess.Popen(
            cmd,
            env={**env, "OCTAVIA_BENCH_CONF": str(conf)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for cmd in (api, worker)
    ]
    base = f"http://127.0.0.1:{OCTAVIA_PORT}"
    try:
        deadline = time.monotonic() + 180  # its imports take a while on a busy machine
        while True:
            try:
                if httpx.get(base + "/v2/lbaas/loadbalancers", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"octavia-api did not answer (see its log in {OCTAVIA_DIR})")
            time.sleep(0.5)
        time.sleep(3)  # the worker connects to RabbitMQ after the API answers
        # the no-op network driver accepts any subnet id
        yield Side("octavia", base, str(uuid.uuid4()))
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@contextlib.contextmanager
def hydria() -> Iterator[Side]:
    with hydria_up(None, driver="noop", HYDRIA_POLL_INTERVAL="0.5") as endpoint:
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        yield Side("hydria", str(endpoint), subnet)


# -- the client -------------------------------------------------------------------


def client(side: Side) -> httpx.Client:
    return httpx.Client(base_url=side.base + "/v2", timeout=120, headers={"X-Project-Id": "bench"})


def wait_active(c: httpx.Client, lb_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = c.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"][
            "provisioning_status"
        ]
        if status == "ACTIVE":
            return
        if status == "ERROR" or time.monotonic() > deadline:
            raise RuntimeError(f"{lb_id}: {status}")
        time.sleep(0.05)


def burst(side: Side, count: int) -> float:
    """Seconds per load balancer from the first POST until all are ACTIVE."""
    local = threading.local()

    def post(i: int) -> str:
        if not hasattr(local, "c"):
            local.c = client(side)
        res = local.c.post(
            "/lbaas/loadbalancers",
            json={
                "loadbalancer": {
                    "name": f"bench-{i}",
                    "vip_subnet_id": side.subnet_id,
                    "project_id": "bench",
                }
            },
        )
        assert res.status_code == 201, res.text
        return str(res.json()["loadbalancer"]["id"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        ids = list(pool.map(post, range(count)))
    with client(side) as c:
        deadline = time.monotonic() + 60 + count * 3
        while True:
            lbs = c.get("/lbaas/loadbalancers").json()["loadbalancers"]
            active = {lb["id"] for lb in lbs if lb["provisioning_status"] == "ACTIVE"}
            if set(ids) <= active:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{side.name}: {len(set(ids) - active)} not ACTIVE")
            time.sleep(0.2)
    side.lbs = ids
    return (time.perf_counter() - t0) / count


def add_pools(side: Side, n: int) -> None:
    """A listener and a pool on ``n`` load balancers, for the member writes."""
    with client(side) as c:
        for lb_id in side.lbs[:n]:
            res = c.post(
                "/lbaas/listeners",
                json={
                    "listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}
                },
            )
            assert res.status_code == 201, res.text
            listener = res.json()["listener"]["id"]
            wait_active(c, lb_id)
            res = c.post(
                "/lbaas/pools",
                json={
                    "pool": {
                        "listener_id": listener,
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                    }
                },
            )
            assert res.status_code == 201, res.text
            side.pools.append(res.json()["pool"]["id"])
            wait_active(c, lb_id)


def rate(side: Side, path: str, seconds: float) -> float:
    """Requests per second of one client sending ``GET path`` back to back."""
    with client(side) as c:
        assert c.get(path).status_code == 200
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            res = c.get(path)
            assert res.status_code == 200, res.text
            n += 1
        return n / (time.perf_counter() - t0)


def member_writes(side: Side, seconds: float) -> float:
    """Member POST+DELETE pairs per second over 8 load balancers in parallel."""
    done = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def one(k: int) -> None:
        lb_id, pool = side.lbs[k], side.pools[k]
        with client(side) as c:
            port = 1000
            while True:  # one pair at least: a slow side still gets a figure
                port += 1
                res = c.post(
                    f"/lbaas/pools/{pool}/members",
                    json={"member": {"address": "192.0.2.10", "protocol_port": port}},
                )
                assert res.status_code == 201, res.text
                wait_active(c, lb_id)
                res = c.delete(f"/lbaas/pools/{pool}/members/{res.json()['member']['id']}")
                assert res.status_code == 204, res.text
                wait_active(c, lb_id)
                with lock:
                    done[0] += 1
                if time.perf_counter() >= stop:
                    return

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(side.pools)) as pool:
        list(pool.map(one, range(len(side.pools))))
    return done[0] / (time.perf_counter() - t0)


def measure(side: Side, lbs: int, seconds: float) -> dict[str, float]:
    out = {"burst": burst(side, lbs)}
    add_pools(side, 8)
    one = side.lbs[len(side.lbs) // 2]
    out["get_one"] = rate(side, f"/lbaas/loadbalancers/{one}", seconds)
    out["get_list"] = rate(side, "/lbaas/loadbalancers", seconds)
    out["get_page"] = rate(side, "/lbaas/loadbalancers?limit=100", seconds)
    out["members"] = member_writes(side, seconds * 2)
    # GET /v2 (the version root): the cheapest answer the API gives, a baseline
    out["root"] = rate(side, side.base + "/v2", seconds / 2) if side.name == "hydria" else 0.0
    return out


ROWS: list[tuple[str, str, str, Callable[[float], str]]] = [
    ("get_one", "GET one LB", "req/s", lambda v: f"{v:.0f}"),
    ("get_list", "GET list of all LBs", "req/s", lambda v: f"{v:.1f}"),
    ("get_page", "GET list, limit=100", "req/s", lambda v: f"{v:.1f}"),
    ("members", "member POST+DELETE, 8 LBs in parallel", "/s", lambda v: f"{v:.1f}"),
    ("burst", "burst of LB creates until all ACTIVE", "ms/LB", lambda v: f"{v * 1000:.0f}"),
]


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    return fmt(min(values)) if len(values) == 1 else f"{fmt(min(values))}-{fmt(max(values))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lbs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--no-octavia", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"hydria": [], "octavia": []}
    why_not = "skipped (--no-octavia)" if args.no_octavia else ""
    for r in range(args.rounds):
        with hydria() as side:
            results["hydria"].append(measure(side, args.lbs, args.seconds))
        if not why_not:
            try:
                with octavia() as side:
                    results["octavia"].append(measure(side, args.lbs, args.seconds))
            except Exception as exc:  # say exactly why, and go on with Hydria alone
                why_not = f"{type(exc).__name__}: {exc}"
        # each round's figures as soon as they are taken: a long run cut short keeps them
        for name, taken in results.items():
            if len(taken) > r:
                figures = " ".join(f"{k}={v:.3g}" for k, v in taken[r].items())
                print(f"round {r + 1}/{args.rounds} {name}: {figures}", flush=True)
    h, o = results["hydria"], results["octavia"]
    print(
        f"\n{args.lbs} load balancers, {args.rounds} round(s), same client; "
        "Hydria: hydria up --driver noop (SQLite); Octavia 19: API (gunicorn, "
        f"{os.cpu_count()} workers) + worker, no-op drivers (MariaDB)"
    )
    if o and len(o) == len(h):
        print("| figure | Octavia 19 | Hydria | Hydria ahead by |\n| --- | --- | --- | --- |")
        for key, name, unit, fmt in ROWS:
            if key == "burst":  # a time: less is better
                ratios = [b[key] / a[key] for a, b in zip(h, o, strict=True)]
            else:
                ratios = [a[key] / b[key] for a, b in zip(h, o, strict=True)]
            print(
                f"| {name} ({unit}) | {spread([x[key] for x in o], fmt)} | "
                f"{spread([x[key] for x in h], fmt)} | {spread(ratios, lambda v: f'{v:.2f}')}x |"
            )
    else:
        print(f"Octavia 19 not measured: {why_not}")
        print("| figure | Hydria | baseline (same run) | ratio |\n| --- | --- | --- | --- |")
        for key, name, unit, fmt in ROWS:
            base = [x["root"] for x in h]
            ratios = [x[key] / x["root"] for x in h] if key != "burst" else []
            label = "GET /v2 of the API" if key != "burst" else "-"
            print(
                f"| {name} ({unit}) | {spread([x[key] for x in h], fmt)} | "
                f"{label + ' ' + spread(base, fmt) if ratios else '-'} | "
                f"{spread(ratios, lambda v: f'{v:.2f}') + 'x' if ratios else '-'} |"
            )


if __name__ == "__main__":
    main()
