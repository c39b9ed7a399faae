"""Writes to an ACTIVE load balancer: durable when the API answers, converged in
one configuration push each, and a desired state that moves on while a converge
is in flight costs one more push, never one per intermediate generation.

The real API app, controller loop and reconciler on real SQLite, with the
no-op amphora driver: its agent counts the configurations it accepts, which
is one HAProxy reload each on a real agent.

Octavia's lifecycle answers 409 to a second change while the load balancer
is PENDING_UPDATE, so through the API one change per load balancer is pending
at a time; generations coalesce when the desired state moves by other paths
(a failover or a resync in flight, a controller that took over).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from hydria.api.app import create_app
from hydria.cli import wiring
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.migrate import upgrade
from hydria.db.models import LoadBalancer
from hydria.db.notify import InProcessNotifier
from hydria.db.subnets import ensure_default_subnet
from hydria.drivers.amphora.noop import NoopAgentClient
from hydria.drivers.compute.noop import NoopCompute

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/v2/lbaas"


@dataclass
class World:
    db: Database
    client: TestClient
    agent: NoopAgentClient
    subnet_id: str

    def pushes(self) -> int:
        return sum(self.agent.pushes.values())

    def post(self, path: str, root: str, body: dict[str, Any]) -> dict[str, Any]:
        res = self.client.post(BASE + path, json={root: body})
        assert res.status_code == 201, res.text
        return dict(res.json()[root])

    def wait_active(self, lb_id: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            body = self.client.get(f"{BASE}/loadbalancers/{lb_id}").json()["loadbalancer"]
            if body["provisioning_status"] == "ACTIVE":
                return
            assert body["provisioning_status"] != "ERROR"
            assert time.monotonic() < deadline, body
            time.sleep(0.01)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path / 'hydria.db'}")
    upgrade(db)
    subnet = ensure_default_subnet(db, "public", "127.42.0.0/16")
    settings = Settings(
        state_dir=tmp_path, compute_driver="noop", network_driver="noop", heartbeat_key="k" * 64
    )
    notifier = InProcessNotifier()
    fleet = NoopCompute()
    loop = wiring.controller_loop(settings, db, notifier=notifier, compute_driver=fleet)
    loop.poll_interval = 0.05
    agent = loop.reconciler.agent
    assert isinstance(agent, NoopAgentClient)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        with TestClient(create_app(db, notifier, settings)) as client:
            yield World(db, client, agent, subnet.id)
    finally:
        stop.set()
        notifier.notify("")
        runner.join(60)
        db.dispose()
    assert not runner.is_alive()


def _lb_with_pool(w: World) -> tuple[str, str]:
    lb = w.post("/loadbalancers", "loadbalancer", {"vip_subnet_id": w.subnet_id})
    w.wait_active(lb["id"])
    listener = w.post(
        "/listeners",
        "listener",
        {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80},
    )
    w.wait_active(lb["id"])
    pool = w.post(
        "/pools",
        "pool",
        {"listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
    )
    w.wait_active(lb["id"])
    return lb["id"], pool["id"]


def test_each_member_write_is_durable_at_once_and_one_push(world: World) -> None:
    lb_id, pool_id = _lb_with_pool(world)
    before = world.pushes()
    writes = 0
    for i in range(6):
        member = world.post(
            f"/pools/{pool_id}/members",
            "member",
            {"address": "127.0.0.1", "protocol_port": 8000 + i},
        )
        # durable when answered: the row is there, pending, before any push
        assert member["provisioning_status"] == "PENDING_CREATE"
        writes += 1
        world.wait_active(lb_id)
        if i % 2:
            res = world.client.delete(f"{BASE}/pools/{pool_id}/members/{member['id']}")
            assert res.status_code == 204, res.text
            writes += 1
            world.wait_active(lb_id)
    assert world.pushes() - before == writes


def test_generations_that_move_during_a_push_converge_in_one_more(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    lb_id, pool_id = _lb_with_pool(world)
    before = world.pushes()
    entered, go = threading.Event(), threading.Event()
    real = world.agent.put_config
    moves = 5

    def slow_push(ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        if not entered.is_set():
            entered.set()
            assert go.wait(60)
        return real(ip, port, text, version)

    monkeypatch.setattr(world.agent, "put_config", slow_push)
    world.post(
        f"/pools/{pool_id}/members", "member", {"address": "127.0.0.1", "protocol_port": 9000}
    )
    assert entered.wait(60)
    for _ in range(moves):  # the desired state moves on while the push is in flight
        with world.db.session() as s:
            s.execute(
                update(LoadBalancer)
                .where(LoadBalancer.id == lb_id)
                .values(generation=LoadBalancer.generation + 1)
            )
    go.set()
    world.wait_active(lb_id)
    # the write's push, then one for the newest generation: not one per generation
    assert world.pushes() - before == 2 < 1 + moves
