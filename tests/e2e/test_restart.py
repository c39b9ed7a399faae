"""``hydria up`` crashes and clean stops: load balancers come back and serve."""

from __future__ import annotations

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _serve_one(up: HydriaUp, backend: HTTPBackend) -> str:
    with up.api() as api:
        subnet = httpx.get(up.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        lb = api.post("/lbaas/loadbalancers", json={"loadbalancer": {
            "vip_subnet_id": subnet["id"]}}).json()["loadbalancer"]
        path = f"/lbaas/loadbalancers/{lb['id']}"
        up.wait_for(path, "loadbalancer", "ACTIVE")
        listener = api.post("/lbaas/listeners", json={"listener": {
            "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}}).json()
        up.wait_for(path, "loadbalancer", "ACTIVE")
        pool = api.post("/lbaas/pools", json={"pool": {
            "listener_id": listener["listener"]["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}}).json()["pool"]
        up.wait_for(path, "loadbalancer", "ACTIVE")
        api.post(f"/lbaas/pools/{pool['id']}/members", json={"member": {
            "address": backend.host, "protocol_port": backend.port}})
        up.wait_for(path, "loadbalancer", "ACTIVE")
    return lb["vip_address"]


def _get(vip: str) -> str:
    return httpx.get(f"http://{vip}/", timeout=5).text


def _wait_serving(vip: str, timeout: float = 60.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return _get(vip)
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"{vip} does not serve: {last!r}")


def test_crash_keeps_data_plane_and_clean_stop_restores(tmp_path):
    backend = HTTPBackend("kept")
    up = HydriaUp(tmp_path / "state")
    try:
        up.start()
        vip = _serve_one(up, backend)
        assert _get(vip) == "kept"

        up.kill()  # a crash: amphorae live on, as VMs would
        assert _get(vip) == "kept"
        up.start()
        assert _wait_serving(vip) == "kept"

        up.stop()  # a clean stop takes the amphorae down on purpose
        assert pids_mentioning(str(up.state_dir)) == []
        with pytest.raises(httpx.HTTPError):
            _get(vip)

        up.start()  # and the next start brings them back
        with up.api() as api:
            lbs = api.get("/lbaas/loadbalancers").json()["loadbalancers"]
        assert [lb["provisioning_status"] for lb in lbs] == ["ACTIVE"]
        assert _wait_serving(vip) == "kept"
    finally:
        up.cleanup()
        backend.stop()
    assert pids_mentioning(str(up.state_dir)) == []
