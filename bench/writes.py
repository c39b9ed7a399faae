"""The API's cost of a member write, this tree against another (main) in the same run.

Each round starts one worker process per tree (``PYTHONPATH`` puts that tree's
``hydria`` first), alternating baseline and subject. A worker fills a SQLite
file as ``bench/reads.py`` does (500 ACTIVE load balancers, each with a
listener and a pool), calls the real application's ASGI callable directly (no
client, no sockets) and times, on one load balancer after another:

- ``POST /v2/lbaas/pools/{pool}/members`` (a new member of an ACTIVE pool);
- ``DELETE /v2/lbaas/pools/{pool}/members/{member}``.

Between two writes the controller's part is played without timing it (the
pending rows settled with ``mark_converged``), so only the request path, up to
the commit that makes the write durable, is measured: what a client waits for
before its 201 or 204. Printed as ``bench/reads.py`` prints: CPU milliseconds
per request (all threads), the median over rounds, the ratio baseline/subject
and the load average.

``--cycle`` times the whole of a member change instead, as ``bench/run``'s member
row makes it but one at a time: the real controller loop (no-op drivers) runs
in a thread beside the application, on 8 load balancers, and each pair is POST,
GET the load balancer until ACTIVE (the GET waits for the settle), DELETE, GET
until ACTIVE; the figure is CPU milliseconds per pair, every thread's.

    .venv/bin/python bench/writes.py --baseline /tmp/main-tree [--rounds 3] [--requests 200]
    .venv/bin/python bench/writes.py --cycle --baseline /tmp/main-tree
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _trees
from reads import BASE, _fill, _get

HERE = Path(__file__).resolve()
TREE = HERE.parent.parent
NAMES = ("member POST", "member DELETE")
CYCLE = ("member pair, API + controller",)


async def _send(app: Any, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request straight into the ASGI application."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _rates(app: Any, db: Any, requests: int) -> dict[str, float]:
    from sqlalchemy import select

    from hydria.db.convergence import mark_converged
    from hydria.db.models import LoadBalancer

    status, raw = await _get(app, f"{BASE}/pools?limit=100")
    pools = [(p["id"], p["loadbalancers"][0]["id"]) for p in json.loads(raw)["pools"]]

    def settle(lb_id: str) -> None:
        with db.session() as s:
            generation = s.scalar(select(LoadBalancer.generation).where(LoadBalancer.id == lb_id))
            assert mark_converged(s, lb_id, generation)

    spent = {name: 0.0 for name in NAMES}
    for i in range(requests + 1):  # the first pair warms up
        pool_id, lb_id = pools[i % len(pools)]
        body = json.dumps({"member": {"address": "192.0.2.10", "protocol_port": 1000 + i}})
        t0 = time.process_time()
        status, raw = await _send(app, "POST", f"{BASE}/pools/{pool_id}/members", body.encode())
        t1 = time.process_time()
        assert status == 201, raw
        settle(lb_id)
        member = json.loads(raw)["member"]["id"]
        t2 = time.process_time()
        status, raw = await _send(app, "DELETE", f"{BASE}/pools/{pool_id}/members/{member}")
        t3 = time.process_time()
        assert status == 204, raw
        settle(lb_id)
        if i:
            spent["member POST"] += t1 - t0
            spent["member DELETE"] += t3 - t2
    return {name: ms * 1000 / requests for name, ms in spent.items()}


async def _cycle(app: Any, requests: int) -> dict[str, float]:
    status, raw = await _get(app, f"{BASE}/pools?limit=100")
    pools = [(p["id"], p["loadbalancers"][0]["id"]) for p in json.loads(raw)["pools"]]

    async def active(lb_id: str) -> None:
        while True:
            status, raw = await _get(app, f"{BASE}/loadbalancers/{lb_id}")
            state = json.loads(raw)["loadbalancer"]["provisioning_status"]
            if state == "ACTIVE":
                return
            assert state.startswith("PENDING_"), state

    start = 0.0
    for i in range(requests + 1):  # the first pair warms up
        if i == 1:
            start = time.process_time()
        pool_id, lb_id = pools[i % len(pools)]
        body = json.dumps({"member": {"address": "192.0.2.10", "protocol_port": 1000 + i}})
        status, raw = await _send(app, "POST", f"{BASE}/pools/{pool_id}/members", body.encode())
        assert status == 201, raw
        await active(lb_id)
        member = json.loads(raw)["member"]["id"]
        status, raw = await _send(app, "DELETE", f"{BASE}/pools/{pool_id}/members/{member}")
        assert status == 204, raw
        await active(lb_id)
    return {CYCLE[0]: (time.process_time() - start) * 1000 / requests}


def cycle_worker(requests: int) -> dict[str, float]:
    """CPU milliseconds per member pair, API and controller, on this process's ``hydria``."""
    import threading

    import reads

    from hydria.cli import wiring
    from hydria.config import Settings
    from hydria.db.engine import Database
    from hydria.db.migrate import upgrade
    from hydria.db.notify import InProcessNotifier
    from hydria.db.settle import SettleBoard
    from hydria.drivers.compute.noop import NoopCompute

    warnings.simplefilter("ignore")
    reads.LBS = 8
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'hydria.db'}")
        upgrade(db)
        _fill(db)
        settings = Settings(
            state_dir=Path(folder),
            compute_driver="noop",
            network_driver="noop",
            heartbeat_key="k" * 64,
        )
        notifier, settle = InProcessNotifier(), SettleBoard()
        loop = wiring.controller_loop(
            settings, db, notifier=notifier, compute_driver=NoopCompute(), settle=settle
        )
        stop = threading.Event()
        runner = threading.Thread(target=loop.run, args=(stop,))
        runner.start()
        try:
            time.sleep(1.0)  # the start-up resync of the 8 load balancers
            assert loop.drain(60)
            app = wiring.api_app(settings, db, notifier, settle=settle)
            out = asyncio.run(_cycle(app, requests))
        finally:
            stop.set()
            notifier.notify("")
            runner.join(60)
            db.dispose()
    return out


def worker(requests: int) -> dict[str, float]:
    """CPU milliseconds per member write, on this process's ``hydria``."""
    from hydria.api.app import create_app
    from hydria.config import Settings
    from hydria.db.engine import Database
    from hydria.db.migrate import upgrade

    warnings.simplefilter("ignore")

    class NoNotify:
        def notify(self, lb_id: str) -> None:
            pass

    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'hydria.db'}")
        upgrade(db)
        _fill(db)
        app = create_app(db, NoNotify(), Settings(state_dir=Path(folder)))  # type: ignore[arg-type]
        out = asyncio.run(_rates(app, db, requests))
        db.dispose()
    return out


def main() -> None:
    parser = _trees.parser(__doc__.splitlines()[0], 200, "member pairs per round")
    parser.add_argument("--cycle", action="store_true", help="whole pairs, with the controller")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps((cycle_worker if args.cycle else worker)(args.requests)))
        return
    checkouts = _trees.trees(args.baseline, TREE)
    flags = ["--requests", str(args.requests)] + (["--cycle"] if args.cycle else [])
    samples, loads = _trees.rounds(HERE, checkouts, args.rounds, flags)
    print(f"member writes, SQLite, ASGI app called directly; CPU ms (median of {args.rounds})")
    _trees.print_medians(samples, CYCLE if args.cycle else NAMES, 30, loads)


if __name__ == "__main__":
    main()
