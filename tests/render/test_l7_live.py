"""L7 policies on the real HAProxy: requests reach the pool, rejection or redirect
their policies say, in position order, with values HAProxy reads back unchanged."""

from __future__ import annotations

import http.client
import subprocess
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


def test_many_policies_behind_the_guard_keep_octavias_order(tmp_path: Path) -> None:
    """Enough policies sharing fetches that the guard is rendered: position order,
    the AND of a policy's rules and an inverted rule decide exactly as without it,
    and a policy whose only rule is inverted (not covered by the guard) still acts."""
    port = _free_port()

    rule = g.L7Rule
    with (
        _member("127.0.0.1", b"default") as (p0, _),
        _member("127.0.0.1", b"a") as (pa, _),
        _member("127.0.0.1", b"b") as (pb, _),
    ):
        policies = [
            # 1: /svc-0/ with header X-Beta: on -> b (AND: the prefix alone is not enough)
            g.L7Policy(
                "pol-and",
                "REDIRECT_TO_POOL",
                1,
                redirect_pool_id="pool-b",
                rules=(
                    rule("r-and-path", "PATH", "STARTS_WITH", "/svc-0/"),
                    rule("r-and-hdr", "HEADER", "EQUAL_TO", "on", key="X-Beta"),
                ),
            ),
            # 2: everything NOT from host keep.example under /svc-1/ is rejected
            g.L7Policy(
                "pol-not",
                "REJECT",
                2,
                rules=(
                    rule("r-not-path", "PATH", "STARTS_WITH", "/svc-1/"),
                    rule("r-not-host", "HOST_NAME", "EQUAL_TO", "keep.example", invert=True),
                ),
            ),
            # 3: only an inverted rule (the guard cannot cover it): rejects requests
            # whose cookie "v" is not "ok"
            g.L7Policy(
                "pol-inv",
                "REJECT",
                3,
                rules=(rule("r-inv", "COOKIE", "EQUAL_TO", "ok", key="v", invert=True),),
                admin_state_up=False,  # switched on below
            ),
        ]
        # 4..13: one prefix each, alternating pool a and REJECT (the bench's shape)
        for i in range(10):
            policies.append(
                g.L7Policy(
                    f"pol-{i}",
                    "REJECT" if i % 2 else "REDIRECT_TO_POOL",
                    4 + i,
                    redirect_pool_id=None if i % 2 else "pool-a",
                    rules=(rule(f"r-{i}", "PATH", "STARTS_WITH", f"/svc-{i}/"),),
                )
            )
        policies.append(
            g.L7Policy(
                "pol-re",
                "REDIRECT_TO_POOL",
                20,
                redirect_pool_id="pool-b",
                rules=(rule("r-re", "PATH", "REGEX", "^/v[0-9]+/x$"),),
            )
        )

        def site(extra: list[g.L7Policy]) -> str:
            balancer = lb(
                vip="127.0.0.1",
                listeners=[listener(port=port, l7policies=tuple(extra))],
                pools=[
                    pool(members=[member("m0", "127.0.0.1", p0)]),
                    pool("pool-a", members=[member("ma", "127.0.0.1", pa)]),
                    pool("pool-b", members=[member("mb", "127.0.0.1", pb)]),
                ],
            )
            options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"))
            return render(balancer, AMPHORA, options, version=1)

        text = site(policies)
        assert "set-var(txn.hydria_l7g)" in text and "path -m beg /svc-0/ /svc-1/" in text
        with _haproxy(text, tmp_path):
            assert _request(port, "/")[:2] == (200, b"default")
            assert _request(port, "/svc-0/x")[:2] == (200, b"a")  # 1 needs both rules
            assert _request(port, "/svc-0/x", {"X-Beta": "on"})[:2] == (200, b"b")
            assert _request(port, "/svc-1/x")[0] == 403  # 2 (host is not keep.example)
            assert _request(port, "/svc-1/x", {"Host": "keep.example"})[0] == 403  # 5
            assert _request(port, "/svc-2/x", {"Host": "keep.example"})[:2] == (200, b"a")
            assert _request(port, "/svc-3/")[0] == 403
            assert _request(port, "/v12/x")[:2] == (200, b"b")
            assert _request(port, "/v12/y")[:2] == (200, b"default")
        # the inverted-only policy is evaluated outside the guard
        policies[2] = g.L7Policy(
            "pol-inv",
            "REJECT",
            3,
            rules=(rule("r-inv", "COOKIE", "EQUAL_TO", "ok", key="v", invert=True),),
        )
        text = site(policies)
        assert "http-request deny if !r-inv" in text
        with _haproxy(text, tmp_path):
            assert _request(port, "/")[0] == 403
            assert _request(port, "/", {"Cookie": "v=ok"})[:2] == (200, b"default")
            assert _request(port, "/svc-0/x", {"Cookie": "v=ok"})[:2] == (200, b"a")
            assert _request(port, "/svc-0/x")[0] == 403  # 3 comes before 4


