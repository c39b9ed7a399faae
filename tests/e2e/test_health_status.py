"""Heartbeats move operating status: HAProxy's checks, seen through the API.

A real ``hydria up`` with sub-second heartbeats: members behind an HTTP health
monitor report ONLINE; a stopped back-end turns its member ERROR and the pool
DEGRADED; started again, both are ONLINE again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp, running
from tests.support.lbs import build_http_lb, public_subnet_id

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(
        tmp_path_factory.mktemp("hydria-health") / "state",
        extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"},
    ) as up:
        yield up


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
    raise AssertionError(f"operating status {seen}, wanted {want}\n{hydria.log(tail=8000)}")


def test_member_status_follows_the_backend(hydria: HydriaUp) -> None:
    backends = [HTTPBackend(f"web-{i}") for i in range(2)]
    try:
        with hydria.api() as api:
            built = build_http_lb(
                api,
                public_subnet_id(hydria.endpoint),
                [(b.host, b.port) for b in backends],
                monitor=True,
            )
        lb, listener, pool, members = built.lb, built.listener, built.pool, built.members
        lb_path = f"/lbaas/loadbalancers/{lb['id']}"

        pool_path = f"/lbaas/pools/{pool['id']}"
        m0, m1 = (f"{pool_path}/members/{m['id']}" for m in members)
        _wait_operating(
            hydria,
            {
                m0: "ONLINE",
                m1: "ONLINE",
                pool_path: "ONLINE",
                lb_path: "ONLINE",
                f"/lbaas/listeners/{listener['id']}": "ONLINE",
            },
        )

        port = backends[1].port
        backends[1].stop()
        _wait_operating(
            hydria, {m0: "ONLINE", m1: "ERROR", pool_path: "DEGRADED", lb_path: "DEGRADED"}
        )
        with hydria.api() as api:  # heartbeats never touch provisioning status
            assert api.get(lb_path).json()["loadbalancer"]["provisioning_status"] == "ACTIVE"
            assert api.get(m1).json()["member"]["provisioning_status"] == "ACTIVE"

        backends[1] = HTTPBackend("web-1", port=port)
        _wait_operating(
            hydria, {m0: "ONLINE", m1: "ONLINE", pool_path: "ONLINE", lb_path: "ONLINE"}
        )
    finally:
        for b in backends:
            b.stop()
