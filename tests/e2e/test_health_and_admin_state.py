"""HAProxy's own health checks take a dead member out; admin_state_up=false does too."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.integration


def _lb_with_pool(hydria, backends, *, monitor: bool):
    with hydria.api() as api:
        subnet = httpx.get(hydria.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        lb = api.post("/lbaas/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": subnet["id"]}}).json()["loadbalancer"]
        path = f"/lbaas/loadbalancers/{lb['id']}"
        hydria.wait_for(path, "loadbalancer", "ACTIVE")
        listener = api.post("/lbaas/listeners", json={"listener": {
            "loadbalancer_id": lb["id"], "protocol": "HTTP",
            "protocol_port": 80}}).json()["listener"]
        hydria.wait_for(path, "loadbalancer", "ACTIVE")
        pool = api.post("/lbaas/pools", json={"pool": {
            "listener_id": listener["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]
        hydria.wait_for(path, "loadbalancer", "ACTIVE")
        members = []
        for b in backends:
            members.append(api.post(f"/lbaas/pools/{pool['id']}/members", json={"member": {
                "address": b.host, "protocol_port": b.port}}).json()["member"])
            hydria.wait_for(path, "loadbalancer", "ACTIVE")
        if monitor:
            res = api.post("/lbaas/healthmonitors", json={"healthmonitor": {
                "pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 1,
                "max_retries": 1, "max_retries_down": 1}})
            assert res.status_code == 201, res.text
            hydria.wait_for(path, "loadbalancer", "ACTIVE")
    return lb, pool, members


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
        res = api.put(f"/lbaas/pools/{pool['id']}/members/{members[0]['id']}",
                      json={"member": {"admin_state_up": False}})
        assert res.status_code == 200, res.text
        hydria.wait_for(f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", "ACTIVE")
        member = api.get(f"/lbaas/pools/{pool['id']}/members/{members[0]['id']}").json()
        assert member["member"]["operating_status"] == "OFFLINE"
    assert set(_served_by(lb["vip_address"], 20)) == {"web-1"}
