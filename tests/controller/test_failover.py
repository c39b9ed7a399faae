"""Failover through the real reconciler and loop, on a real database, with
in-memory compute, network and agent (the real ones run in tests/e2e)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hydria.controller.loop import FAILOVER_RETRY, ControllerLoop
from hydria.controller.reconciler import Reconciler, ReconcilerOptions
from hydria.core import constants as c
from hydria.core.errors import AmphoraUnreachable
from hydria.db import leases
from hydria.db import models as m
from hydria.db.models import utcnow
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.wire.agent_api import AmphoraBoot
from tests.support.factories import make_lb, make_subnet


class World:
    """Compute, network and agents in memory: one dict of what runs where."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.running: dict[str, str] = {}  # amphora id -> mgmt ip
        self.configs: dict[str, tuple[int, str]] = {}  # mgmt ip -> (version, text)
        self.vips: dict[str, str] = {}  # amphora id -> VIP plugged
        self.deleted: list[str] = []
        self.drained: list[str] = []  # mgmt ips asked to drain before their delete
        self.lb_status_at_create: list[str] = []
        self.fail_boots = 0  # that many next creates start nothing that answers

    # compute
    def create(self, boot: AmphoraBoot) -> str:
        with self.db.session() as s:
            lb_ids = list(s.scalars(select(m.LoadBalancer.provisioning_status)))
        self.lb_status_at_create.extend(lb_ids)
        if self.fail_boots:
            self.fail_boots -= 1
            return f"fake-{boot.amphora_id}"
        self.running[boot.amphora_id] = boot.lb_network_ip
        return f"fake-{boot.amphora_id}"

    def is_running(self, amphora_id: str) -> bool:
        return amphora_id in self.running

    def delete(self, amphora_id: str) -> None:
        ip = self.running.pop(amphora_id, None)
        self.configs.pop(ip or "", None)
        self.deleted.append(amphora_id)

    def list_ids(self) -> list[str]:
        return sorted(self.running)

    def stop_all(self) -> None:
        self.running.clear()

    # network
    plugs_ports = False

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: object, *, hold_vip: bool = True
    ) -> None:
        self.vips[amphora_id] = vip_address

    def plug_members(self, amphora_id: str, ports: object, *, vip_subnet_id: str) -> None:
        return None

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        self.vips.pop(amphora_id, None)

    # agent
    def info(self, ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        if ip not in self.running.values():
            raise AmphoraUnreachable(f"nobody at {ip}")
        version = self.configs.get(ip, (0, ""))[0]
        return {"config_version": version, "stats_socket": "/tmp/x.sock"}

    def wait_ready(self, ip: str, port: int, *, timeout: float) -> dict[str, Any]:
        return self.info(ip, port)

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        self.configs[ip] = (version, text)
        return {}

    def delete_config(
        self, ip: str, port: int, *, drain: float = 0.0, connect_timeout: float | None = None
    ) -> None:
        if ip not in self.running.values():
            raise AmphoraUnreachable(f"nobody at {ip}")
        if drain:
            self.drained.append(ip)
        self.configs.pop(ip, None)

    def kill(self, amphora_id: str) -> None:
        """What SIGKILL does: the processes are gone, the folder is not."""
        ip = self.running.pop(amphora_id)
        self.configs.pop(ip, None)


@pytest.fixture
def world(sqlite_db) -> World:
    return World(sqlite_db)


@pytest.fixture
def reconciler(sqlite_db, world, tmp_path: Path) -> Reconciler:
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    opts = ReconcilerOptions(
        mgmt_start="127.43.250.10", mgmt_end="127.43.250.20", max_connections=1000
    )
    return Reconciler(sqlite_db, world, world, world, ca, opts)  # type: ignore[arg-type]


def _live(db, lb_id: str) -> list[m.Amphora]:
    with db.session() as s:
        return list(
            s.scalars(
                select(m.Amphora).where(
                    m.Amphora.load_balancer_id == lb_id, m.Amphora.status != c.DELETED
                )
            )
        )


def _serving_lb(db, reconciler) -> tuple[str, m.Amphora]:
    lb = make_lb(db, subnet_id=make_subnet(db), with_children=True)
    assert reconciler.reconcile(lb).kind == "done"
    [amp] = _live(db, lb)
    with db.session() as s:
        s.add(m.AmphoraHealth(amphora_id=amp.id, last_update=utcnow(), seq=7))
    return lb, amp


def _request_failover(db, amp_id: str) -> None:
    with db.session() as s:
        s.get(m.Amphora, amp_id).failover_requested = True


def test_failover_replaces_the_amphora_on_the_same_vip(sqlite_db, world, reconciler):
    lb, old = _serving_lb(sqlite_db, reconciler)
    with sqlite_db.session() as s:
        vip = s.get(m.LoadBalancer, lb).vip_address
    world.kill(old.id)
    _request_failover(sqlite_db, old.id)
    assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30) == [lb]
    world.lb_status_at_create.clear()

    assert reconciler.reconcile(lb).kind == "done"

    # Octavia shows PENDING_UPDATE while the replacement is built
    assert world.lb_status_at_create == [c.PENDING_UPDATE]
    [new] = _live(sqlite_db, lb)
    assert new.id != old.id and new.status == c.AMPHORA_ALLOCATED
    assert world.vips[new.id] == vip
    version, text = world.configs[new.lb_network_ip]
    assert f"{vip}:80" in text and version == 1
    assert world.deleted == [old.id]
    with sqlite_db.session() as s:
        gone = s.get(m.Amphora, old.id)
        assert (gone.status, gone.failover_requested) == (c.DELETED, False)
        assert s.get(m.AmphoraHealth, old.id) is None
        row = s.get(m.LoadBalancer, lb)
        assert (row.provisioning_status, row.lease_owner) == (c.ACTIVE, None)
        # the old management address is free again, the VIP is not
        owners = {a.owner_id for a in s.scalars(select(m.AddressAllocation))}
        assert old.id not in owners and new.id in owners and lb in owners
    # nothing left to do
    assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30) == []


