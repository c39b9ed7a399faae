"""``hydria up`` serves Prometheus text for all its pieces at /metrics."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _samples(endpoint: str) -> dict[tuple[str, str], float]:
    text = httpx.get(endpoint + "/metrics", timeout=5).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, s.labels.get("kind") or s.labels.get("outcome") or "")] = s.value
    return out


def test_up_exports_reconciles_and_heartbeats(hydria):
    with hydria.api() as api:
        subnet = httpx.get(hydria.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        lb = api.post(
            "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet["id"]}}
        ).json()["loadbalancer"]
        hydria.wait_for(f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", "ACTIVE")
    assert _samples(hydria.endpoint)[("hydria_reconciles_total", "done")] >= 1
    deadline = time.monotonic() + 60  # heartbeats come every interval
    while _samples(hydria.endpoint).get(("hydria_health_heartbeats_total", "recorded"), 0) < 1:
        assert time.monotonic() < deadline, "no heartbeat recorded"
        time.sleep(0.2)
