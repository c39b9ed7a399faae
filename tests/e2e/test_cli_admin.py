"""The real ``openstack`` CLI's admin and read-out commands against a real ``hydria up``:
amphora list/show/stats/configure/failover, load balancer status and stats, and
load balancer failover, with real HAProxy serving real back-ends throughout."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.backends import HTTPBackend

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

STATS_KEYS = {"active_connections", "bytes_in", "bytes_out", "request_errors", "total_connections"}
POLL_TIMEOUT = 90.0


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def _fast_heartbeats() -> Iterator[None]:
    """Heartbeats every second to a health manager on a port of this module's own
    (other test runs may hold 5555). Autouse, so it is set before ``hydria`` starts."""
    wanted = {
        "HYDRIA_HEARTBEAT_INTERVAL": "1",
        "HYDRIA_HEALTH_BIND": f"127.0.0.1:{_free_udp_port()}",
    }
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _poll(what: str, probe: Any, *, timeout: float = POLL_TIMEOUT, log: Any = None) -> Any:
    """Call ``probe`` until it returns something truthy; fail with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(
        f"{what}: still not so after {timeout}s (last: {last!r})\n{log(tail=8000) if log else ''}"
    )


def _get(url: str) -> str | None:
    try:
        res = httpx.get(url, timeout=3)
    except httpx.HTTPError:
        return None
    return res.text if res.status_code == 200 else None


def _amphorae(hydria: Any, lb_id: str) -> list[dict[str, Any]]:
    return list(hydria.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb_id))


def _live_amphora_ids(hydria: Any, lb_id: str) -> set[str]:
    with hydria.api() as api:
        body = api.get("/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()
    return {a["id"] for a in body["amphorae"] if a["status"] != "DELETED"}


def _lb_status(hydria: Any, lb_id: str) -> str:
    with hydria.api() as api:
        return str(
            api.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]["provisioning_status"]
        )


