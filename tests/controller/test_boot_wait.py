"""A compute driver that hears its amphora boot (``SignalsBoot``) is waited on
before the agent is asked: the reconciler sleeps instead of polling the port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydria.controller.reconciler import Reconciler, ReconcilerOptions
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.drivers.compute.base import SignalsBoot
from tests.controller.test_failover import World
from tests.support.factories import make_lb, make_subnet


class SignallingWorld(World):
    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.calls: list[tuple[str, str]] = []

    def wait_booted(self, amphora_id: str, timeout: float) -> None:
        assert timeout > 0
        self.calls.append(("wait_booted", amphora_id))

    def wait_ready(self, ip: str, port: int, *, timeout: float) -> dict[str, Any]:
        self.calls.append(("wait_ready", ip))
        return super().wait_ready(ip, port, timeout=timeout)


def test_the_reconciler_waits_for_the_boot_signal_before_asking_the_agent(
    sqlite_db: Any, tmp_path: Path
) -> None:
    world = SignallingWorld(sqlite_db)
    assert isinstance(world, SignalsBoot)
    opts = ReconcilerOptions(
        mgmt_start="127.43.251.10", mgmt_end="127.43.251.20", max_connections=1000
    )
    ca = ControllerCA.load_or_create(tmp_path / "pki")
    reconciler = Reconciler(sqlite_db, world, world, world, ca, opts)  # type: ignore[arg-type]
    lb = make_lb(sqlite_db, subnet_id=make_subnet(sqlite_db), with_children=True)
    assert reconciler.reconcile(lb).kind == "done"
    [(amp_id, ip)] = world.running.items()
    assert world.calls == [("wait_booted", amp_id), ("wait_ready", ip)]
