"""The API's own cost: a page of load balancers at 1,000 and 10,000 rows, a show, a member POST.

Rows are written straight through the database layer (no amphorae, no
controller), then the real application answers in-process (FastAPI's test
client: no sockets, so the figures are the API and its queries). For each
database (SQLite file; PostgreSQL when it answers):

- ``GET /v2/lbaas/loadbalancers?limit=100`` over 1,000 and over 10,000 load
  balancers (the first page, and a page in the middle through its marker);
- ``GET /v2/lbaas/loadbalancers/{id}``;
- ``POST /v2/lbaas/pools/{id}/members`` (each to another load balancer's pool,
  which the POST moves to PENDING_UPDATE).

Printed: requests per second (the median of alternating rounds, so that a busy
machine slows both sizes alike), and the ratio of the limit=100 page's time at
10,000 rows to the same page at 1,000 (the baseline, same run): keyset paging
keeps it near 1.

    .venv/bin/python bench/api.py [--requests 50] [--rounds 5] [--members 200] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.db.migrate import upgrade
from hydria.db.subnets import ensure_default_subnet

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BASE = "/v2/lbaas"


class NoNotify:
    def notify(self, lb_id: str) -> None:
        pass


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'hydria.db'}"


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    name = f"hydria_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def add_load_balancers(db: Database, subnet: Any, count: int, *, with_pools: int = 0) -> None:
    """``count`` ACTIVE load balancers (the first ``with_pools`` with a pool), in bulk."""
    with db.session() as s:
        for i in range(count):
            lb_id = str(uuid.uuid4())
            s.add(
                m.LoadBalancer(
                    id=lb_id,
                    project_id=c.DEFAULT_PROJECT_ID,
                    name=f"lb-{i}",
                    provisioning_status=c.ACTIVE,
                    operating_status=c.ONLINE,
                    topology=c.TOPOLOGY_SINGLE,
                    provider=c.PROVIDER_NAME,
                    vip_subnet_id=subnet.id,
                    vip_network_id=subnet.network_id,
                    vip_address=f"127.42.{i // 250}.{i % 250 + 2}",
                    vip_port_id=str(uuid.uuid4()),
                    tags=[],
                )
            )
            if i < with_pools:
                s.add(
                    m.Pool(
                        id=str(uuid.uuid4()),
                        project_id=c.DEFAULT_PROJECT_ID,
                        load_balancer_id=lb_id,
                        protocol="HTTP",
                        lb_algorithm="ROUND_ROBIN",
                        provisioning_status=c.ACTIVE,
                        operating_status=c.ONLINE,
                        tags=[],
                    )
                )
            if i % 1000 == 999:
                s.flush()


def rate(n: int, call: Callable[[int], Any]) -> float:
    call(n)  # warm-up, on an index the timed calls do not use
    start = time.perf_counter()
    for i in range(n):
        call(i)
    return n / (time.perf_counter() - start)


@contextlib.contextmanager
def serving(url: str, size: int, members: int) -> Iterator[tuple[TestClient, Database]]:
    """An app on a fresh database holding ``size`` load balancers."""
    db = Database(url)
    upgrade(db)
    subnet = ensure_default_subnet(db, "public", "127.42.0.0/16")
    add_load_balancers(db, subnet, size, with_pools=members + 1)
    settings = Settings(state_dir=Path(tempfile.gettempdir()))
    try:
        with TestClient(create_app(db, NoNotify(), settings)) as client:  # type: ignore[arg-type]
            yield client, db
    finally:
        db.dispose()


def _get(client: TestClient, path: str) -> Any:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return r.json()


def measure(urls: dict[int, str], requests: int, rounds: int, members: int) -> dict[str, float]:
    """Median rates over ``rounds`` alternating rounds, so that a busy machine's drift
    hits both sizes alike."""
    samples: dict[str, list[float]] = {}
    with contextlib.ExitStack() as stack:
        apps = {
            size: stack.enter_context(serving(url, size, members)) for size, url in urls.items()
        }
        markers = {
            size: _get(client, f"{BASE}/loadbalancers?limit={size // 2}&fields=id")[
                "loadbalancers"
            ][-1]["id"]
            for size, (client, _) in apps.items()
        }
        for _ in range(rounds):
            for size, (client, _) in apps.items():
                page = f"{BASE}/loadbalancers?limit=100"
                middle = f"{page}&marker={markers[size]}"
                samples.setdefault(f"list first page, {size}", []).append(
                    rate(requests, lambda i, c=client, p=page: _get(c, p))
                )
                samples.setdefault(f"list middle page, {size}", []).append(
                    rate(requests, lambda i, c=client, p=middle: _get(c, p))
                )
        client, db = apps[max(apps)]
        lb_id = _get(client, f"{BASE}/loadbalancers?limit=1")["loadbalancers"][0]["id"]
        samples["show"] = [rate(requests, lambda i: _get(client, f"{BASE}/loadbalancers/{lb_id}"))]
        with db.session() as s:
            pool_ids = list(s.scalars(sa.select(m.Pool.id)))

        def post_member(i: int) -> None:
            r = client.post(
                f"{BASE}/pools/{pool_ids[i]}/members",
                json={"member": {"address": "10.0.0.1", "protocol_port": 80}},
            )
            assert r.status_code == 201, r.text

        samples["member POST"] = [rate(members, post_member)]
    return {label: statistics.median(values) for label, values in samples.items()}


def report(name: str, figures: dict[str, float]) -> None:
    print(f"\n{name}")
    for label, value in figures.items():
        print(f"  {label:28s} {value:8.1f} req/s")
    for page in ("first", "middle"):
        ratio = figures[f"list {page} page, 1000"] / figures[f"list {page} page, 10000"]
        print(f"  limit=100 {page} page: time at 10,000 / time at 1,000 = {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with sqlite_url() as small, sqlite_url() as large:
        report(
            "SQLite", measure({1000: small, 10000: large}, args.requests, args.rounds, args.members)
        )
    if not args.no_postgres:
        try:
            with postgres_url() as small, postgres_url() as large:
                report(
                    "PostgreSQL",
                    measure({1000: small, 10000: large}, args.requests, args.rounds, args.members),
                )
        except sa.exc.OperationalError as exc:
            print(f"\nPostgreSQL: not reachable ({exc.orig}); skipped")


if __name__ == "__main__":
    main()
