"""The ``backend`` sections of HAProxy's configuration: balance, persistence,
health checks and servers of one pool (pure, as ``hydria.render.haproxy``, whose
module docstring gives the decisions: backend mode, shared pools, session
persistence, health monitors, SOURCE_IP_PORT, IPv6 addresses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from hydria.core import constants as c
from hydria.core import graph
from hydria.render import haproxy_tls
from hydria.render import values as v
from hydria.render.haproxy_peers import PeersView, with_peers
from hydria.render.values import UnrenderableValue

MODE_HTTP: Final = "http"
MODE_TCP: Final = "tcp"

#: Entries per stick table (Octavia's ``haproxy_stick_size`` default).
STICK_TABLE_SIZE: Final = "10k"
#: Name of the cookie HAProxy inserts for HTTP_COOKIE persistence (as Octavia).
PERSISTENCE_COOKIE: Final = "SRV"


#: The variable SOURCE_IP_PORT's hash reads the client's port from.
SOURCE_PORT_VAR: Final = "txn.src_port"
#: Where the PING check's ``ping`` is looked up (HAProxy clears PATH for external checks).
EXTERNAL_CHECK_PATH: Final = "/usr/bin:/bin:/usr/sbin:/sbin"

_BALANCE: Final = {
    c.LB_ALGORITHM_ROUND_ROBIN: ("roundrobin", ()),
    c.LB_ALGORITHM_LEAST_CONNECTIONS: ("leastconn", ()),
    c.LB_ALGORITHM_SOURCE_IP: ("source", ()),
    c.LB_ALGORITHM_SOURCE_IP_PORT: (
        f"hash src,concat(:,{SOURCE_PORT_VAR})",
        (f"tcp-request content set-var({SOURCE_PORT_VAR}) src_port",),
    ),
}
_SEND_PROXY: Final = {c.PROTOCOL_PROXY: "send-proxy", c.PROTOCOL_PROXYV2: "send-proxy-v2"}

_HOSTNAME_RE: Final = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
# A cookie name that is safe both as a config word and inside ``req.cook(...)``:
# RFC 6265 token characters minus those HAProxy's parsers treat specially
# (quotes, '#', '\', parentheses, comma).
_COOKIE_RE: Final = re.compile(r"[A-Za-z0-9!$%&*+.^_`|~-]{1,255}")


@dataclass(frozen=True)
class ServerView:
    name: str
    address: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class BackendView:
    name: str
    mode: str
    balance: str
    balance_rules: tuple[str, ...]
    persistence: tuple[str, ...]
    timeout_connect: int
    timeout_server: int
    timeout_check: int | None
    checks: tuple[str, ...]
    servers: tuple[ServerView, ...]


def backend(
    pool: graph.Pool,
    mode: str,
    listeners: list[graph.Listener],
    *,
    name: str,
    options: graph.RenderOptions,
    lb: graph.LoadBalancer,
    peers: PeersView | None = None,
) -> BackendView:
    what = f"pool {pool.id}"
    if pool.lb_algorithm not in _BALANCE:
        raise UnrenderableValue(f"{what}: lb_algorithm {pool.lb_algorithm!r} is not supported")
    balance, balance_rules = _BALANCE[pool.lb_algorithm]
    hm = pool.health_monitor if pool.health_monitor and pool.health_monitor.admin_state_up else None
    checks, server_check = (
        _health_check(hm, what, options, tls=pool.tls_enabled) if hm else ((), ())
    )
    server_tls = haproxy_tls.server_options(pool, lb, options)
    cookie_per_server = False
    persistence: tuple[str, ...] = ()
    if pool.session_persistence is not None:
        persistence, cookie_per_server = _persistence(pool.session_persistence, mode, what)
        persistence = with_peers(persistence, peers)
    send_proxy = _SEND_PROXY.get(pool.protocol)
    servers = tuple(
        _server(
            member,
            pool=pool,
            send_proxy=send_proxy,
            cookie=cookie_per_server,
            check=server_check,
            tls=server_tls,
        )
        for member in sorted(pool.members, key=lambda mb: mb.id)
    )
    return BackendView(
        name=name,
        mode=mode,
        balance=balance,
        balance_rules=balance_rules,
        persistence=persistence,
        timeout_connect=max(
            v.timeout_ms(lst.timeout_member_connect, f"listener {lst.id} timeout_member_connect")
            for lst in listeners
        ),
        timeout_server=max(
            v.timeout_ms(lst.timeout_member_data, f"listener {lst.id} timeout_member_data")
            for lst in listeners
        ),
        timeout_check=v.integer(hm.timeout, f"{what} health monitor timeout", minimum=1)
        if hm
        else None,
        checks=checks,
        servers=servers,
    )


def _server(
    member: graph.Member,
    *,
    pool: graph.Pool,
    send_proxy: str | None,
    cookie: bool,
    check: tuple[str, ...],
    tls: tuple[str, ...] = (),
) -> ServerView:
    what = f"member {member.id} of pool {pool.id}"
    name = v.ident(member.id, "member id")
    opts = [f"weight {v.integer(member.weight, f'{what} weight', maximum=c.MAX_WEIGHT)}"]
    if cookie:
        opts.append(f"cookie {name}")
    if send_proxy:
        opts.append(send_proxy)
    opts.extend(tls)
    if member.backup:
        opts.append("backup")
    if not member.admin_state_up:
        opts.append("disabled")
    if check:
        opts.extend(check)
        if member.monitor_address:
            addr = v.ip(member.monitor_address, f"{what} monitor_address")
            opts.append(f"addr {v.host(addr)}")
        if member.monitor_port is not None:
            opts.append(f"port {v.port(member.monitor_port, f'{what} monitor_port')}")
    address = v.hostport(
        v.ip(member.address, f"{what} address"),
        v.port(member.protocol_port, f"{what} protocol_port"),
    )
    return ServerView(name=name, address=address, options=tuple(opts))


def _health_check(
    hm: graph.HealthMonitor, what: str, options: graph.RenderOptions, *, tls: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Backend directives and per-server ``check`` options for an enabled monitor.

    In a ``tls_enabled`` pool, HTTPS and TLS-HELLO checks run over the servers' own
    TLS settings (``check-ssl``: Hydria's certificate, the CA, verification)."""
    what = f"{what} health monitor"
    server = ["check"]
    directives: list[str] = []
    if hm.type in (c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_HTTPS):
        directives = [
            "option httpchk",
            _http_check_send(hm, what),
            f"http-check expect status {v.expected_codes(hm.expected_codes, what)}",
        ]
        if hm.type == c.HEALTH_MONITOR_HTTPS:
            server.append("check-ssl" if tls else "check-ssl verify none")
    elif hm.type == c.HEALTH_MONITOR_TLS_HELLO:
        if tls:
            server.append("check-ssl")
        else:
            directives = ["option ssl-hello-chk"]
    elif hm.type == c.HEALTH_MONITOR_PING:
        directives = [
            "option external-check",
            f'external-check path "{EXTERNAL_CHECK_PATH}"',
            f"external-check command {v.word(options.ping_check, 'ping_check')}",
        ]
    elif hm.type == c.HEALTH_MONITOR_TCP:
        pass  # a connect to the member's (or monitor's) port
    else:
        raise UnrenderableValue(f"{what}: type {hm.type!r} is not supported")
    server.append(
        f"inter {v.integer(hm.delay, f'{what} delay', minimum=1)}s"
        f" fall {v.integer(hm.max_retries_down, f'{what} max_retries_down', minimum=1)}"
        f" rise {v.integer(hm.max_retries, f'{what} max_retries', minimum=1)}"
    )
    return tuple(directives), tuple(server)


