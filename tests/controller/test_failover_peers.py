"""ACTIVE_STANDBY failover and the survivor's HAProxy ``peers`` section.

A failover rebuilds one amphora of the pair at a new address on the VIP subnet;
the load balancer's generation does not move. The survivor must be re-rendered
from the live pair in the same convergence (its ``peers`` line for the rebuilt
role names the new address, never the dead one's), while a convergence with no
change to the pair pushes nothing again. Real reconciler and database, the pair
in memory (``World`` of ``test_failover``, with ports plugged as netns does).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hydria.controller.reconciler import Reconciler, ReconcilerOptions
from hydria.core import constants as c
from hydria.db import models as m
from hydria.drivers.certs.local_ca import ControllerCA
from tests.controller.test_failover import World, _live, _request_failover
from tests.support.factories import make_lb, make_subnet


class PairWorld(World):
    """``World`` with real ports (``vrrp_ip`` per amphora) and keepalived pushes."""

    plugs_ports = True

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.pushes: list[tuple[str, int]] = []  # (mgmt ip, version) of every put_config
        self.vrrp: dict[str, str] = {}

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        self.pushes.append((ip, version))
        return super().put_config(ip, port, text, version)

    def put_vrrp(self, ip: str, port: int, text: str) -> None:
        self.vrrp[ip] = text


@pytest.fixture
def pair(sqlite_db, tmp_path: Path) -> tuple[PairWorld, Reconciler]:
    world = PairWorld(sqlite_db)
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    opts = ReconcilerOptions(
        mgmt_start="127.43.250.10", mgmt_end="127.43.250.20", max_connections=1000
    )
    return world, Reconciler(sqlite_db, world, world, world, ca, opts)  # type: ignore[arg-type]


def _peer_lines(text: str) -> dict[str, str]:
    """role -> address of each ``peer`` line."""
    return {
        name: addr for name, addr in re.findall(r"^\s*peer (\S+) (\S+):\d+$", text, re.MULTILINE)
    }


def test_the_survivor_names_the_rebuilt_peer_after_a_failover(sqlite_db, pair):
    world, reconciler = pair
    lb = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    with sqlite_db.session() as s:
        s.get(m.LoadBalancer, lb).topology = c.TOPOLOGY_ACTIVE_STANDBY
    assert reconciler.reconcile(lb).kind == "done"
    amps = {a.role: a for a in _live(sqlite_db, lb)}
    master, backup = amps[c.ROLE_MASTER], amps[c.ROLE_BACKUP]
    lines = _peer_lines(world.configs[backup.lb_network_ip][1])
    assert lines == {c.ROLE_MASTER: master.vrrp_ip, c.ROLE_BACKUP: backup.vrrp_ip}

    # nothing changed: a second convergence pushes no configuration again
    world.pushes.clear()
    assert reconciler.reconcile(lb).kind == "done"
    assert world.pushes == []

    world.kill(master.id)
    _request_failover(sqlite_db, master.id)
    assert reconciler.reconcile(lb).kind == "done"
    now = {a.role: a for a in _live(sqlite_db, lb)}
    rebuilt = now[c.ROLE_MASTER]
    assert rebuilt.id != master.id and now[c.ROLE_BACKUP].id == backup.id
    assert rebuilt.vrrp_ip != master.vrrp_ip  # the dead one's port was still reserved
    want = {c.ROLE_MASTER: rebuilt.vrrp_ip, c.ROLE_BACKUP: backup.vrrp_ip}
    # the survivor was pushed again at the same generation, naming the new address
    version, text = world.configs[backup.lb_network_ip]
    assert version == 1 and (backup.lb_network_ip, 1) in world.pushes
    assert _peer_lines(text) == want
    assert master.vrrp_ip not in text
    assert _peer_lines(world.configs[rebuilt.lb_network_ip][1]) == want
