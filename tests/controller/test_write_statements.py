"""How many UPDATE statements a member write costs, from the API's answer to
the load balancer ACTIVE again: pinned, so a needless write cannot creep back.

The real API app, controller loop and reconciler with the no-op amphora driver,
on SQLite and PostgreSQL; every statement the engine sends is seen by
SQLAlchemy's ``before_cursor_execute`` (an ``executemany`` counts once: it is one
statement). A member POST and its DELETE on an ACTIVE load balancer each write:
the load balancer's transition, the listener and the pool shown PENDING_UPDATE
(as Octavia), the member itself on delete, the controller's claim, and the
write-back (load balancer, listener, pool, a created member); no amphora row
(its generation is the load balancer's ``applied_generation``; a step error is
cleared only where there is one).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from hydria.api.app import create_app
from hydria.cli import wiring
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.migrate import upgrade
from hydria.db.models import Amphora
from hydria.db.notify import InProcessNotifier
from hydria.db.subnets import ensure_default_subnet
from hydria.drivers.compute.noop import NoopCompute

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/v2/lbaas"

# per write (POST, then DELETE): before this change 9 and 9
POST_UPDATES = 8
DELETE_UPDATES = 8


class Updates:
    """The UPDATE statements the engine sent while ``counting``."""

    def __init__(self, db: Database) -> None:
        self.counting = False
        self.seen: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._hook)

    def _hook(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.counting and statement.lstrip().upper().startswith("UPDATE"):
            self.seen.append(" ".join(statement.split())[:120])

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Database, TestClient, str]]:
    url = (
        f"sqlite:///{tmp_path / 'hydria.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db = Database(url)
    upgrade(db)
    subnet = ensure_default_subnet(db, "public", "127.42.0.0/16")
    settings = Settings(
        state_dir=tmp_path, compute_driver="noop", network_driver="noop", heartbeat_key="k" * 64
    )
    notifier = InProcessNotifier()
    loop = wiring.controller_loop(settings, db, notifier=notifier, compute_driver=NoopCompute())
    loop.poll_interval = 0.05
    loop.lease_seconds = 3600.0  # no renewal write lands inside a count
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        with TestClient(create_app(db, notifier, settings)) as client:
            yield db, client, subnet.id
    finally:
        stop.set()
        notifier.notify("")
        runner.join(60)
        db.dispose()
    assert not runner.is_alive()


def _post(client: TestClient, path: str, root: str, body: dict[str, Any]) -> dict[str, Any]:
    res = client.post(BASE + path, json={root: body})
    assert res.status_code == 201, res.text
    return dict(res.json()[root])


def _wait_active(client: TestClient, lb_id: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        body = client.get(f"{BASE}/loadbalancers/{lb_id}").json()["loadbalancer"]
        if body["provisioning_status"] == "ACTIVE":
            return
        assert body["provisioning_status"] != "ERROR", body
        assert time.monotonic() < deadline, body
        time.sleep(0.01)


def test_a_member_post_and_delete_write_only_what_changes(
    world: tuple[Database, TestClient, str],
) -> None:
    db, client, subnet_id = world
    lb = _post(client, "/loadbalancers", "loadbalancer", {"vip_subnet_id": subnet_id})["id"]
    _wait_active(client, lb)
    listener = _post(
        client,
        "/listeners",
        "listener",
        {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80},
    )
    _wait_active(client, lb)
    pool = _post(
        client,
        "/pools",
        "pool",
        {"listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
    )["id"]
    _wait_active(client, lb)
    updates = Updates(db)
    updates.counting = True

    member = _post(
        client, f"/pools/{pool}/members", "member", {"address": "127.0.0.1", "protocol_port": 80}
    )
    _wait_active(client, lb)
    posted = updates.take()
    res = client.delete(f"{BASE}/pools/{pool}/members/{member['id']}")
    assert res.status_code == 204, res.text
    _wait_active(client, lb)
    deleted = updates.take()

    assert len(posted) == POST_UPDATES, posted
    assert len(deleted) == DELETE_UPDATES, deleted
    assert not [s for s in posted + deleted if s.startswith("UPDATE amphorae")]


def test_an_amphora_step_error_is_cleared_once_it_serves(
    world: tuple[Database, TestClient, str],
) -> None:
    """The one amphora write left on the way: only when there is an error to clear."""
    db, client, subnet_id = world
    lb = _post(client, "/loadbalancers", "loadbalancer", {"vip_subnet_id": subnet_id})["id"]
    _wait_active(client, lb)
    with db.session() as s:
        s.execute(update(Amphora).where(Amphora.load_balancer_id == lb).values(error_reason="x"))
    _post(
        client,
        "/listeners",
        "listener",
        {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80},
    )
    _wait_active(client, lb)
    with db.read() as s:
        reasons = s.scalars(
            Amphora.__table__.select()
            .with_only_columns(Amphora.error_reason)
            .where(Amphora.load_balancer_id == lb)
        ).all()
    assert reasons == [None]
