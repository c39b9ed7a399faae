"""Fixtures for the API tests: a real SQLite file, the real app, no processes.

``client`` fails the test on any 5xx answer (a 5xx is a bug). ``api`` wraps
the client with helpers that create objects and play the controller's part
(``settle()`` moves every PENDING_* row to ACTIVE, or DELETED).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, select, text, update

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.convergence import mark_converged
from hydria.db.engine import Database
from hydria.db.subnets import create_subnet, ensure_default_subnet
from tests.support import warm_app
from tests.support.recorder import hook_for

with warnings.catch_warnings():
    # Starlette warns that it will move its TestClient to httpx2; the client works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/v2/lbaas"
ADMIN = {"X-Roles": "admin"}
STATUS_TABLES = (
    m.LoadBalancer,
    m.Listener,
    m.Pool,
    m.Member,
    m.HealthMonitor,
    m.L7Policy,
    m.L7Rule,
)


class RecordingNotifier:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def notify(self, lb_id: str) -> None:
        self.calls.append(lb_id)


@pytest.fixture
def db(migrated_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A copy of the migrated file (``tests/conftest.py``'s ``migrated_template``)."""
    path = tmp_path / "hydria.db"
    shutil.copyfile(migrated_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def subnet_id(db: Database) -> str:
    return ensure_default_subnet(db, "public", "127.42.0.0/16").id


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, max_body_bytes=64 * 1024)


@pytest.fixture
def app(db: Database, notifier: RecordingNotifier, settings: Settings) -> Iterator[Any]:
    app = warm_app.lend(create_app(db, notifier, settings))
    yield app
    warm_app.give_back(app)


@pytest.fixture
def client(app: Any, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    server_errors: list[str] = []

    def no_5xx(response: httpx.Response) -> None:
        # 501 is Octavia's "the provider does not support this option", not a fault
        if response.status_code >= 500 and response.status_code != 501:
            response.read()
            server_errors.append(
                f"{response.request.method} {response.request.url} -> "
                f"{response.status_code} {response.text}"
            )

    with TestClient(app) as tc:
        tc.event_hooks["response"] = [no_5xx]
        recorder = hook_for(request.node.nodeid)
        if recorder is not None:
            tc.event_hooks["response"].append(recorder)
        yield tc
    assert not server_errors, f"server errors: {server_errors}"


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a refused request changed nothing."""
    with db.engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        return {
            t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr)
            for t in tables
        }


def assert_fault(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == ("Client" if status < 500 else "Server")
    assert body["debuginfo"] is None
    for fragment in fragments:
        assert fragment in body["faultstring"], body["faultstring"]
    return body


def assert_routing_fault(
    response: httpx.Response, status: int, title: str, description: str | None = ""
) -> None:
    """Pecan's body, which Octavia answers before its controllers run (an unknown
    path or method, a missing parent, bad paging: ``hydria.api.errors``)."""
    assert response.status_code == status, response.text
    assert response.json() == {"code": status, "title": title, "description": description}


class Api:
    """The client plus the controller's part, for readable tests."""

    def __init__(self, client: TestClient, db: Database, subnet_id: str) -> None:
        self.client = client
        self.db = db
        self.subnet_id = subnet_id

    def settle(self) -> None:
        """Do what the controller would once it converged every pending load balancer.

        The real write-back (``mark_converged``) runs first, so deleted children
        disappear as they do in production (their ports and addresses become free
        again); rows a test made PENDING_* by hand are then moved on directly.
        """
        with self.db.session() as s:
            pending = s.execute(
                select(m.LoadBalancer.id, m.LoadBalancer.generation).where(
                    m.LoadBalancer.provisioning_status.in_(c.PENDING_STATUSES)
                )
            ).all()
            for lb_id, generation in pending:
                mark_converged(s, lb_id, generation)
            for model in STATUS_TABLES:  # plain UPDATEs: no ORM object is loaded here
                s.execute(
                    update(model)
                    .where(model.provisioning_status == c.PENDING_DELETE)
                    .values(provisioning_status=c.DELETED)
                    .execution_options(synchronize_session=False)
                )
                s.execute(
                    update(model)
                    .where(model.provisioning_status.in_([c.PENDING_CREATE, c.PENDING_UPDATE]))
                    .values(provisioning_status=c.ACTIVE)
                    .execution_options(synchronize_session=False)
                )

    def status(self, model: Any, object_id: str) -> str:
        with self.db.session() as s:
            return str(s.scalar(select(model.provisioning_status).where(model.id == object_id)))

    def post(
        self, path: str, root: str, headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        r = self.client.post(f"{BASE}/{path}", json={root: fields}, headers=headers)
        assert r.status_code == 201, r.text
        return dict(r.json()[root])

    def lb(
        self, settle: bool = True, headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        fields.setdefault("vip_subnet_id", self.subnet_id)
        out = self.post("loadbalancers", "loadbalancer", headers=headers, **fields)
        if settle:
            self.settle()
        return out

    def listener(self, lb_id: str, settle: bool = True, **fields: Any) -> dict[str, Any]:
        fields.setdefault("protocol", "HTTP")
        fields.setdefault("protocol_port", 80)
        out = self.post("listeners", "listener", loadbalancer_id=lb_id, **fields)
        if settle:
            self.settle()
        return out

    def pool(self, settle: bool = True, **fields: Any) -> dict[str, Any]:
        fields.setdefault("protocol", "HTTP")
        fields.setdefault("lb_algorithm", "ROUND_ROBIN")
        out = self.post("pools", "pool", **fields)
        if settle:
            self.settle()
        return out

    def member(self, pool_id: str, settle: bool = True, **fields: Any) -> dict[str, Any]:
        fields.setdefault("address", "10.0.0.1")
        fields.setdefault("protocol_port", 8080)
        out = self.post(f"pools/{pool_id}/members", "member", **fields)
        if settle:
            self.settle()
        return out

    def hm(self, pool_id: str, settle: bool = True, **fields: Any) -> dict[str, Any]:
        fields.setdefault("type", "HTTP")
        fields.setdefault("delay", 5)
        fields.setdefault("timeout", 3)
        fields.setdefault("max_retries", 3)
        out = self.post("healthmonitors", "healthmonitor", pool_id=pool_id, **fields)
        if settle:
            self.settle()
        return out

    def stack(self) -> dict[str, dict[str, Any]]:
        """An ACTIVE load balancer with a listener, its default pool, a member, a monitor."""
        lb = self.lb()
        li = self.listener(lb["id"])
        pool = self.pool(listener_id=li["id"])
        member = self.member(pool["id"])
        hm = self.hm(pool["id"])
        return {"lb": lb, "listener": li, "pool": pool, "member": member, "hm": hm}


@pytest.fixture
def api(client: TestClient, db: Database, subnet_id: str) -> Api:
    return Api(client, db, subnet_id)


@pytest.fixture
def small_subnet(db: Database) -> str:
    with db.session() as s:
        return create_subnet(s, "tiny", "10.9.0.0/29", start="10.9.0.2", end="10.9.0.3").id
