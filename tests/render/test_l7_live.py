"""L7 policies on the real HAProxy: requests reach the pool, rejection or redirect
their policies say, in position order, with values HAProxy reads back unchanged."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.render.haproxy import render

from .cases import AMPHORA, lb, listener, member, pool
from .test_haproxy_check import _free_port, _haproxy, _member

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _request(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Location")
    finally:
        conn.close()


def test_policies_route_reject_and_redirect(tmp_path: Path) -> None:
    port = _free_port()
    with (
        _member("127.0.0.1", b"default") as (p0, _),
        _member("127.0.0.1", b"api") as (pa, _),
        _member("127.0.0.1", b"host-b") as (pb, _),
        _member("127.0.0.1", b"png") as (pc, seen_c),
    ):
        policies = (
            g.L7Policy(
                "pol-api",
                "REDIRECT_TO_POOL",
                1,
                redirect_pool_id="pool-a",
                rules=(g.L7Rule("rule-api", "PATH", "STARTS_WITH", "/api/"),),
            ),
            g.L7Policy(
                "pol-host",
                "REDIRECT_TO_POOL",
                2,
                redirect_pool_id="pool-b",
                rules=(g.L7Rule("rule-host", "HOST_NAME", "EQUAL_TO", "b.example"),),
            ),
            g.L7Policy(
                "pol-png",
                "REDIRECT_TO_POOL",
                3,
                redirect_pool_id="pool-c",
                rules=(g.L7Rule("rule-png", "FILE_TYPE", "EQUAL_TO", ".png"),),
            ),
            g.L7Policy(
                "pol-reject",
                "REJECT",
                4,
                rules=(g.L7Rule("rule-env", "HEADER", "EQUAL_TO", '"very bad#1"', key="X-Env"),),
            ),
            g.L7Policy(
                "pol-https",
                "REDIRECT_PREFIX",
                5,
                redirect_prefix="https://s.example",
                redirect_http_code=301,
                rules=(g.L7Rule("rule-secure", "PATH", "STARTS_WITH", "/secure"),),
            ),
            g.L7Policy(
                "pol-url",
                "REDIRECT_TO_URL",
                6,
                redirect_url="https://c.example/a%20b?x=1#top",
                rules=(g.L7Rule("rule-old", "PATH", "REGEX", "^/old(/.*)?$"),),
            ),
        )
        balancer = lb(
            vip="127.0.0.1",
            listeners=[listener(port=port, l7policies=policies)],
            pools=[
                pool(members=[member("m0", "127.0.0.1", p0)]),
                pool("pool-a", members=[member("ma", "127.0.0.1", pa)]),
                pool("pool-b", members=[member("mb", "127.0.0.1", pb)]),
                pool("pool-c", members=[member("mc", "127.0.0.1", pc)]),
            ],
        )
        options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"))
        with _haproxy(render(balancer, AMPHORA, options, version=1), tmp_path):
            assert _request(port, "/")[:2] == (200, b"default")
            assert _request(port, "/api/users")[:2] == (200, b"api")
            assert _request(port, "/x", {"Host": "b.example"})[:2] == (200, b"host-b")
            assert _request(port, "/img/logo.png")[:2] == (200, b"png")
            # position order: the API policy (1) wins over the host policy (2)
            assert _request(port, "/api/x", {"Host": "b.example"})[:2] == (200, b"api")
            # and a pool policy (1) over a later REJECT (4), unlike Octavia's text
            assert _request(port, "/api/x", {"X-Env": "very bad#1"})[:2] == (200, b"api")
            assert _request(port, "/", {"X-Env": "very bad#1"})[0] == 403
            assert _request(port, "/", {"X-Env": "very bad"})[:2] == (200, b"default")
            status, _, location = _request(port, "/secure/page?q=1")
            assert (status, location) == (301, "https://s.example/secure/page?q=1")
            status, _, location = _request(port, "/old/thing")
            assert (status, location) == (302, "https://c.example/a%20b?x=1#top")
            assert len(seen_c) == 1
