"""The API's read cost per request, this tree against another (main) in the same run.

Each round starts one worker process per tree (``PYTHONPATH`` puts that tree's
``hydria`` first), alternating baseline and subject. A worker fills a SQLite
file with 500 ACTIVE load balancers (each with a listener and a pool), serves
the real application in-process (FastAPI's test client: no sockets) and times:

- ``GET /v2/lbaas/loadbalancers?limit=1`` (a one-row page);
- ``GET /v2/lbaas/loadbalancers?limit=100``;
- ``GET /v2/lbaas/loadbalancers`` (all 500);
- ``GET /v2/lbaas/loadbalancers/{id}``;
- ``GET /v2/lbaas/pools?limit=100`` and ``GET /v2/lbaas/listeners?limit=100``.

Printed: CPU milliseconds per request for each tree (the process's CPU time,
all threads: on a shared, busy machine wall time mostly measures the others),
the median over rounds, the ratio baseline/subject (above 1: the subject is
faster) and the load average.

    .venv/bin/python bench/reads.py --baseline /tmp/main-tree [--rounds 3] [--requests 100]
    .venv/bin/python bench/reads.py --worker [--only NAME]   # one tree, this process
    --asgi: call the ASGI application directly (the server's own cost, no test client)
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import _trees

HERE = Path(__file__).resolve()
TREE = HERE.parent.parent
BASE = "/v2/lbaas"
LBS = 500
PATHS = {
    "list limit=1": f"{BASE}/loadbalancers?limit=1",
    "list limit=100": f"{BASE}/loadbalancers?limit=100",
    "list all 500": f"{BASE}/loadbalancers",
    "show": f"{BASE}/loadbalancers/{{lb_id}}",
    "pools limit=100": f"{BASE}/pools?limit=100",
    "listeners limit=100": f"{BASE}/listeners?limit=100",
}


def _fill(db: Any) -> None:
    """``LBS`` ACTIVE load balancers, each with an HTTP listener and its default pool."""
    from hydria.core import constants as c
    from hydria.db import models as m
    from hydria.db.subnets import ensure_default_subnet

    subnet = ensure_default_subnet(db, "public", "127.42.0.0/16")
    with db.session() as s:
        listeners = []
        for i in range(LBS):
            lb_id, pool_id = str(uuid.uuid4()), str(uuid.uuid4())
            common = {"project_id": c.DEFAULT_PROJECT_ID, "provisioning_status": c.ACTIVE}
            s.add(
                m.LoadBalancer(
                    id=lb_id,
                    name=f"lb-{i}",
                    operating_status=c.ONLINE,
                    topology=c.TOPOLOGY_SINGLE,
                    provider=c.PROVIDER_NAME,
                    vip_subnet_id=subnet.id,
                    vip_network_id=subnet.network_id,
                    vip_address=f"127.42.{i // 250}.{i % 250 + 2}",
                    vip_port_id=str(uuid.uuid4()),
                    tags=[],
                    **common,
                )
            )
            s.add(
                m.Pool(
                    id=pool_id,
                    load_balancer_id=lb_id,
                    protocol="HTTP",
                    lb_algorithm="ROUND_ROBIN",
                    operating_status=c.ONLINE,
                    tags=[],
                    **common,
                )
            )
            listeners.append(
                m.Listener(
                    id=str(uuid.uuid4()),
                    load_balancer_id=lb_id,
                    protocol="HTTP",
                    protocol_port=80,
                    default_pool_id=pool_id,
                    operating_status=c.ONLINE,
                    tags=[],
                    **common,
                )
            )
        s.flush()  # the pools first: a listener's default pool is a foreign key
        s.add_all(listeners)


async def _get(app: Any, path: str) -> tuple[int, bytes]:
    """One GET straight into the ASGI application: no client, no sockets."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _asgi_rates(app: Any, requests: int, only: str | None) -> dict[str, float]:
    status, body = await _get(app, f"{BASE}/loadbalancers?limit=1")
    lb_id = json.loads(body)["loadbalancers"][0]["id"]
    out: dict[str, float] = {}
    for name, template in PATHS.items():
        if only is not None and name != only:
            continue
        path = template.format(lb_id=lb_id)
        assert (await _get(app, path))[0] == 200  # warm-up
        n = max(1, requests // 10) if name == "list all 500" else requests
        start = time.process_time()
        for _ in range(n):
            await _get(app, path)
        out[name] = (time.process_time() - start) * 1000 / n
    return out


def worker(requests: int, only: str | None, asgi: bool = False) -> dict[str, float]:
    """CPU milliseconds per request for each path, on this process's ``hydria``."""
    from hydria.api.app import create_app
    from hydria.config import Settings
    from hydria.db.engine import Database
    from hydria.db.migrate import upgrade

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    class NoNotify:
        def notify(self, lb_id: str) -> None:
            pass

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'hydria.db'}")
        upgrade(db)
        _fill(db)
        app = create_app(db, NoNotify(), Settings(state_dir=Path(folder)))  # type: ignore[arg-type]
        if asgi:
            out = asyncio.run(_asgi_rates(app, requests, only))
            db.dispose()
            return out
        with TestClient(app) as client:
            lb_id = client.get(f"{BASE}/loadbalancers?limit=1").json()["loadbalancers"][0]["id"]
            for name, template in PATHS.items():
                if only is not None and name != only:
                    continue
                path = template.format(lb_id=lb_id)
                assert client.get(path).status_code == 200  # warm-up
                n = max(1, requests // 10) if name == "list all 500" else requests
                start = time.process_time()
                for _ in range(n):
                    client.get(path)
                out[name] = (time.process_time() - start) * 1000 / n
        db.dispose()
    return out


def main() -> None:
    parser = _trees.parser(__doc__.splitlines()[0], 100, "per path and round")
    parser.add_argument("--only", choices=list(PATHS), help="with --worker: one path only")
    parser.add_argument(
        "--asgi", action="store_true", help="call the ASGI app directly (no test client)"
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.requests, args.only, args.asgi)))
        return
    checkouts = _trees.trees(args.baseline, TREE)
    flags = ["--requests", str(args.requests)] + (["--asgi"] if args.asgi else [])
    samples, loads = _trees.rounds(HERE, checkouts, args.rounds, flags)
    how = "ASGI app called directly" if args.asgi else "FastAPI test client"
    print(
        f"{LBS} load balancers, SQLite, in-process ({how}); CPU ms per request (median of {args.rounds})"
    )
    _trees.print_medians(samples, PATHS, 22, loads)


if __name__ == "__main__":
    main()
