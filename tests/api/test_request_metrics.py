"""API requests are counted for Prometheus by route template, never by raw path."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY


def _count(method: str, route: str, status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "hydria_api_requests_total", {"method": method, "route": route, "status": status}
        )
        or 0.0
    )


def test_requests_are_counted_by_route_template_and_status(client):
    listed = _count("GET", "/lbaas/loadbalancers", "200")
    missing = _count("GET", "/lbaas/loadbalancers/{lb_id}", "404")
    assert client.get("/v2/lbaas/loadbalancers").status_code == 200
    for _ in range(3):  # three different ids: one label set, not three
        assert client.get(f"/v2/lbaas/loadbalancers/{uuid.uuid4()}").status_code == 404
    assert _count("GET", "/lbaas/loadbalancers/{lb_id}", "404") == missing + 3
    assert client.get("/v2.0/lbaas/loadbalancers").status_code == 200  # the same label
    assert _count("GET", "/lbaas/loadbalancers", "200") == listed + 2
    text = client.get("/metrics").text
    assert (
        'hydria_api_request_seconds_bucket{le="0.005",method="GET",'
        'route="/lbaas/loadbalancers"}' in text
    )


def test_a_path_no_route_matches_is_one_label(client):
    before = _count("GET", "unmatched", "404")
    client.get(f"/v2/no/such/{uuid.uuid4()}")
    assert _count("GET", "unmatched", "404") == before + 1


def test_invented_methods_share_one_label(client):
    before = _count("OTHER", "unmatched", "405") + _count("OTHER", "/lbaas/loadbalancers", "405")
    for i in range(5):
        client.request(f"RND{i:06d}", "/v2/lbaas/loadbalancers")
    after = _count("OTHER", "unmatched", "405") + _count("OTHER", "/lbaas/loadbalancers", "405")
    assert after == before + 5
    text = client.get("/metrics").text
    assert "RND000001" not in text
