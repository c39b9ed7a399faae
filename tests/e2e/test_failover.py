"""Automatic failover with real heartbeats: SIGKILL an amphora, Hydria replaces it.

``hydria up`` runs with a 0.5 s heartbeat interval and a 3 s timeout. Every
wait polls with a deadline; nothing asserts how long anything took.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

TIMEOUT = 3.0
ENV = {"HYDRIA_HEARTBEAT_INTERVAL": "0.5", "HYDRIA_HEARTBEAT_TIMEOUT": str(int(TIMEOUT))}
T = TypeVar("T")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[HydriaUp]:
    hydria = HydriaUp(tmp_path / "state", extra_env=ENV)
    try:
        hydria.start()
        yield hydria
    finally:
        hydria.cleanup()
    assert pids_mentioning(str(hydria.state_dir)) == [], "processes left behind"


@pytest.fixture
def backend() -> Iterator[HTTPBackend]:
    server = HTTPBackend("web")
    yield server
    server.stop()


# -- helpers -----------------------------------------------------------------


def rows(up: HydriaUp, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Read Hydria's own database (read-only, so we never hold its write lock)."""
    conn = sqlite3.connect(f"file:{up.state_dir / 'hydria.db'}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def amphorae(up: HydriaUp, lb_id: str) -> list[sqlite3.Row]:
    return rows(
        up,
        "SELECT id, status, failover_requested FROM amphorae "
        "WHERE load_balancer_id = ? ORDER BY created_at",
        lb_id,
    )


def eventually(
    what: str, probe: Callable[[], T | None], *, timeout: float = 90.0, up: HydriaUp | None = None
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout}s: {what}\n{up.log(tail=8000) if up else ''}")


def holds_for(seconds: float, probe: Callable[[], bool], *, up: HydriaUp | None = None) -> None:
    """``probe`` stays true for ``seconds`` (a property over time, not a speed limit)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe(), up.log(tail=8000) if up else "no longer true"
        time.sleep(0.2)


def get(vip: str) -> str | None:
    try:
        res = httpx.get(f"http://{vip}/", timeout=2)
    except httpx.HTTPError:
        return None
    return res.text if res.status_code == 200 else None


def create_lbs(up: HydriaUp, backend: HTTPBackend, count: int) -> list[dict[str, Any]]:
    """``count`` load balancers, each with an HTTP listener, a pool and ``backend``,
    built side by side; returns their bodies once every VIP serves."""
    subnet = httpx.get(up.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
    with up.api() as api:
        lbs = [
            api.post(
                "/lbaas/loadbalancers",
                json={"loadbalancer": {"name": f"fo-{i}", "vip_subnet_id": subnet["id"]}},
            ).json()["loadbalancer"]
            for i in range(count)
        ]
        paths = [f"/lbaas/loadbalancers/{lb['id']}" for lb in lbs]

        def all_active() -> None:
            for path in paths:
                up.wait_for(path, "loadbalancer", "ACTIVE", timeout=90)

        all_active()
        listeners = [
            api.post(
                "/lbaas/listeners",
                json={
                    "listener": {
                        "loadbalancer_id": lb["id"],
                        "protocol": "HTTP",
                        "protocol_port": 80,
                    }
                },
            ).json()["listener"]
            for lb in lbs
        ]
        all_active()
        pools = [
            api.post(
                "/lbaas/pools",
                json={
                    "pool": {
                        "listener_id": lst["id"],
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                    }
                },
            ).json()["pool"]
            for lst in listeners
        ]
        all_active()
        for pool in pools:
            res = api.post(
                f"/lbaas/pools/{pool['id']}/members",
                json={"member": {"address": backend.host, "protocol_port": backend.port}},
            )
            assert res.status_code == 201, res.text
        all_active()
    for lb in lbs:
        eventually(
            f"{lb['vip_address']} serves", lambda lb=lb: get(lb["vip_address"]) == "web", up=up
        )
    return lbs


def the_amphora(up: HydriaUp, lb_id: str) -> str:
    live = [a for a in amphorae(up, lb_id) if a["status"] != "DELETED"]
    assert len(live) == 1, live
    return str(live[0]["id"])


def heard_from(up: HydriaUp, amp_id: str) -> bool:
    return bool(rows(up, "SELECT 1 FROM amphora_health WHERE amphora_id = ?", amp_id))


def amphora_dir(up: HydriaUp, amp_id: str) -> str:
    return str(up.state_dir / "amphorae" / amp_id)


def sigkill_amphorae(up: HydriaUp, amp_ids: list[str]) -> None:
    """SIGKILL each amphora's agent and its HAProxy (master and workers), all at once:
    every process whose command line names the amphora's folder."""
    pids = {amp: pids_mentioning(amphora_dir(up, amp)) for amp in amp_ids}
    for amp, found in pids.items():
        # the agent (--dir <folder>) and HAProxy (-f <folder>/haproxy.cfg), master + worker
        assert len(found) >= 3, f"amphora {amp}: processes {found}"
    for found in pids.values():
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def lb_status(up: HydriaUp, lb_id: str) -> str:
    with up.api() as api:
        return str(
            api.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]["provisioning_status"]
        )


