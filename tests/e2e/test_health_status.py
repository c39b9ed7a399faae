"""Heartbeats move operating status: HAProxy's checks, seen through the API.

A real ``hydria up`` with sub-second heartbeats: members behind an HTTP health
monitor report ONLINE; a stopped back-end turns its member ERROR and the pool
DEGRADED; started again, both are ONLINE again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.procs import pids_mentioning

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    up = HydriaUp(tmp_path_factory.mktemp("hydria-health") / "state",
                  extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"})
    try:
        up.start()
        yield up
    finally:
        up.cleanup()
    assert pids_mentioning(str(up.state_dir)) == [], "processes left behind"


def _wait_operating(hydria: HydriaUp, want: dict[str, str], *, timeout: float = 60.0) -> None:
    """Poll until every ``path -> operating_status`` in ``want`` holds at once."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with hydria.api() as api:
        while time.monotonic() < deadline:
            for path in want:
                res = api.get(path)
                assert res.status_code == 200, res.text
                body = res.json()
                seen[path] = next(iter(body.values()))["operating_status"]
            if seen == want:
                return
            time.sleep(0.1)
    raise AssertionError(f"operating status {seen}, wanted {want}\n{hydria.log()}")


def test_member_status_follows_the_backend(hydria: HydriaUp) -> None:
    backends = [HTTPBackend(f"web-{i}") for i in range(2)]
    try:
        with hydria.api() as api:
            subnet = httpx.get(hydria.endpoint + "/v2.0/subnets?name=public").json()[
                "subnets"][0]
            lb = api.post("/lbaas/loadbalancers", json={"loadbalancer": {
                "vip_subnet_id": subnet["id"]}}).json()["loadbalancer"]
            lb_path = f"/lbaas/loadbalancers/{lb['id']}"
            hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")
            listener = api.post("/lbaas/listeners", json={"listener": {
                "loadbalancer_id": lb["id"], "protocol": "HTTP",
                "protocol_port": 80}}).json()["listener"]
            hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")
            pool = api.post("/lbaas/pools", json={"pool": {
                "listener_id": listener["id"], "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]
            hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")
            members = []
            for b in backends:
                res = api.post(f"/lbaas/pools/{pool['id']}/members", json={"member": {
                    "address": b.host, "protocol_port": b.port}})
                assert res.status_code == 201, res.text
                members.append(res.json()["member"])
                hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")
            res = api.post("/lbaas/healthmonitors", json={"healthmonitor": {
                "pool_id": pool["id"], "type": "HTTP", "delay": 1, "timeout": 1,
                "max_retries": 1, "max_retries_down": 1}})
            assert res.status_code == 201, res.text
            hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")

        pool_path = f"/lbaas/pools/{pool['id']}"
        m0, m1 = (f"{pool_path}/members/{m['id']}" for m in members)
        _wait_operating(hydria, {m0: "ONLINE", m1: "ONLINE", pool_path: "ONLINE",
                                 lb_path: "ONLINE", f"/lbaas/listeners/{listener['id']}":
                                 "ONLINE"})

        port = backends[1].port
        backends[1].stop()
        _wait_operating(hydria, {m0: "ONLINE", m1: "ERROR", pool_path: "DEGRADED",
                                 lb_path: "DEGRADED"})
        with hydria.api() as api:  # heartbeats never touch provisioning status
            assert api.get(lb_path).json()["loadbalancer"]["provisioning_status"] == "ACTIVE"
            assert api.get(m1).json()["member"]["provisioning_status"] == "ACTIVE"

        backends[1] = HTTPBackend("web-1", port=port)
        _wait_operating(hydria, {m0: "ONLINE", m1: "ONLINE", pool_path: "ONLINE",
                                 lb_path: "ONLINE"})
    finally:
        for b in backends:
            b.stop()