def test_failover_of_a_live_amphora_stops_it(sqlite_db, world, reconciler):
    """An operator's failover: the old amphora still runs until the new one serves."""
    lb, old = _serving_lb(sqlite_db, reconciler)
    _request_failover(sqlite_db, old.id)
    assert reconciler.reconcile(lb).kind == "done"
    assert old.id not in world.running and len(world.running) == 1
    assert world.drained == [old.lb_network_ip]  # it finished its requests first


def test_a_silent_amphora_is_not_asked_to_drain(sqlite_db, world, reconciler):
    """Its heartbeats stopped (a frozen instance may still accept a connection and
    then never answer): the failover does not wait on it."""
    lb, old = _serving_lb(sqlite_db, reconciler)
    with sqlite_db.session() as s:
        s.get(m.AmphoraHealth, old.id).last_update = utcnow() - dt.timedelta(minutes=5)
    _request_failover(sqlite_db, old.id)
    assert reconciler.reconcile(lb).kind == "done"
    assert world.drained == [] and old.id in world.deleted


def test_a_deleted_load_balancer_is_not_drained(sqlite_db, world, reconciler):
    lb, old = _serving_lb(sqlite_db, reconciler)
    with sqlite_db.session() as s:
        s.get(m.LoadBalancer, lb).provisioning_status = c.PENDING_DELETE
    assert reconciler.reconcile(lb).kind == "done"
    assert world.drained == [] and old.id in world.deleted