# -- tests -------------------------------------------------------------------


def test_a_killed_amphora_is_replaced_and_the_vip_serves_again(up, backend):
    [lb] = create_lbs(up, backend, 1)
    vip, lb_id = lb["vip_address"], lb["id"]
    old = the_amphora(up, lb_id)
    eventually("heartbeats from the amphora", lambda: heard_from(up, old), up=up)
    # a live amphora that sends heartbeats is left alone, well past the timeout
    holds_for(2 * TIMEOUT, lambda: the_amphora(up, lb_id) == old and get(vip) == "web")

    sigkill_amphorae(up, [old])

    def replaced() -> str | None:
        live = [a for a in amphorae(up, lb_id) if a["status"] != "DELETED"]
        if len(live) != 1 or live[0]["id"] == old or live[0]["status"] != "ALLOCATED":
            return None
        return str(live[0]["id"])

    new = eventually("a new amphora replaces the old one", replaced, up=up)
    eventually("the VIP serves again", lambda: get(vip) == "web", up=up)
    eventually("the load balancer is ACTIVE", lambda: lb_status(up, lb_id) == "ACTIVE", up=up)
    [gone] = [a for a in amphorae(up, lb_id) if a["id"] == old]
    assert (gone["status"], gone["failover_requested"]) == ("DELETED", 0)
    assert not heard_from(up, old)  # its health row went with it
    assert pids_mentioning(amphora_dir(up, old)) == []
    assert not Path(amphora_dir(up, old)).exists()
    # the new amphora sends heartbeats and serves on the same VIP from its own processes
    eventually("heartbeats from the new amphora", lambda: heard_from(up, new), up=up)
    assert len(pids_mentioning(amphora_dir(up, new))) >= 3
    assert "event=failover_done" in up.log()


def test_killing_most_amphorae_at_once_is_a_storm_not_a_mass_failover(up, backend):
    lbs = create_lbs(up, backend, 4)
    amps = {lb["id"]: the_amphora(up, lb["id"]) for lb in lbs}
    for amp in amps.values():
        eventually(f"heartbeats from {amp}", lambda amp=amp: heard_from(up, amp), up=up)
    victims = [amps[lb["id"]] for lb in lbs[:3]]
    survivor = lbs[3]

    sigkill_amphorae(up, victims)

    eventually("the storm alarm", lambda: "event=failover_storm " in up.log(), up=up)
    # it holds: several timeouts later nothing was failed over
    holds_for(
        3 * TIMEOUT,
        lambda: all(
            [(a["id"], a["failover_requested"]) for a in amphorae(up, lb_id)] == [(amp, 0)]
            for lb_id, amp in amps.items()
        ),
        up=up,
    )
    assert get(survivor["vip_address"]) == "web"
    for lb in lbs:
        assert lb_status(up, lb["id"]) == "ACTIVE"
    assert "event=failover_requested" not in up.log()