class Traffic:
    """Requests to the VIP in a thread, counting answers and failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=3) as client:
            while not self._stop.is_set():
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.ok += 1
                else:
                    self.failed += 1
                time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(scope="module")
def stack(hydria: Any) -> Iterator[dict[str, Any]]:
    """One load balancer with an HTTP listener, a pool and two real back-ends."""
    backends = [HTTPBackend(f"admin-{i}") for i in range(2)]
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "admin-e2e", "--vip-subnet-id", "public", "--wait")
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "http",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb["id"],
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "web",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--wait",
    )
    members = [
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            b.host,
            "--protocol-port",
            str(b.port),
            "--wait",
            pool["id"],
        )
        for b in backends
    ]
    url = f"http://{lb['vip_address']}:80/"
    _poll("the VIP serves", lambda: _get(url), log=hydria.log)
    try:
        yield {
            "lb": lb,
            "listener": listener,
            "pool": pool,
            "members": members,
            "url": url,
            "backends": backends,
        }
    finally:
        try:
            os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
        finally:
            for b in backends:
                b.stop()


def test_amphora_list_and_show(hydria, stack):
    lb_id = stack["lb"]["id"]
    listed = _amphorae(hydria, lb_id)
    assert len(listed) == 1, listed
    amp = listed[0]
    assert amp["loadbalancer_id"] == lb_id
    assert amp["status"] == "ALLOCATED" and amp["role"] == "STANDALONE"
    assert amp["lb_network_ip"].startswith(
        hydria.env["HYDRIA_MGMT_RANGE_START"].rsplit(".", 2)[0] + "."
    )
    assert any(a["id"] == amp["id"] for a in hydria.openstack("loadbalancer", "amphora", "list"))

    shown = hydria.openstack("loadbalancer", "amphora", "show", amp["id"])
    assert shown["id"] == amp["id"] and shown["loadbalancer_id"] == lb_id
    assert shown["compute_id"] and shown["cert_expiration"]
    for key in (
        "vrrp_ip",
        "ha_ip",
        "cert_busy",
        "vrrp_priority",
        "created_at",
        "image_id",
        "compute_flavor",
    ):
        assert key in shown


def test_status_tree_shows_the_whole_graph(hydria, stack):
    out = hydria.openstack("loadbalancer", "status", "show", stack["lb"]["id"], parse=False)
    tree = json.loads(out)["loadbalancer"]
    assert tree["id"] == stack["lb"]["id"] and tree["name"] == "admin-e2e"
    assert tree["provisioning_status"] == "ACTIVE"
    [listener] = tree["listeners"]
    assert listener["id"] == stack["listener"]["id"]
    [pool] = listener["pools"]
    assert pool["id"] == stack["pool"]["id"] and "health_monitor" not in pool
    assert {m["id"] for m in pool["members"]} == {m["id"] for m in stack["members"]}
    assert {(m["address"], m["protocol_port"]) for m in pool["members"]} == {
        (b.host, b.port) for b in stack["backends"]
    }


def test_stats_count_real_traffic(hydria, stack):
    lb_id, listener_id = stack["lb"]["id"], stack["listener"]["id"]
    for _ in range(10):  # a connection each: HAProxy counts connections, not requests
        assert httpx.get(stack["url"], timeout=5).status_code == 200

    def lb_stats() -> dict[str, Any] | None:
        stats = hydria.openstack("loadbalancer", "stats", "show", lb_id)
        return stats if stats["total_connections"] >= 10 else None

    stats = _poll("heartbeats carry the counters", lb_stats, log=hydria.log)
    assert set(stats) == STATS_KEYS
    assert stats["bytes_in"] > 0 and stats["bytes_out"] > 0

    listener_stats = hydria.openstack("loadbalancer", "listener", "stats", "show", listener_id)
    assert set(listener_stats) == STATS_KEYS
    assert listener_stats["total_connections"] >= 10

    [amp] = _amphorae(hydria, lb_id)
    amp_stats = hydria.openstack("loadbalancer", "amphora", "stats", "show", amp["id"])
    assert amp_stats["total_connections"] >= 10
    only = hydria.openstack(
        "loadbalancer", "amphora", "stats", "show", "--listener", listener_id, amp["id"]
    )
    assert only["total_connections"] == amp_stats["total_connections"]


def test_a_serving_amphora_cannot_be_deleted(hydria, stack):
    [amp] = _amphorae(hydria, stack["lb"]["id"])
    with pytest.raises(AssertionError, match="409"):
        hydria.openstack("loadbalancer", "amphora", "delete", amp["id"], parse=False)
    assert _live_amphora_ids(hydria, stack["lb"]["id"]) == {amp["id"]}


def test_amphora_configure_pushes_again_and_keeps_the_amphora(hydria, stack):
    lb_id = stack["lb"]["id"]
    before = _live_amphora_ids(hydria, lb_id)
    hydria.openstack(
        "loadbalancer", "amphora", "configure", "--wait", next(iter(before)), parse=False
    )
    assert _lb_status(hydria, lb_id) == "ACTIVE"
    assert _live_amphora_ids(hydria, lb_id) == before
    assert _get(stack["url"]) in {"admin-0", "admin-1"}


def _failed_over(hydria: Any, lb_id: str, old: set[str]) -> set[str]:
    def replaced() -> set[str] | None:
        if _lb_status(hydria, lb_id) != "ACTIVE":
            return None
        with hydria.api() as api:
            amps = api.get("/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()
        live = {a["id"]: a["status"] for a in amps["amphorae"]}
        if not live or set(live) & old or set(live.values()) != {"ALLOCATED"}:
            return None
        return set(live)

    return set(_poll("failover finished", replaced, log=hydria.log))


def test_loadbalancer_failover_replaces_the_amphora(hydria, stack):
    lb_id = stack["lb"]["id"]
    old = _live_amphora_ids(hydria, lb_id)
    with Traffic(stack["url"]) as traffic:
        hydria.openstack("loadbalancer", "failover", lb_id, parse=False)
        new = _failed_over(hydria, lb_id, old)
        _poll("the VIP serves after the failover", lambda: _get(stack["url"]), log=hydria.log)
    assert len(new) == 1 and not new & old
    assert traffic.ok > 0
    for amp_id in old:
        with hydria.api() as api:
            assert api.get(f"/octavia/amphorae/{amp_id}").status_code == 404
    listed = _amphorae(hydria, lb_id)
    assert {a["id"] for a in listed} == new


def test_a_request_in_flight_finishes_through_a_failover(hydria, stack):
    """The retired amphora still served: it stops accepting and lets the request it
    holds finish (a drain) instead of cutting it."""
    lb_id = stack["lb"]["id"]
    [old] = _live_amphora_ids(hydria, lb_id)
    for backend in stack["backends"]:
        backend.held_started.clear()
        backend.release_held.clear()
    answer: dict[str, Any] = {}

    def held_request() -> None:
        try:
            res = httpx.get(stack["url"] + "held", timeout=60)
            answer["status"], answer["text"] = res.status_code, res.text
        except httpx.HTTPError as exc:
            answer["error"] = repr(exc)

    thread = threading.Thread(target=held_request)
    thread.start()
    try:
        _poll(
            "the request reached a back-end",
            lambda: any(b.held_started.is_set() for b in stack["backends"]) or None,
            log=hydria.log,
        )
        with hydria.api() as api:
            assert api.put(f"/lbaas/loadbalancers/{lb_id}/failover").status_code == 202
        # the replacement serves and the old amphora is draining, our request still in it
        _poll(
            "the old amphora drains",
            lambda: f"event=amphora_draining amphora={old}" in hydria.log(),
            log=hydria.log,
        )
        time.sleep(0.5)  # let the soft stop reach HAProxy: not an assertion, only a pause
    finally:
        for backend in stack["backends"]:
            backend.release_held.set()
        thread.join(60)
    assert answer.get("status") == 200, f"{answer}\n{hydria.log(tail=8000)}"
    assert answer["text"] in {"admin-0", "admin-1"}
    _failed_over(hydria, lb_id, {old})
    assert f"event=amphora_drained amphora={old}" in hydria.log()


def test_amphora_failover_replaces_that_amphora(hydria, stack):
    lb_id = stack["lb"]["id"]
    old = _live_amphora_ids(hydria, lb_id)
    [amp_id] = old
    with Traffic(stack["url"]) as traffic:
        # --wait: the CLI polls the load balancer until it is ACTIVE again
        hydria.openstack("loadbalancer", "amphora", "failover", "--wait", amp_id, parse=False)
        new = _failed_over(hydria, lb_id, old)
        _poll("the VIP serves after the failover", lambda: _get(stack["url"]), log=hydria.log)
    assert len(new) == 1 and amp_id not in new
    assert traffic.ok > 0
    served = {_get(stack["url"]) for _ in range(6)}
    assert served == {"admin-0", "admin-1"}
    status = json.loads(hydria.openstack("loadbalancer", "status", "show", lb_id, parse=False))
    assert status["loadbalancer"]["provisioning_status"] == "ACTIVE"
