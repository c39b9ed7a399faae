"""A fully populated create through openstacksdk, shaped as cloud-provider-openstack
sends it: one POST with a listener whose default pool carries the members and an HTTP
health monitor. It converges to ACTIVE, and HTTP through the VIP reaches both back-ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openstack
import pytest

from tests.support.hydria_proc import HydriaUp, running

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    # Sub-second heartbeats, so the members' ONLINE status shows the monitor at work.
    with running(
        tmp_path_factory.mktemp("hydria-graph") / "state",
        extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"},
    ) as up:
        yield up


@pytest.fixture
def conn(hydria: HydriaUp) -> Iterator[openstack.connection.Connection]:
    c = openstack.connection.Connection(
        auth_type="none",
        auth={"endpoint": hydria.endpoint},
        load_balancer_endpoint_override=hydria.endpoint,
        network_endpoint_override=hydria.endpoint,
    )
    yield c
    c.close()


def _wait_members_online(conn, pool_id: str, *, timeout: float = 60.0) -> None:
    """The monitor runs: HAProxy's checks reach the API as ONLINE members."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = [m.operating_status for m in conn.load_balancer.members(pool_id)]
        if seen and set(seen) == {"ONLINE"}:
            return
        time.sleep(0.2)
    raise AssertionError(f"members never all ONLINE: {seen}")


def test_fully_populated_create_serves_both_backends(hydria, conn, http_backends):
    lb_api = conn.load_balancer
    subnet = conn.network.find_subnet("public")
    assert subnet is not None
    lb = lb_api.create_load_balancer(
        name="kube_service_kubernetes_default_web",
        description="Kubernetes external service",
        vip_subnet_id=subnet.id,
        tags=["kube_service_kubernetes_default_web"],
        listeners=[
            {
                "name": "listener_0_kube_service_kubernetes_default_web",
                "protocol": "HTTP",
                "protocol_port": 8080,
                "allowed_cidrs": ["0.0.0.0/0"],
                "insert_headers": {"X-Forwarded-For": "true"},
                "timeout_client_data": 50000,
                "timeout_member_data": 50000,
                "timeout_member_connect": 5000,
                "timeout_tcp_inspect": 0,
                "tags": ["kube_service_kubernetes_default_web"],
                "default_pool": {
                    "name": "pool_0_kube_service_kubernetes_default_web",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": [
                        {"name": f"node-{i}", "address": b.host, "protocol_port": b.port}
                        for i, b in enumerate(http_backends)
                    ],
                    "healthmonitor": {
                        "name": "monitor_0_kube_service_kubernetes_default_web",
                        "type": "HTTP",
                        "delay": 1,
                        "timeout": 1,
                        "max_retries": 1,
                        "max_retries_down": 3,
                        "url_path": "/healthz",
                        "http_method": "GET",
                        "expected_codes": "200",
                    },
                },
            }
        ],
    )
    assert lb.provisioning_status == "PENDING_CREATE"
    (listener,) = lb.listeners
    (pool,) = lb.pools
    assert listener["default_pool_id"] == pool["id"]
    assert len(pool["members"]) == 2 and pool["healthmonitor"]["type"] == "HTTP"

    lb = lb_api.wait_for_load_balancer(lb.id, status="ACTIVE", interval=0.05, wait=90)
    assert lb_api.get_listener(listener["id"]).provisioning_status == "ACTIVE"
    assert lb_api.get_pool(pool["id"]).provisioning_status == "ACTIVE"
    assert {m.provisioning_status for m in lb_api.members(pool["id"])} == {"ACTIVE"}
    hm = lb_api.get_health_monitor(pool["healthmonitor"]["id"])
    assert hm.provisioning_status == "ACTIVE"
    _wait_members_online(conn, pool["id"])

    with httpx.Client(timeout=5) as client:
        seen = {client.get(f"http://{lb.vip_address}:8080/").text for _ in range(20)}
    assert seen == {"web-0", "web-1"}

    lb_api.delete_load_balancer(lb.id, cascade=True)
    lb_api.wait_for_delete(lb, interval=0.05, wait=60)
