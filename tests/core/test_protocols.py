"""Octavia 19's protocol rules for UDP, SCTP and PROMETHEUS, table by table (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from hydria.core import host
from hydria.core import protocols as p
from hydria.core.errors import InvalidInput, ProviderUnsupported

HERE = p.Served(udp_engine=host.UDP_ENGINE_NGINX, sctp=False, prometheus=True)
NOTHING = p.Served(udp_engine=None, sctp=False, prometheus=False)
UDP_ONLY = "Validation failure: The UDP-CONNECT type is only supported for pools of type UDP/SCTP."


def _outcome(call: Any) -> str:
    try:
        call()
    except ProviderUnsupported as exc:
        assert exc.status_code == 501
        return "501: " + exc.message
    except InvalidInput as exc:
        return "400: " + exc.message
    return "ok"


@pytest.mark.parametrize(
    ("protocol", "served", "expected"),
    [
        ("UDP", HERE, "ok"),
        ("TCP", NOTHING, "ok"),
        ("PROMETHEUS", HERE, "ok"),
        (
            "UDP",
            NOTHING,
            "501: Provider 'amphora' does not support a requested option: protocol "
            "UDP needs a UDP engine",
        ),
        (
            "SCTP",
            HERE,
            "501: Provider 'amphora' does not support a requested option: protocol "
            "SCTP needs SCTP support",
        ),
        ("SCTP", p.Served(udp_engine="ipvs", sctp=True), "ok"),
        (
            "PROMETHEUS",
            NOTHING,
            "501: Provider 'amphora' does not support a requested option: protocol PROMETHEUS",
        ),
    ],
)
def test_what_the_host_serves(protocol, served, expected):
    assert _outcome(lambda: p.check_served(protocol, served)).startswith(expected)


def test_sctp_monitor_type_is_a_501_here():
    out = _outcome(lambda: p.check_served("SCTP", HERE, what="type"))
    assert out.startswith("501: Provider 'amphora' does not support a requested option: type SCTP")


@pytest.mark.parametrize(
    ("new", "existing", "conflict"),
    [
        ("UDP", ["TCP"], None),  # the same port carries TCP and UDP
        ("TCP", ["UDP", "SCTP"], None),
        ("UDP", ["TCP", "UDP"], "UDP"),
        ("HTTP", ["TCP"], "TCP"),
        ("PROMETHEUS", ["HTTP"], "HTTP"),  # PROMETHEUS is TCP
        ("PROMETHEUS", ["UDP"], None),
        ("SCTP", ["UDP", "HTTPS"], None),
    ],
)
def test_one_listener_per_transport_and_port(new, existing, conflict):
    assert p.same_port_conflict(new, existing) == conflict


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"protocol": "UDP"}, "ok"),
        (
            {"protocol": "UDP", "insert_headers": {"X-Forwarded-For": "true"}},
            "400: insert-headers is not a valid option for a UDP protocol listener.",
        ),
        (
            {"protocol": "SCTP", "tls_refs": True},
            "400: Validation failure: SCTP protocol listener does not support TLS.",
        ),
        (
            {"protocol": "PROMETHEUS", "default_pool": True},
            "400: Protocol PROMETHEUS listeners cannot have child objects.",
        ),
        (
            {"protocol": "PROMETHEUS", "l7policies": True},
            "400: Protocol PROMETHEUS listeners cannot have child objects.",
        ),
        (
            {
                "protocol": "HTTP",
                "default_pool": True,
                "insert_headers": {"X-Forwarded-For": "true"},
            },
            "ok",
        ),
    ],
)
def test_listener_create(kwargs, expected):
    args = {
        "insert_headers": None,
        "tls_refs": False,
        "default_pool": False,
        "l7policies": False,
        **kwargs,
    }
    protocol = args.pop("protocol")
    assert _outcome(lambda: p.check_listener_create(protocol, **args)) == expected


@pytest.mark.parametrize(
    ("protocol", "kwargs", "expected"),
    [
        (
            "UDP",
            {"insert_headers": {"X-Forwarded-For": "true"}},
            "400: Validation failure: UDP protocol listener does not support TLS or header insertion.",
        ),
        ("UDP", {}, "ok"),
        (
            "PROMETHEUS",
            {"default_pool": True},
            "400: Protocol PROMETHEUS listeners cannot have child objects.",
        ),
    ],
)
def test_listener_update(protocol, kwargs, expected):
    args = {"insert_headers": None, "tls_refs": False, "default_pool": False, **kwargs}
    assert _outcome(lambda: p.check_listener_update(protocol, **args)) == expected


@pytest.mark.parametrize(
    ("listener", "pool", "expected"),
    [
        ("UDP", "UDP", "ok"),
        ("SCTP", "SCTP", "ok"),
        (
            "UDP",
            "TCP",
            "400: Validation failure: The pool protocol 'TCP' is invalid while the "
            "listener protocol is 'UDP'.",
        ),
        (
            "TCP",
            "UDP",
            "400: Validation failure: The pool protocol 'UDP' is invalid while the "
            "listener protocol is 'TCP'.",
        ),
        (
            "UDP",
            "SCTP",
            "400: Validation failure: The pool protocol 'SCTP' is invalid while the "
            "listener protocol is 'UDP'.",
        ),
        ("PROMETHEUS", "TCP", "400: Protocol PROMETHEUS listeners cannot have child objects."),
    ],
)
def test_listener_and_pool_protocols(listener, pool, expected):
    assert _outcome(lambda: p.check_listener_pool(listener, pool)) == expected


@pytest.mark.parametrize(
    ("protocol", "sp", "update", "expected"),
    [
        ("UDP", {"type": "SOURCE_IP"}, False, "ok"),
        (
            "UDP",
            {
                "type": "SOURCE_IP",
                "persistence_timeout": 60,
                "persistence_granularity": "255.255.255.0",
            },
            False,
            "ok",
        ),
        ("SCTP", {"type": "SOURCE_IP", "persistence_timeout": 60}, False, "ok"),
        (
            "UDP",
            {"type": "SOURCE_IP", "cookie_name": "c"},
            False,
            "400: Validation failure: session_persistence SOURCE_IP type for UDP and SCTP protocols "
            "only accepts: type, persistence_timeout, persistence_granularity.",
        ),
        (
            "UDP",
            {"type": "APP_COOKIE", "cookie_name": "c"},
            False,
            "400: Validation failure: Cookie names are not supported for UDP/SCTP pools.",
        ),
        (
            "UDP",
            {"type": "HTTP_COOKIE"},
            False,
            "400: Validation failure: Session persistence of type HTTP_COOKIE is not supported for "
            "UDP/SCTP protocol pools.",
        ),
        (
            "TCP",
            {"type": "SOURCE_IP", "persistence_timeout": 5},
            False,
            "400: Validation failure: persistence_timeout and persistence_granularity is only for "
            "UDP and SCTP protocol pools.",
        ),
        (
            "HTTP",
            {"type": "SOURCE_IP", "persistence_granularity": "255.0.0.0"},
            True,
            "400: Validation failure: persistence_timeout and persistence_granularity is only for "
            "UDP protocol pools.",
        ),
        ("TCP", {"type": "SOURCE_IP"}, False, "ok"),
        ("UDP", None, False, "ok"),
    ],
)
def test_session_persistence(protocol, sp, update, expected):
    assert _outcome(lambda: p.check_persistence(protocol, sp, update=update)) == expected


@pytest.mark.parametrize(
    ("pool", "kind", "delay", "expected"),
    [
        ("UDP", "UDP-CONNECT", 3, "ok"),
        ("UDP", "UDP-CONNECT", 5, "ok"),
        ("UDP", "TCP", 1, "ok"),
        ("UDP", "HTTP", 1, "ok"),
        ("SCTP", "SCTP", 1, "ok"),
        (
            "UDP",
            "UDP-CONNECT",
            2,
            "400: Validation failure: The request delay value 2 should be "
            "larger than 3 for UDP-CONNECT health monitor type.",
        ),
        ("UDP", "UDP-CONNECT", None, "ok"),  # an update that leaves the delay alone
        (
            "UDP",
            "PING",
            5,
            "400: Validation failure: The associated pool protocol is UDP, so only "
            "a UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.",
        ),
        (
            "SCTP",
            "HTTPS",
            5,
            "400: Validation failure: The associated pool protocol is SCTP, so "
            "only a UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.",
        ),
        ("TCP", "UDP-CONNECT", 5, "400: " + UDP_ONLY),
        (
            "HTTP",
            "SCTP",
            5,
            "400: Validation failure: The SCTP type is only supported for pools of type UDP/SCTP.",
        ),
        ("HTTP", "HTTP", 5, "ok"),
    ],
)
def test_monitors(pool, kind, delay, expected):
    assert _outcome(lambda: p.check_monitor(pool, kind, delay)) == expected


@pytest.mark.parametrize(
    ("found", "engine"),
    [
        (host.HostSupport(ip_vs=True, nginx="/usr/sbin/nginx"), host.UDP_ENGINE_NGINX),
        (host.HostSupport(ip_vs=False, nginx="/usr/sbin/nginx"), host.UDP_ENGINE_NGINX),
        (host.HostSupport(ip_vs=True), None),  # IPVS is detected but not built yet
        (host.HostSupport(), None),
    ],
)
def test_udp_engine_choice(found, engine):
    assert found.udp_engine == engine


def test_ipvs_is_preferred_once_implemented():
    found = host.HostSupport(ip_vs=True, sctp=True, nginx="/usr/sbin/nginx")
    assert host.choose_udp_engine(found, (host.UDP_ENGINE_IPVS, host.UDP_ENGINE_NGINX)) == "ipvs"


MIXING = "501: Provider 'amphora' does not support a requested option: This provider cannot mix"


@pytest.mark.parametrize(
    ("protocol", "members", "vips", "expected"),
    [
        ("UDP", ["10.0.0.5"], ["10.0.0.1"], "ok"),
        ("UDP", ["fd00::5"], ["10.0.0.1"], MIXING),
        ("UDP", ["10.0.0.5"], ["fd00::1"], MIXING),
        ("SCTP", ["fd00::5"], ["10.0.0.1"], MIXING),
        ("UDP", ["10.0.0.5", "fd00::5"], ["10.0.0.1"], MIXING),  # one is enough
        ("UDP", ["10.0.0.5", "fd00::5"], ["10.0.0.1", "fd00::1"], "ok"),  # additional VIP
        ("UDP", ["fd00::5"], ["fd00::1", "10.0.0.1"], "ok"),
        ("TCP", ["fd00::5"], ["10.0.0.1"], "ok"),  # HAProxy mixes families
        ("HTTP", ["10.0.0.5"], ["fd00::1"], "ok"),
    ],
)
def test_member_families(protocol, members, vips, expected):
    outcome = _outcome(lambda: p.check_member_families(protocol, members, vips))
    assert outcome.startswith(expected), outcome


NFT_ONLY = p.Served(
    udp_engine=host.UDP_ENGINE_NFT, udp_least_connections=False, udp_cross_version=False
)


@pytest.mark.parametrize(
    ("protocol", "member", "vip", "served", "expected"),
    [
        (
            "UDP",
            "fd00::1",
            "10.0.0.1",
            NFT_ONLY,
            "501: Provider 'amphora' does not support a requested "
            "option: a UDP member of IPv6 behind an IPv4 VIP needs nginx",
        ),
        ("UDP", "10.0.0.5", "fd00::1", NFT_ONLY, "501"),
        ("UDP", "fd00::5", "fd00::1", NFT_ONLY, "ok"),  # an ip6 table
        ("UDP", "10.0.0.5", "10.0.0.1", NFT_ONLY, "ok"),
        ("TCP", "fd00::5", "10.0.0.1", NFT_ONLY, "ok"),
        ("UDP", "fd00::5", "10.0.0.1", HERE, "ok"),
    ],
)
def test_udp_version(protocol, member, vip, served, expected):
    outcome = _outcome(lambda: p.check_udp_version(protocol, member, vip, served))
    assert outcome.startswith(expected), outcome
