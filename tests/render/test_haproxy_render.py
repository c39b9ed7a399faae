"""The renderer against golden files, plus determinism and injection safety.

Regenerate the golden files after an intended change with
``HYDRIA_REGEN_GOLDEN=1 pytest tests/render`` and review the diff.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from hydria.core import errors
from hydria.core import graph as g
from hydria.render.haproxy import UnrenderableValue, build_view, render

from .cases import AMPHORA, CASES, HTTP_HM, OPTIONS, VERSION, hm, lb, listener, member, pool

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("HYDRIA_REGEN_GOLDEN") == "1"


def _render(balancer: g.LoadBalancer, options: g.RenderOptions = OPTIONS) -> str:
    return render(balancer, AMPHORA, options, version=VERSION)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    balancer, options = CASES[case]
    text = _render(balancer, options)
    path = GOLDEN / f"{case}.cfg"
    if REGEN:
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with HYDRIA_REGEN_GOLDEN=1"
    assert text == path.read_text(), f"{case} differs from {path} (HYDRIA_REGEN_GOLDEN=1 to update)"


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.cfg")) == sorted(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_shape(case: str) -> None:
    text = _render(*CASES[case])
    assert text.startswith(f"# hydria config version {VERSION} for load balancer lb-1\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    for line in text.splitlines():
        assert line == line.rstrip(), f"trailing whitespace: {line!r}"
        assert line.isascii() and line.isprintable(), f"odd characters: {line!r}"
    assert "\n\n\n" not in text


def test_version_in_header() -> None:
    balancer, options = CASES["http_roundrobin_http_monitor"]
    text = render(balancer, AMPHORA, options, version=12345)
    assert text.splitlines()[0] == "# hydria config version 12345 for load balancer lb-1"


# ----------------------------------------------------------------- determinism


@pytest.mark.parametrize("case", sorted(CASES))
def test_deterministic(case: str) -> None:
    balancer, options = CASES[case]
    assert _render(balancer, options) == _render(balancer, options)


@pytest.mark.parametrize("case", sorted(CASES))
def test_row_order_does_not_matter(case: str) -> None:
    """The database promises no order; shuffled collections give the same bytes."""
    balancer, options = CASES[case]
    rng = random.Random(case)

    def shuffled(items: tuple) -> tuple:
        items = list(items)
        rng.shuffle(items)
        return tuple(items)

    for _ in range(5):
        other = replace(
            balancer,
            listeners=shuffled(balancer.listeners),
            pools=shuffled(tuple(replace(p, members=shuffled(p.members)) for p in balancer.pools)),
        )
        assert _render(other, options) == _render(balancer, options)


def test_amphora_does_not_change_the_text() -> None:
    balancer, options = CASES["shared_pools"]
    backup = g.Amphora(id="amp-2", lb_network_ip="192.0.2.11", role="BACKUP", vrrp_priority=90)
    assert render(balancer, backup, options, version=1) == render(
        balancer, AMPHORA, options, version=1
    )


# ------------------------------------------------------------------ decisions


def test_pool_used_in_two_modes_gets_two_backends() -> None:
    view = build_view(*CASES["shared_pools"][:1], AMPHORA, OPTIONS, version=1)
    names = {b.name: b.mode for b in view.backends}
    assert names == {"pool-1": "http", "pool-proxy:http": "http", "pool-proxy:tcp": "tcp"}
    by_listener = {f.name: f.default_backend for f in view.frontends}
    assert by_listener == {
        "listener-http": "pool-1",
        "listener-tcp": "pool-1",  # TCP in front of an HTTP pool: upgraded to http
        "listener-proxy-http": "pool-proxy:http",
        "listener-proxy-tcp": "pool-proxy:tcp",
        "listener-proxy-https": "pool-proxy:tcp",
    }


def test_shared_backend_takes_the_longest_member_timeouts() -> None:
    view = build_view(CASES["shared_pools"][0], AMPHORA, OPTIONS, version=1)
    backends = {b.name: b for b in view.backends}
    assert backends["pool-1"].timeout_server == 90000
    assert backends["pool-proxy:tcp"].timeout_connect == 7000
    assert backends["pool-proxy:http"].timeout_connect == 1000


def test_unused_and_disabled_pools_are_not_rendered() -> None:
    text = _render(CASES["listener_without_default_pool"][0])
    assert "backend" not in text
    assert "default_backend" not in text


def test_disabled_load_balancer_disables_every_frontend() -> None:
    view = build_view(CASES["disabled_load_balancer"][0], AMPHORA, OPTIONS, version=1)
    assert view.frontends and all(f.disabled for f in view.frontends)
    assert view.backends  # health checks keep running


def test_connection_limit_falls_back_to_the_global_limit() -> None:
    options = replace(OPTIONS, max_connections=1234)
    view = build_view(CASES["connection_limit_and_timeouts"][0], AMPHORA, options, version=1)
    assert {f.name: f.maxconn for f in view.frontends} == {
        "listener-http": 500,
        "listener-tcp": 1234,
    }
    assert view.global_.maxconn == 1234


def test_inspect_delay_in_every_mode_as_octavia() -> None:
    balancer = lb(
        listeners=[
            listener(timeout_tcp_inspect=500),
            listener("listener-tcp", "TCP", 81, timeout_tcp_inspect=700),
            listener("listener-off", "TCP", 82, timeout_tcp_inspect=0),
        ],
        pools=[pool()],
    )
    view = build_view(balancer, AMPHORA, OPTIONS, version=1)
    assert {f.name: f.inspect_delay for f in view.frontends} == {
        "listener-http": 500,
        "listener-tcp": 700,
        "listener-off": None,
    }


def test_no_user_group_log_unless_asked() -> None:
    text = _render(CASES["http_roundrobin_http_monitor"][0])
    for word in ("user ", "group ", "daemon", "chroot", "log "):
        assert f"\n    {word}" not in text
    assert "expose-fd listeners" in text


def test_a_path_with_a_space_is_quoted() -> None:
    text = _render(lb(), replace(OPTIONS, stats_socket="/srv/my state/haproxy.sock"))
    assert "    stats socket '/srv/my state/haproxy.sock' mode 0600" in text


def test_user_alone_means_group_of_the_same_name() -> None:
    view = build_view(lb(), AMPHORA, replace(OPTIONS, user_group="haproxy"), version=1)
    assert (view.global_.user, view.global_.group) == ("haproxy", "haproxy")


# ------------------------------------------------------------- injection safety

BAD_STRINGS = ["a b", "a\nb", "a\rb", "a\tb", "a#b", "a'b", 'a"b', "a\\b", "", "a\x00b"]


def test_url_path_is_percent_encoded() -> None:
    nasty = "/a b\n    server evil 6.6.6.6:1\n#'\"\\\t$x?q=1&r=(2)%41"
    balancer = lb(
        listeners=[listener()], pools=[pool(health_monitor=replace(HTTP_HM, url_path=nasty))]
    )
    text = _render(balancer)
    send = next(line for line in text.splitlines() if "http-check send" in line)
    assert send.split()[5] == (
        "/a%20b%0A%20%20%20%20server%20evil%206.6.6.6:1%0A%23%27%22%5C%09$x?q=1&r=(2)%41"
    )
    assert "evil 6.6.6.6" not in text


def test_url_path_must_be_absolute() -> None:
    balancer = lb(
        listeners=[listener()], pools=[pool(health_monitor=replace(HTTP_HM, url_path="healthz"))]
    )
    with pytest.raises(UnrenderableValue, match="url_path"):
        _render(balancer)


def _with_hm(**kw) -> g.LoadBalancer:
    return lb(listeners=[listener()], pools=[pool(health_monitor=replace(HTTP_HM, **kw))])


@pytest.mark.parametrize("bad", BAD_STRINGS + ["a.example.com/x", "-a.example.com", "a_b.com"])
def test_domain_name_is_checked(bad: str) -> None:
    if bad == "":
        return  # empty means "no Host header"
    with pytest.raises(UnrenderableValue, match="domain_name"):
        _render(_with_hm(domain_name=bad))


@pytest.mark.parametrize("bad", BAD_STRINGS + ["a(b", "a)b", "a,b", "a;b", "a=b"])
def test_cookie_name_is_checked(bad: str) -> None:
    sp = g.SessionPersistence("APP_COOKIE", cookie_name=bad)
    with pytest.raises(UnrenderableValue, match="cookie_name"):
        _render(lb(listeners=[listener()], pools=[pool(session_persistence=sp)]))


def test_app_cookie_needs_a_cookie_name() -> None:
    sp = g.SessionPersistence("APP_COOKIE")
    with pytest.raises(UnrenderableValue, match="cookie_name"):
        _render(lb(listeners=[listener()], pools=[pool(session_persistence=sp)]))


@pytest.mark.parametrize("bad", ["GET /x", "get", "GET\n", "FOO"])
def test_http_method_is_checked(bad: str) -> None:
    with pytest.raises(UnrenderableValue, match="http_method"):
        _render(_with_hm(http_method=bad))


@pytest.mark.parametrize("bad", ["2OO", "200,,202", "200-", "600", "20", "200|201", "200;x"])
def test_expected_codes_are_checked(bad: str) -> None:
    with pytest.raises(UnrenderableValue, match="expected_codes"):
        _render(_with_hm(expected_codes=bad))


def test_expected_codes_lose_the_spaces_octavia_allows() -> None:
    assert "http-check expect status 200,202,204\n" in _render(
        _with_hm(expected_codes="200, 202 ,204")
    )


def test_http_version_is_checked() -> None:
    with pytest.raises(UnrenderableValue, match="http_version"):
        _render(_with_hm(http_version=2.0))


@pytest.mark.parametrize("bad", BAD_STRINGS + ["../x", "x y"])
@pytest.mark.parametrize("where", ["lb", "listener", "pool", "member", "amphora"])
def test_ids_are_checked(where: str, bad: str) -> None:
    balancer = lb(listeners=[listener()], pools=[pool()])
    amphora = AMPHORA
    if where == "lb":
        balancer = replace(balancer, id=bad)
    elif where == "listener":
        balancer = replace(balancer, listeners=(listener(id=bad),))
    elif where == "pool":
        balancer = replace(balancer, listeners=(listener(pool=bad),), pools=(pool(id=bad),))
    elif where == "member":
        balancer = replace(balancer, pools=(pool(members=[member(bad, "192.0.2.1")]),))
    else:
        amphora = replace(AMPHORA, id=bad)
    with pytest.raises(UnrenderableValue, match="id"):
        render(balancer, amphora, OPTIONS, version=1)


@pytest.mark.parametrize(
    "bad", BAD_STRINGS + ["192.0.2.1:80", "fe80::1%eth0", "example.com", "192.0.2.1 backup"]
)
@pytest.mark.parametrize("where", ["vip", "member", "monitor"])
def test_addresses_are_checked(where: str, bad: str) -> None:
    if where == "vip":
        balancer = lb(vip=bad, listeners=[listener()], pools=[pool()])
    elif where == "member":
        balancer = lb(listeners=[listener()], pools=[pool(members=[member("m", bad)])])
    else:
        if bad == "":
            return  # empty means "no monitor address"
        balancer = lb(
            listeners=[listener()],
            pools=[
                pool(
                    health_monitor=hm("TCP"),
                    members=[member("m", "192.0.2.1", monitor_address=bad)],
                )
            ],
        )
    with pytest.raises(UnrenderableValue, match="address"):
        _render(balancer)


@pytest.mark.parametrize("bad", BAD_STRINGS + ["192.0.2.0/33", "10.0.0.0/8 !x"])
def test_allowed_cidrs_are_checked(bad: str) -> None:
    with pytest.raises(UnrenderableValue, match="CIDR"):
        _render(lb(listeners=[listener(allowed_cidrs=(bad,))], pools=[pool()]))


@pytest.mark.parametrize("field", ["stats_socket", "log_target"])
@pytest.mark.parametrize("bad", [b for b in BAD_STRINGS if b != "a b"] + ["/x/$HOME", "a;b"])
def test_option_words_are_checked(field: str, bad: str) -> None:
    with pytest.raises(UnrenderableValue, match=field):
        _render(lb(), replace(OPTIONS, **{field: bad}))


@pytest.mark.parametrize("bad", BAD_STRINGS + ["a:b:c", "root:", ":wheel"])
def test_user_group_is_checked(bad: str) -> None:
    with pytest.raises(UnrenderableValue, match="user_group"):
        _render(lb(), replace(OPTIONS, user_group=bad))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("protocol_port", 0),
        ("protocol_port", 65536),
        ("protocol_port", "80"),
        ("protocol_port", True),
        ("connection_limit", -2),
        ("timeout_client_data", -1),
        ("timeout_client_data", "50000\n"),
        ("timeout_member_data", 1.5),
    ],
)
def test_listener_numbers_are_checked(field: str, value: object) -> None:
    balancer = lb(listeners=[replace(listener(), **{field: value})], pools=[pool()])
    with pytest.raises(UnrenderableValue, match=field):
        _render(balancer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weight", -1),
        ("weight", 257),
        ("weight", "1 backup"),
        ("protocol_port", 0),
        ("monitor_port", 70000),
    ],
)
def test_member_numbers_are_checked(field: str, value: object) -> None:
    m = replace(member("m", "192.0.2.1"), **{field: value})
    balancer = lb(listeners=[listener()], pools=[pool(members=[m], health_monitor=hm("TCP"))])
    with pytest.raises(UnrenderableValue, match=field):
        _render(balancer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("delay", 0),
        ("timeout", 0),
        ("max_retries", "3"),
        ("max_retries_down", None),
    ],
)
def test_monitor_numbers_are_checked(field: str, value: object) -> None:
    with pytest.raises(UnrenderableValue, match=field.replace("_", ".")):
        _render(
            lb(
                listeners=[listener()],
                pools=[pool(health_monitor=replace(hm("TCP"), **{field: value}))],
            )
        )


@pytest.mark.parametrize("version", [-1, "1", 1.0, True])
def test_version_is_checked(version: object) -> None:
    with pytest.raises(UnrenderableValue, match="version"):
        render(lb(), AMPHORA, OPTIONS, version=version)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("balancer", "match"),
    [
        (lb(listeners=[listener(protocol="TERMINATED_HTTPS")], pools=[pool()]), "certificate"),
        (lb(listeners=[listener()], pools=[pool(protocol="UDP")]), "protocol"),
        (lb(listeners=[listener()], pools=[pool(algorithm="LEAST_TIME")]), "lb_algorithm"),
        (lb(listeners=[listener()], pools=[pool(health_monitor=hm("UDP-CONNECT"))]), "type"),
        (
            lb(
                listeners=[listener()],
                pools=[pool(session_persistence=g.SessionPersistence("NONE"))],
            ),
            "persistence",
        ),
        (lb(listeners=[listener(pool="pool-missing")], pools=[pool()]), "not in the graph"),
    ],
)
def test_unsupported_values_are_refused(balancer: g.LoadBalancer, match: str) -> None:
    with pytest.raises(UnrenderableValue, match=match):
        _render(balancer)


def test_unrenderable_is_a_permanent_error() -> None:
    assert issubclass(UnrenderableValue, errors.PermanentError)
