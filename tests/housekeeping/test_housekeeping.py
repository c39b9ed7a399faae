"""Housekeeping: pure decisions, then the sweeps on real databases, and an
orphan amphora (a real agent process with no row) collected for real."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import pytest

from hydria.core import constants as c
from hydria.db import addresses
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.drivers.compute.local import LocalCompute
from hydria.housekeeping import sweep
from hydria.housekeeping.service import Housekeeper
from hydria.wire.agent_api import AmphoraBoot
from tests.support.backends import free_port
from tests.support.factories import make_lb, make_subnet
from tests.support.procs import kill_all_mentioning, pids_mentioning

NOW = dt.datetime(2026, 11, 26, 12, 0, 0)


def test_orphans_are_instances_without_a_live_row():
    rows = {"a": "ALLOCATED", "b": "DELETED", "c": "BOOTING"}
    assert sweep.orphan_instances(["a", "b", "c", "d"], rows) == ["b", "d"]


def test_leaked_allocations_have_no_live_owner():
    allocs = [
        ("sub", "10.0.0.1", "lb1"),
        ("sub", "10.0.0.2", "gone"),
        ("lb-mgmt", "127.43.0.10", "amp1"),
    ]
    assert sweep.leaked_allocations(allocs, {"lb1", "amp1"}) == [("sub", "10.0.0.2")]


def test_expired_rows_respect_retention():
    rows = [
        ("old", NOW - dt.timedelta(days=8)),
        ("new", NOW - dt.timedelta(days=1)),
        ("unknown", None),
    ]
    assert sweep.expired(rows, NOW, dt.timedelta(days=7)) == ["old", "unknown"]


class NoInstances:
    """The compute seam with nothing running (this test is about rows)."""

    def list_ids(self) -> list[str]:
        return []

    def delete(self, amphora_id: str) -> None:
        raise AssertionError("nothing to delete")


def test_sweeps_release_leaks_and_purge_expired_rows(any_db: Database):
    subnet = make_subnet(any_db)
    live = make_lb(any_db, status=c.ACTIVE, subnet_id=subnet)
    gone = make_lb(any_db, status=c.DELETED, subnet_id=subnet)  # VIP still held: a leak
    with any_db.session() as s:
        s.get(m.LoadBalancer, gone).updated_at = NOW - dt.timedelta(days=30)
        amp = m.Amphora(
            id=str(uuid.uuid4()),
            load_balancer_id=gone,
            status=c.DELETED,
            role=c.ROLE_STANDALONE,
            lb_network_ip="127.43.9.9",
        )
        s.add(amp)
        s.flush()
        amp.updated_at = NOW - dt.timedelta(days=30)
        addresses.allocate(s, addresses.MGMT_POOL, "127.43.9.9", "127.43.9.9", amp.id)
    keeper = Housekeeper(any_db, NoInstances(), retention=dt.timedelta(days=7))  # type: ignore[arg-type]
    assert keeper.sweep_once() == {"orphans": 0, "addresses": 2, "purged": 2, "certificates": 0}
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, gone) is None
        assert s.get(m.LoadBalancer, live) is not None
        owners = {a.owner_id for a in s.query(m.AddressAllocation)}
    assert owners == {live}
    assert keeper.sweep_once() == {"orphans": 0, "addresses": 0, "purged": 0, "certificates": 0}


@pytest.mark.integration
def test_an_orphan_amphora_is_stopped_and_removed(tmp_path: Path, sqlite_db: Database):
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    compute = LocalCompute(tmp_path / "amphorae")
    ip = "127.44.249.10"
    kept_id, orphan_id = str(uuid.uuid4()), str(uuid.uuid4())
    lb = make_lb(sqlite_db, status=c.ACTIVE)
    with sqlite_db.session() as s:
        s.add(
            m.Amphora(
                id=kept_id,
                load_balancer_id=lb,
                status=c.AMPHORA_ALLOCATED,
                role=c.ROLE_STANDALONE,
                lb_network_ip=ip,
            )
        )
    try:
        for amp_id in (kept_id, orphan_id):
            cert, key = ca.issue_server_cert(amp_id, ip)
            compute.create(
                AmphoraBoot(
                    amphora_id=amp_id,
                    lb_network_ip=ip,
                    agent_port=free_port(ip),
                    server_cert_pem=cert,
                    server_key_pem=key,
                    ca_cert_pem=ca.ca_cert_pem,
                )
            )
        deadline = time.monotonic() + 30  # until both agents have exec'd
        while not (pids_mentioning(orphan_id) and compute.is_running(kept_id)):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        keeper = Housekeeper(sqlite_db, compute)
        assert keeper.collect_orphans() == 1
        assert compute.list_ids() == [kept_id]
        assert pids_mentioning(orphan_id) == []
        assert compute.is_running(kept_id)
    finally:
        for amp_id in compute.list_ids():
            compute.delete(amp_id)
        kill_all_mentioning(str(tmp_path))
    assert pids_mentioning(str(tmp_path)) == []
