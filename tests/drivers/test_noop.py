"""The no-op amphora driver: the real reconciler and loop converge load balancers
with no process and no network behind them (compute, network and agent no-op)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from hydria.cli import wiring
from hydria.config import Settings
from hydria.controller.reconciler import Reconciler
from hydria.core import constants as c
from hydria.core.ids import derived_id
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.drivers.amphora.base import StaleConfig
from hydria.drivers.amphora.noop import NoopAgentClient
from hydria.drivers.compute.noop import NoopCompute
from hydria.drivers.network.noop import NoopNetwork
from hydria.wire.agent_api import AmphoraBoot
from tests.support.factories import make_lb, make_subnet, uid


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        compute_driver="noop",
        network_driver="noop",
        health_bind="127.0.0.1:0",
        heartbeat_key="k" * 64,
    )


def _reconciler(db: Database, tmp_path: Path) -> tuple[Reconciler, NoopCompute]:
    fleet = NoopCompute()
    return wiring.reconciler(_settings(tmp_path), db, compute_driver=fleet), fleet


def test_wiring_picks_the_noop_drivers(sqlite_db: Database, tmp_path: Path) -> None:
    rec, fleet = _reconciler(sqlite_db, tmp_path)
    assert isinstance(rec.compute, NoopCompute) and rec.compute is fleet
    assert isinstance(rec.network, NoopNetwork)
    assert isinstance(rec.agent, NoopAgentClient)
    assert not (tmp_path / "amphorae").exists() or not any((tmp_path / "amphorae").iterdir())


def test_health_manager_does_not_judge_silent_noop_amphorae(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """No-op amphorae never send heartbeats; the failure detector is off for them."""
    service = wiring.health_service(_settings(tmp_path), sqlite_db)
    try:
        assert service.options.detect_failures is False
    finally:
        service.sock.close()
    local = Settings(state_dir=tmp_path, health_bind="127.0.0.1:0", heartbeat_key="k" * 64)
    service = wiring.health_service(local, sqlite_db)
    try:
        assert service.options.detect_failures is True
    finally:
        service.sock.close()


def test_a_load_balancer_goes_active_with_nothing_behind_it(
    sqlite_db: Database, tmp_path: Path
) -> None:
    rec, fleet = _reconciler(sqlite_db, tmp_path)
    lb_id = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    assert rec.reconcile(lb_id).kind == "done"
    with sqlite_db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None and lb.provisioning_status == c.ACTIVE
        amps = list(
            s.scalars(
                select(m.Amphora).where(
                    m.Amphora.load_balancer_id == lb_id, m.Amphora.status != c.DELETED
                )
            )
        )
    assert len(amps) == 1 and fleet.is_running(amps[0].id)
    assert amps[0].compute_id == derived_id("compute", amps[0].id)
    agent = rec.agent
    assert isinstance(agent, NoopAgentClient)
    assert sum(agent.pushes.values()) == 1
    # converged again at the same generation: the agent runs it already, no push
    assert rec.reconcile(lb_id).kind == "done"
    assert sum(agent.pushes.values()) == 1


def test_delete_frees_the_amphora(sqlite_db: Database, tmp_path: Path) -> None:
    rec, fleet = _reconciler(sqlite_db, tmp_path)
    lb_id = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db))
    assert rec.reconcile(lb_id).kind == "done"
    with sqlite_db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        lb.provisioning_status = c.PENDING_DELETE
        lb.generation += 1
    assert rec.reconcile(lb_id).kind == "done"
    assert fleet.list_ids() == []
    with sqlite_db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None and lb.provisioning_status == c.DELETED


def test_noop_agent_refuses_an_older_version_and_forgets_a_deleted_amphora() -> None:
    fleet = NoopCompute()
    agent = NoopAgentClient(fleet)
    boot = AmphoraBoot(
        amphora_id="a1",
        lb_network_ip="127.43.9.10",
        agent_port=9443,
        server_cert_pem="",
        server_key_pem="",
        ca_cert_pem="",
        heartbeat_key="k",
        controller_addresses=(),
        heartbeat_interval=1.0,
    )
    fleet.create(boot)
    agent.put_config("127.43.9.10", 9443, "text", 5)
    with pytest.raises(StaleConfig):
        agent.put_config("127.43.9.10", 9443, "text", 4)
    assert agent.info("127.43.9.10", 9443)["config_version"] == 5
    fleet.delete("a1")
    # the address may go to a new amphora: it starts with no configuration
    assert agent.info("127.43.9.10", 9443)["config_version"] is None


def test_concurrent_boots_are_counted_once_each() -> None:
    fleet = NoopCompute()

    def boot(i: int) -> None:
        fleet.create(
            AmphoraBoot(
                amphora_id=f"a{i}",
                lb_network_ip=f"127.43.9.{i}",
                agent_port=9443,
                server_cert_pem="",
                server_key_pem="",
                ca_cert_pem="",
                heartbeat_key="k",
                controller_addresses=(),
                heartbeat_interval=1.0,
            )
        )

    threads = [threading.Thread(target=boot, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fleet.created == 50 and len(fleet.list_ids()) == 50


def _add_udp_listener(db: Database, lb_id: str) -> None:
    with db.session() as s:
        s.add(
            m.Listener(
                id=uid(),
                project_id="p",
                load_balancer_id=lb_id,
                protocol="UDP",
                protocol_port=53,
                provisioning_status=c.PENDING_CREATE,
                operating_status=c.OFFLINE,
            )
        )


def _set(db: Database, lb_id: str, *, status: str, bump: int = 1) -> None:
    with db.session() as s:
        lb = s.get(m.LoadBalancer, lb_id)
        assert lb is not None
        lb.provisioning_status = status
        lb.generation += bump


def test_many_creates_and_deletes_all_converge(sqlite_db: Database, tmp_path: Path) -> None:
    """Management addresses are reused at once; whatever an amphora ran there before
    (HAProxy or UDP configuration, at any generation) must not reach the next one.

    A UDP version kept by address once outlived its amphora: the next load balancer
    whose amphora got the address had its first configuration refused as stale
    ("superseded") and never left PENDING_CREATE."""
    rec, fleet = _reconciler(sqlite_db, tmp_path)
    subnet = make_subnet(sqlite_db)
    addresses: set[str] = set()
    for i in range(12):
        lb_id = make_lb(sqlite_db, subnet_id=subnet, with_children=i % 3 == 0)
        if i % 2 == 0:
            _add_udp_listener(sqlite_db, lb_id)
        if i % 4 == 0:  # an older load balancer had many more changes than the next
            _set(sqlite_db, lb_id, status=c.PENDING_CREATE, bump=10)
        outcome = rec.reconcile(lb_id)
        assert outcome.kind == "done", (i, outcome)
        with sqlite_db.session() as s:
            lb = s.get(m.LoadBalancer, lb_id)
            assert lb is not None and lb.provisioning_status == c.ACTIVE
            amp = s.scalars(
                select(m.Amphora).where(
                    m.Amphora.load_balancer_id == lb_id, m.Amphora.status != c.DELETED
                )
            ).one()
            assert amp.lb_network_ip is not None
            addresses.add(amp.lb_network_ip)
        _set(sqlite_db, lb_id, status=c.PENDING_DELETE)
        assert rec.reconcile(lb_id).kind == "done", i
        with sqlite_db.session() as s:
            lb = s.get(m.LoadBalancer, lb_id)
            assert lb is not None and lb.provisioning_status == c.DELETED
    assert len(addresses) == 1  # every amphora had the same address, one after the other
    assert fleet.list_ids() == [] and fleet.agents == {}


def test_a_boot_at_a_used_address_starts_with_no_udp_configuration() -> None:
    fleet = NoopCompute()
    agent = NoopAgentClient(fleet)
    boot = AmphoraBoot(
        amphora_id="a1",
        lb_network_ip="127.43.9.11",
        agent_port=9443,
        server_cert_pem="",
        server_key_pem="",
        ca_cert_pem="",
        heartbeat_key="k",
        controller_addresses=(),
        heartbeat_interval=1.0,
    )
    fleet.create(boot)
    agent.put_udp("127.43.9.11", 9443, {}, 9)
    fleet.delete("a1")
    fleet.create(dataclasses.replace(boot, amphora_id="a2"))
    assert agent.info("127.43.9.11", 9443)["udp_config_version"] is None
    agent.put_udp("127.43.9.11", 9443, {}, 1)  # no StaleConfig