def test_an_interrupted_failover_resumes_with_the_same_replacement(sqlite_db, world, reconciler):
    lb, old = _serving_lb(sqlite_db, reconciler)
    world.kill(old.id)
    _request_failover(sqlite_db, old.id)
    world.fail_boots = 1
    reconciler.options = ReconcilerOptions(**{**reconciler.options.__dict__, "boot_timeout": 0.01})
    with pytest.raises(AmphoraUnreachable):
        reconciler.reconcile(lb)
    with sqlite_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.PENDING_UPDATE
    booting = [a for a in _live(sqlite_db, lb) if a.id != old.id]
    assert len(booting) == 1

    assert reconciler.reconcile(lb).kind == "done"
    [new] = _live(sqlite_db, lb)
    assert new.id == booting[0].id  # no second replacement, no leak
    with sqlite_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.ACTIVE


def test_failover_of_an_error_lb_keeps_error_until_it_serves(sqlite_db, world, reconciler):
    lb, old = _serving_lb(sqlite_db, reconciler)
    with sqlite_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        row.provisioning_status, row.operating_status = c.ERROR, c.ERROR
    _request_failover(sqlite_db, old.id)
    world.lb_status_at_create.clear()
    assert reconciler.reconcile(lb).kind == "done"
    assert world.lb_status_at_create == [c.ERROR]
    with sqlite_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        # operating status is the heartbeats' to set (hydria.health)
        assert row.provisioning_status == c.ACTIVE


def test_a_user_change_during_failover_is_not_lost(sqlite_db, world, reconciler):
    lb, old = _serving_lb(sqlite_db, reconciler)
    world.kill(old.id)
    _request_failover(sqlite_db, old.id)
    real_create = world.create

    def create_then_user_edits(boot: AmphoraBoot) -> str:
        with sqlite_db.session() as s:  # the API cannot (409), but a newer generation may exist
            s.get(m.LoadBalancer, lb).generation += 1
        return real_create(boot)

    world.create = create_then_user_edits  # type: ignore[method-assign]
    assert reconciler.reconcile(lb).kind == "superseded"
    world.create = real_create  # type: ignore[method-assign]
    assert reconciler.reconcile(lb).kind == "done"
    [new] = _live(sqlite_db, lb)
    assert world.configs[new.lb_network_ip][0] == 2


def test_a_failover_that_keeps_failing_goes_to_error_and_retries_later(
    sqlite_db, world, reconciler
):
    lb, old = _serving_lb(sqlite_db, reconciler)
    world.kill(old.id)
    _request_failover(sqlite_db, old.id)
    world.fail_boots = 10**6
    reconciler.options = ReconcilerOptions(**{**reconciler.options.__dict__, "boot_timeout": 0.01})
    loop = ControllerLoop(sqlite_db, reconciler, owner="ctl", max_attempts=1)
    try:
        assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30) == [lb]
        loop._work(lb)
    finally:
        loop.shutdown()
    with sqlite_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        assert row.provisioning_status == c.ERROR and "AmphoraUnreachable" in row.error_reason
        assert row.lease_owner is None and row.attempts == 0
        later = row.next_attempt_at - utcnow()
        assert dt.timedelta(seconds=FAILOVER_RETRY - 5) < later
        assert s.get(m.Amphora, old.id).failover_requested  # still to be replaced
    # not claimed again at once (no hot loop), but after the pause
    assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30) == []
    with sqlite_db.session() as s:
        s.get(m.LoadBalancer, lb).next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30) == [lb]
    world.fail_boots = 0
    assert reconciler.reconcile(lb).kind == "done"
    with sqlite_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.ACTIVE


def test_a_failed_resync_without_failover_keeps_the_status(sqlite_db, world, reconciler):
    lb, amp = _serving_lb(sqlite_db, reconciler)
    world.kill(amp.id)
    world.fail_boots = 10**6
    reconciler.options = ReconcilerOptions(**{**reconciler.options.__dict__, "boot_timeout": 0.01})
    loop = ControllerLoop(sqlite_db, reconciler, owner="ctl", max_attempts=1)
    try:
        assert leases.claim_batch(sqlite_db, "ctl", lease_seconds=30, include_settled=True) == [lb]
        loop._work(lb)
    finally:
        loop.shutdown()
    with sqlite_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        assert row.provisioning_status == c.ACTIVE and row.lease_owner is None
