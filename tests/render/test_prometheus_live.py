"""A PROMETHEUS listener on the real HAProxy: a scrape that prometheus_client parses,
with the load balancer's listeners, pools and members in it; allowed_cidrs refuse
another 127.x source."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hydria.core import graph as g
from hydria.render.haproxy import render

from .cases import AMPHORA, lb, listener, member, pool
from .test_haproxy_check import _free_port, _get, _haproxy, _member

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _scrape(port: int, path: str = "/metrics", source: str = "127.0.0.1") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_prometheus_listener_scrape_and_allowed_cidrs(tmp_path: Path) -> None:
    web, prom = _free_port(), _free_port()
    with _member("127.0.0.1", b"member-a") as (member_port, _):
        balancer = lb(vip="127.0.0.1", listeners=[
            listener(port=web),
            listener("listener-prom", "PROMETHEUS", prom, None, allowed_cidrs=("127.0.0.1/32",)),
        ], pools=[pool(members=[member("member-a", "127.0.0.1", member_port)])])
        options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"))
        with _haproxy(render(balancer, AMPHORA, options, version=1), tmp_path):
            assert _get("127.0.0.1", web) == (200, b"member-a")
            status, text = _scrape(prom)
            assert status == 200
            families = {f.name: f for f in text_string_to_metric_families(text)}
            frontends = {s.labels.get("proxy") for s in
                         families["haproxy_frontend_http_requests"].samples}
            assert {"listener-http", "listener-prom"} <= frontends
            backends = {s.labels.get("proxy") for s in
                        families["haproxy_backend_status"].samples}
            assert "pool-1" in backends
            servers = {(s.labels.get("proxy"), s.labels.get("server")) for s in
                       families["haproxy_server_status"].samples}
            assert ("pool-1", "member-a") in servers
            requests = next(s.value for s in families["haproxy_frontend_http_requests"].samples
                            if s.labels.get("proxy") == "listener-http")
            assert requests >= 1
            assert _scrape(prom, "/other")[0] == 403
            # another loopback source is outside allowed_cidrs: closed before a byte
            with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected,
                                ConnectionAbortedError, socket.timeout)):
                _scrape(prom, source="127.0.0.2")