def _http_check_send(hm: graph.HealthMonitor, what: str) -> str:
    method = hm.http_method or "GET"
    if method not in c.HTTP_METHODS:
        raise UnrenderableValue(f"{what}: http_method {method!r} is not supported")
    parts = ["http-check send", f"meth {method}", f"uri {v.uri(hm.url_path or '/', what)}"]
    if hm.http_version is not None:
        if hm.http_version not in c.HTTP_VERSIONS:
            raise UnrenderableValue(f"{what}: http_version {hm.http_version!r} is not supported")
        parts.append(f"ver HTTP/{hm.http_version:.1f}")
    if hm.domain_name:
        if not _HOSTNAME_RE.fullmatch(hm.domain_name):
            raise UnrenderableValue(f"{what}: domain_name {hm.domain_name!r} is not a host name")
        parts.append(f"hdr Host {hm.domain_name}")
    return " ".join(parts)


def _persistence(
    sp: graph.SessionPersistence, mode: str, what: str
) -> tuple[tuple[str, ...], bool]:
    """Backend directives for ``sp``, and whether servers carry a cookie."""
    expire = ""
    if sp.persistence_timeout:
        expire = f" expire {v.integer(sp.persistence_timeout, f'{what} persistence_timeout')}s"
    if sp.type == c.SESSION_PERSISTENCE_SOURCE_IP:
        return (f"stick-table type ipv6 size {STICK_TABLE_SIZE}{expire}", "stick on src"), False
    if sp.type not in (c.SESSION_PERSISTENCE_HTTP_COOKIE, c.SESSION_PERSISTENCE_APP_COOKIE):
        raise UnrenderableValue(f"{what}: session persistence {sp.type!r} is not supported")
    if mode != MODE_HTTP:
        return (f"# session persistence {sp.type} needs HTTP; not applied in tcp mode",), False
    if sp.type == c.SESSION_PERSISTENCE_HTTP_COOKIE:
        return (f"cookie {PERSISTENCE_COOKIE} insert indirect nocache",), True
    if sp.cookie_name is None or not _COOKIE_RE.fullmatch(sp.cookie_name):
        raise UnrenderableValue(f"{what}: cookie_name {sp.cookie_name!r} is not a safe cookie name")
    name = sp.cookie_name
    return (
        f"stick-table type string len 64 size {STICK_TABLE_SIZE}{expire}",
        f"stick store-response res.cook({name})",
        f"stick match req.cook({name})",
    ), False
