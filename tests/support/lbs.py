"""Driving load balancers through the v2 API the way a client must: one change,
then wait for ACTIVE, then the next. Shared by the end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


def lb_status(client: httpx.Client, lb_id: str, *, outage_ok: bool = False) -> str:
    """The provisioning status; '' for a 503 when a database outage is expected.
    Any other 5xx fails the test."""
    res = client.get(f"/lbaas/loadbalancers/{lb_id}")
    if res.status_code == 503 and outage_ok:
        return ""
    assert res.status_code < 500, res.text
    return str(res.json()["loadbalancer"]["provisioning_status"])


def wait_lb(
    client: httpx.Client,
    lb_id: str,
    status: str = "ACTIVE",
    *,
    timeout: float = 90.0,
    outage_ok: bool = False,
) -> None:
    """Poll until ``status``; a load balancer going to ERROR instead fails at once."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = lb_status(client, lb_id, outage_ok=outage_ok)
        if seen == status:
            return
        assert seen != "ERROR" or status == "ERROR", f"{lb_id} went to ERROR"
        time.sleep(0.05)
    raise AssertionError(f"{lb_id} not {status} in {timeout}s (last: {seen or 'no answer'})")


@dataclass
class HTTPLoadBalancer:
    lb: dict[str, Any]
    listener: dict[str, Any]
    pool: dict[str, Any]
    members: list[dict[str, Any]]

    @property
    def vip(self) -> str:
        return str(self.lb["vip_address"])


def build_http_lb(
    client: httpx.Client,
    subnet_id: str,
    backends: list[tuple[str, int]],
    *,
    monitor: bool = False,
    timeout: float = 90.0,
    settled: Callable[[str], None] | None = None,
) -> HTTPLoadBalancer:
    """LB, HTTP listener on 80, ROUND_ROBIN pool, a member per back-end and, if asked,
    an HTTP health monitor (1 s delay, one failure marks down). After each write,
    ``settled(lb_id)`` (default: poll until ACTIVE)."""
    if settled is None:

        def settled(lb_id: str) -> None:
            wait_lb(client, lb_id, timeout=timeout)

    def post(path: str, root: str, body: dict[str, Any]) -> dict[str, Any]:
        res = client.post(path, json={root: body})
        assert res.status_code == 201, res.text
        return dict(res.json()[root])

    lb = post("/lbaas/loadbalancers", "loadbalancer", {"vip_subnet_id": subnet_id})
    settled(lb["id"])
    listener = post(
        "/lbaas/listeners",
        "listener",
        {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80},
    )
    settled(lb["id"])
    pool = post(
        "/lbaas/pools",
        "pool",
        {"listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
    )
    settled(lb["id"])
    members = []
    for host, port in backends:
        members.append(
            post(
                f"/lbaas/pools/{pool['id']}/members",
                "member",
                {"address": host, "protocol_port": port},
            )
        )
        settled(lb["id"])
    if monitor:
        post(
            "/lbaas/healthmonitors",
            "healthmonitor",
            {
                "pool_id": pool["id"],
                "type": "HTTP",
                "delay": 1,
                "timeout": 1,
                "max_retries": 1,
                "max_retries_down": 1,
            },
        )
        settled(lb["id"])
    return HTTPLoadBalancer(lb, listener, pool, members)


def public_subnet_id(endpoint: str) -> str:
    return str(httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"])
