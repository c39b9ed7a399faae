"""A PROMETHEUS listener on the real HAProxy and the agent's metrics proxy: a scrape
that prometheus_client parses, under Octavia's octavia_* names, with the load
balancer's listeners, pools and members in it; allowed_cidrs refuse another 127.x
source."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hydria.agent.prometheus import MetricsProxy
from hydria.core import graph as g
from hydria.core.prometheus import EXPORTER_FRONTEND, PROXY_BACKEND, sockets
from hydria.render.haproxy import render

from .cases import AMPHORA, lb, listener, member, pool
from .test_haproxy_check import _free_port, _get, _haproxy, _member

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _scrape(port: int, path: str = "/metrics", source: str = "127.0.0.1") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_prometheus_listener_scrape_and_allowed_cidrs(tmp_path: Path) -> None:
    web, prom = _free_port(), _free_port()
    with _member("127.0.0.1", b"member-a") as (member_port, _):
        balancer = lb(
            vip="127.0.0.1",
            listeners=[
                listener(port=web),
                listener(
                    "listener-prom", "PROMETHEUS", prom, None, allowed_cidrs=("127.0.0.1/32",)
                ),
            ],
            pools=[pool(members=[member("member-a", "127.0.0.1", member_port)])],
        )
        options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"))
        exporter, proxy_socket = sockets(options.stats_socket)
        proxy = MetricsProxy(proxy_socket, exporter).start()
        try:
            with _haproxy(render(balancer, AMPHORA, options, version=1), tmp_path):
                assert _get("127.0.0.1", web) == (200, b"member-a")
                status, text = _scrape(prom)
                assert status == 200
                _check_octavia_names(text)
                assert _scrape(prom, "/other")[0] == 403
                # another loopback source is outside allowed_cidrs: closed before a byte
                with pytest.raises(
                    (
                        ConnectionResetError,
                        http.client.RemoteDisconnected,
                        ConnectionAbortedError,
                        socket.timeout,
                    )
                ):
                    _scrape(prom, source="127.0.0.2")
            # HAProxy gone: the proxy cannot read its exporter and says so, no crash
            assert _proxy_status(proxy_socket) == 502
        finally:
            proxy.stop()


def _proxy_status(path: str) -> int:
    from hydria.agent.prometheus import _UnixHTTPConnection

    conn = _UnixHTTPConnection(path, 5)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().status
    finally:
        conn.close()


def _check_octavia_names(text: str) -> None:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert not [n for n in families if not n.startswith("octavia_")], sorted(families)
    listeners = {
        s.labels.get("listener") for s in families["octavia_listener_http_requests"].samples
    }
    assert listeners == {"listener-http", "listener-prom"}  # no plumbing frontend
    pools = {s.labels.get("pool") for s in families["octavia_pool_status"].samples}
    assert pools == {"pool-1"}
    assert PROXY_BACKEND not in pools and EXPORTER_FRONTEND not in listeners
    members = {
        (s.labels.get("pool"), s.labels.get("member"))
        for s in families["octavia_member_status"].samples
    }
    assert members == {("pool-1", "member-a")}
    requests = next(
        s.value
        for s in families["octavia_listener_http_requests"].samples
        if s.labels.get("listener") == "listener-http"
    )
    assert requests >= 1
    for name in (
        "octavia_loadbalancer_cpu",
        "octavia_loadbalancer_memory",
        "octavia_loadbalancer_current_connections",
        "octavia_memory_pool_used_bytes",
        "octavia_listener_bytes_in",
        "octavia_pool_active_members",
        "octavia_member_bytes_in",
    ):
        assert name in families, name