def test_a_long_guard_is_split_into_lines_haproxy_reads(tmp_path: Path) -> None:
    """HAProxy reads lines of at most 2 KiB: the guard's pattern lists and its
    condition continue on more lines (an ACL name or a variable set on several
    lines ORs), and the result passes ``haproxy -c``."""
    policies = tuple(
        g.L7Policy(
            f"pol-{i}",
            "REJECT",
            i + 1,
            rules=(
                g.L7Rule(f"r-{i}", "PATH", "STARTS_WITH", f"/a-rather-long-service-name-{i:04d}/"),
                g.L7Rule(f"h-{i}", "HEADER", "EQUAL_TO", "x", key=f"X-Only-{i}"),
            ),
        )
        for i in range(400)
    )
    policies += tuple(
        g.L7Policy(
            f"hdr-{i}",
            "REJECT",
            1000 + i,
            rules=(g.L7Rule(f"k-{i}-{'x' * 30}", "HEADER", "EQUAL_TO", "x", key=f"X-K-{i}"),),
        )
        for i in range(60)
    )
    balancer = lb(
        vip="127.0.0.1",
        listeners=[listener(port=_free_port(), l7policies=policies)],
        pools=[pool()],
    )
    text = render(balancer, AMPHORA, g.RenderOptions(), version=1)
    assert max(len(line) for line in text.splitlines()) < 1024
    assert sum(line.startswith("    acl hydria_l7g_0 ") for line in text.splitlines()) > 1
    assert sum("set-var(txn.hydria_l7g)" in line for line in text.splitlines()) > 1
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    res = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_guard_looks_host_names_up_in_a_tree_and_joins_regular_expressions(
    tmp_path: Path,
) -> None:
    """The guard lists whole and prefix host names lower-cased (a tree lookup, not
    ``-i`` pattern by pattern) and joins regular expressions into alternations,
    except those that cannot be joined (a named group, an option setting):
    requests still go where the policies say, case-insensitively for host names."""
    port = _free_port()
    rule = g.L7Rule
    with (
        _member("127.0.0.1", b"default") as (p0, _),
        _member("127.0.0.1", b"a") as (pa, _),
        _member("127.0.0.1", b"b") as (pb, _),
    ):
        shapes = [
            ("HOST_NAME", "EQUAL_TO", "A.Example", "pool-a"),
            ("HOST_NAME", "STARTS_WITH", "Api.", None),
            ("HOST_NAME", "STARTS_WITH", "www.", "pool-b"),
            ("HOST_NAME", "EQUAL_TO", "b.example", "pool-b"),
            ("HOST_NAME", "EQUAL_TO", "c.example", None),
            ("PATH", "REGEX", "^/r1/[0-9]+$", "pool-a"),
            ("PATH", "REGEX", "^/(?P<n>a)(?P=n)$", "pool-b"),
            ("PATH", "REGEX", "(?i)^/case$", None),
            ("PATH", "REGEX", "^/r2/x$|^/r3/y$", "pool-b"),
            ("PATH", "REGEX", "^/r4 space/$", "pool-a"),
        ]
        policies = tuple(
            g.L7Policy(
                f"pol-{i}",
                "REDIRECT_TO_POOL" if target else "REJECT",
                i + 1,
                redirect_pool_id=target,
                rules=(rule(f"r-{i}", kind, compare, value),),
            )
            for i, (kind, compare, value, target) in enumerate(shapes)
        )
        balancer = lb(
            vip="127.0.0.1",
            listeners=[listener(port=port, l7policies=policies)],
            pools=[
                pool(members=[member("m0", "127.0.0.1", p0)]),
                pool("pool-a", members=[member("ma", "127.0.0.1", pa)]),
                pool("pool-b", members=[member("mb", "127.0.0.1", pb)]),
            ],
        )
        options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"))
        text = render(balancer, AMPHORA, options, version=1)
        assert "req.hdr(host),lower -m str a.example b.example c.example" in text
        assert "req.hdr(host),lower -m beg api. www." in text
        assert (
            r"path -m reg (?:^/r1/[0-9]+$)|(?:^/r2/x$|^/r3/y$)|(?:^/r4\ space/$) "
            "^/(?P<n>a)(?P=n)$ (?i)^/case$" in text
        )
        with _haproxy(text, tmp_path):
            assert _request(port, "/")[:2] == (200, b"default")
            assert _request(port, "/", {"Host": "a.example"})[:2] == (200, b"a")
            assert _request(port, "/", {"Host": "A.EXAMPLE"})[:2] == (200, b"a")
            assert _request(port, "/", {"Host": "API.foo"})[0] == 403
            assert _request(port, "/", {"Host": "Www.x"})[:2] == (200, b"b")
            assert _request(port, "/", {"Host": "B.Example"})[:2] == (200, b"b")
            assert _request(port, "/", {"Host": "c.example"})[0] == 403
            assert _request(port, "/", {"Host": "a.example.org"})[:2] == (200, b"default")
            assert _request(port, "/r1/12")[:2] == (200, b"a")
            assert _request(port, "/r1/x")[:2] == (200, b"default")
            assert _request(port, "/aa")[:2] == (200, b"b")
            assert _request(port, "/ab")[:2] == (200, b"default")
            assert _request(port, "/CASE")[0] == 403
            assert _request(port, "/case")[0] == 403
            assert _request(port, "/r2/x")[:2] == (200, b"b")
            assert _request(port, "/r3/y")[:2] == (200, b"b")
            assert _request(port, "/r3/z")[:2] == (200, b"default")
            assert _request(port, "/r4%20space/")[:2] == (200, b"default")  # path is raw
