"""openstacksdk's load_balancer proxy drives the same flow."""

from __future__ import annotations

import httpx
import openstack
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


@pytest.fixture
def conn(hydria):
    c = openstack.connection.Connection(
        auth_type="none",
        auth={"endpoint": hydria.endpoint},
        load_balancer_endpoint_override=hydria.endpoint,
        network_endpoint_override=hydria.endpoint,
    )
    yield c
    c.close()


def _active(conn, lb):
    return conn.load_balancer.wait_for_load_balancer(lb.id, status="ACTIVE", interval=0.05, wait=60)


def test_sdk_flow(conn, http_backends):
    lb_api = conn.load_balancer
    subnet = conn.network.find_subnet("public")
    assert subnet is not None
    lb = lb_api.create_load_balancer(name="sdk", vip_subnet_id=subnet.id)
    assert lb.provisioning_status == "PENDING_CREATE"
    lb = _active(conn, lb)
    listener = lb_api.create_listener(
        loadbalancer_id=lb.id, protocol="HTTP", protocol_port=8080, timeout_client_data=20000
    )
    _active(conn, lb)
    pool = lb_api.create_pool(
        listener_id=listener.id, protocol="HTTP", lb_algorithm="LEAST_CONNECTIONS"
    )
    _active(conn, lb)
    for b in http_backends:
        lb_api.create_member(pool, address=b.host, protocol_port=b.port, weight=5)
        _active(conn, lb)
    hm = lb_api.create_health_monitor(
        pool_id=pool.id, type="HTTP", delay=1, timeout=1, max_retries=1, url_path="/health"
    )
    _active(conn, lb)
    assert lb_api.get_health_monitor(hm.id).provisioning_status == "ACTIVE"
    assert {m.weight for m in lb_api.members(pool)} == {5}
    assert lb_api.get_listener(listener.id).timeout_client_data == 20000

    with httpx.Client(timeout=5) as client:
        seen = {client.get(f"http://{lb.vip_address}:8080/").text for _ in range(20)}
    assert seen <= {"web-0", "web-1"} and seen

    lb_api.delete_load_balancer(lb.id, cascade=True)
    lb_api.wait_for_delete(lb, interval=0.05, wait=60)
