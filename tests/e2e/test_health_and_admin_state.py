"""HAProxy's own health checks take a dead member out; admin_state_up=false does too."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.lbs import build_http_lb, public_subnet_id

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _lb_with_pool(hydria, backends, *, monitor: bool):
    with hydria.api() as api:
        built = build_http_lb(
            api,
            public_subnet_id(hydria.endpoint),
            [(b.host, b.port) for b in backends],
            monitor=monitor,
        )
    return built.lb, built.pool, built.members


def _served_by(vip: str, n: int = 10) -> list[str]:
    out = []
    with httpx.Client(timeout=5) as client:
        for _ in range(n):
            res = client.get(f"http://{vip}/")
            out.append(res.text if res.status_code == 200 else f"HTTP {res.status_code}")
    return out


def test_health_monitor_takes_a_stopped_member_out(hydria, http_backends):
    lb, _pool, _members = _lb_with_pool(hydria, http_backends, monitor=True)
    assert set(_served_by(lb["vip_address"])) == {"web-0", "web-1"}
    http_backends[1].stop()
    # HAProxy needs one failed check (delay 1 s) to mark it down; poll, do not sleep blindly
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if set(_served_by(lb["vip_address"], 6)) == {"web-0"}:
            break
        time.sleep(0.2)
    assert set(_served_by(lb["vip_address"], 20)) == {"web-0"}


def test_admin_state_down_member_gets_no_traffic(hydria, http_backends):
    lb, pool, members = _lb_with_pool(hydria, http_backends, monitor=False)
    with hydria.api() as api:
        res = api.put(
            f"/lbaas/pools/{pool['id']}/members/{members[0]['id']}",
            json={"member": {"admin_state_up": False}},
        )
        assert res.status_code == 200, res.text
        hydria.wait_for(f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", "ACTIVE")
        member = api.get(f"/lbaas/pools/{pool['id']}/members/{members[0]['id']}").json()
        assert member["member"]["operating_status"] == "OFFLINE"
    assert set(_served_by(lb["vip_address"], 20)) == {"web-1"}
