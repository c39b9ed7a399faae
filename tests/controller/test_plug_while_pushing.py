"""An amphora whose HAProxy may bind addresses it does not hold yet (``netns``:
``ip_nonlocal_bind``, reported as ``binds_any_address``) is plugged while its
configuration is pushed, not before: on a busy host each is a few processes,
and a create waited for the sum. One that may not is plugged first, as before.
Real reconciler and database, the amphora in memory (``World``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from hydria.controller.reconciler import Reconciler, ReconcilerOptions
from hydria.core.errors import TemporaryError
from hydria.drivers.certs.local_ca import ControllerCA
from tests.controller.test_failover import World
from tests.support.factories import make_lb, make_subnet


class PluggedWorld(World):
    plugs_ports = True

    def __init__(self, db: Any, *, binds_any: bool) -> None:
        super().__init__(db)
        self.binds_any = binds_any
        self.pushing = threading.Event()
        self.events: list[str] = []
        self.plug_fails = False

    def info(self, ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        return {**super().info(ip, port), "binds_any_address": self.binds_any}

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: object, *, hold_vip: bool = True
    ) -> None:
        if self.binds_any:
            # plugged in a thread of its own: the push has started meanwhile (a
            # plug before the push would wait here for nothing, and say so)
            self.events.append("push seen" if self.pushing.wait(30) else "push not seen")
        self.events.append("plugged")
        if self.plug_fails:
            raise TemporaryError("the bridge went away")
        super().plug_vip(amphora_id, vip_address, port, hold_vip=hold_vip)

    def plug_members(self, amphora_id: str, ports: object, *, vip_subnet_id: str) -> None:
        self.events.append("members")

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        self.pushing.set()
        self.events.append("pushed")
        return super().put_config(ip, port, text, version)


def _reconciler(db: Any, world: World, tmp_path: Path) -> Reconciler:
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    opts = ReconcilerOptions(
        mgmt_start="127.43.250.10", mgmt_end="127.43.250.20", max_connections=1000
    )
    return Reconciler(db, world, world, world, ca, opts)  # type: ignore[arg-type]


def test_the_vip_is_plugged_while_haproxy_starts(sqlite_db, tmp_path: Path) -> None:
    world = PluggedWorld(sqlite_db, binds_any=True)
    lb = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    assert _reconciler(sqlite_db, world, tmp_path).reconcile(lb).kind == "done"
    assert "push not seen" not in world.events
    assert world.events.index("pushed") < world.events.index("plugged")
    assert list(world.vips.values()) and list(world.configs.values())


def test_without_nonlocal_bind_the_vip_is_plugged_first(sqlite_db, tmp_path: Path) -> None:
    world = PluggedWorld(sqlite_db, binds_any=False)
    lb = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    assert _reconciler(sqlite_db, world, tmp_path).reconcile(lb).kind == "done"
    # the members' ports before the VIP: traffic the VIP draws finds its members
    assert world.events == ["members", "plugged", "pushed"]


def test_a_plug_that_fails_fails_the_step_after_the_push(sqlite_db, tmp_path: Path) -> None:
    world = PluggedWorld(sqlite_db, binds_any=True)
    world.plug_fails = True
    lb = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    with pytest.raises(TemporaryError, match="bridge"):
        _reconciler(sqlite_db, world, tmp_path).reconcile(lb)
    assert "pushed" in world.events
