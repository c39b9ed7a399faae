"""Render a load balancer's HAProxy configuration: a pure function of its graph.

``render(lb, amphora, options, version=N)`` takes the frozen snapshot of
``hydria.core.graph`` and returns the text of ``haproxy.cfg``. It reads no global
configuration, no database and no clock; the only I/O is loading the Jinja2
template beside this module (parsed once and cached). All decisions are taken here,
in Python, while building a plain *view model* (frozen dataclasses of strings and
ints); ``templates/haproxy.cfg.j2`` only lays that out.

Shape of the output
-------------------
* ``global``: ``maxconn`` (``options.max_connections``, see
  ``hydria.render.limits``), the stats socket at ``level admin`` with
  ``expose-fd listeners`` (the agent passes the listening sockets from the old
  worker to the new one, so a reload never refuses a connection), ``log`` only
  when ``options.log_target`` is set, ``user``/``group`` only when
  ``options.user_group`` is. ``master-worker`` is on the agent's command line.
* one ``frontend`` per listener, named by the listener id (UDP and SCTP listeners
  are left to the amphora's L4 engine, ``hydria.render.nginx``);
* one ``backend`` per pool that some listener uses as its default pool or
  through an L7 policy (``hydria.render.haproxy_l7``: ACLs and ``http-request``
  rules in policy position order), named by the pool id.
* a PROMETHEUS listener is an ``http`` frontend that hands ``GET /metrics`` to
  the agent's metrics proxy (backend ``hydria-prom``, a unix socket), which reads
  HAProxy's built-in ``prometheus-exporter`` (frontend ``hydria-prom-in``, another
  unix socket: every frontend, backend and server of this HAProxy) and answers
  under Octavia's ``octavia_*`` names (``hydria.core.prometheus``); other paths
  are refused (403); it has no pool, as in Octavia, and its ``allowed_cidrs``
  apply like any listener's.

Decisions
---------
* **Ordering.** Listeners are emitted by (port, id), backends by (pool id, mode),
  servers by member id. The database returns rows in no promised order; sorting
  makes the text depend on the graph as a set, so the same graph always gives the
  same bytes.
* **Disabled listener** (``admin_state_up`` false): the frontend is rendered with
  ``disabled``. HAProxy still checks it, does not bind its port, takes no traffic,
  and shows it as STOP on the stats socket, so heartbeats can report it OFFLINE
  instead of it silently vanishing. **Disabled load balancer**: every frontend is
  rendered ``disabled``. In both cases the backends stay, so health checks keep
  member status current for when traffic comes back.
* **Pools.** A pool that no listener uses as its default pool is not rendered (no
  traffic can reach it; checking its members would only cost). A disabled pool is
  not rendered either, and its listeners get no ``default_backend``: an HTTP
  listener answers 503, a TCP one closes the connection. The same holds for a
  listener without a default pool.
* **Backend mode.** ``http`` when the listener is HTTP or the pool is HTTP (a TCP
  listener in front of an HTTP pool is upgraded by HAProxy, as in Octavia),
  ``tcp`` otherwise. A pool used in both modes (a PROXY pool behind an HTTP and a
  TCP listener) is rendered twice, as ``<pool id>:http`` and ``<pool id>:tcp``;
  otherwise the backend name is the bare pool id. Readers of the stats socket take
  the pool id as the part before the first ``:``.
* **Shared pools.** Backend ``timeout connect``/``timeout server`` are the largest
  of the values of the listeners using the backend, so no listener's requests are
  cut shorter than it asked for.
* **Session persistence.** SOURCE_IP: an IPv6 stick table (IPv4 is stored mapped)
  on ``src``. HTTP_COOKIE: ``cookie SRV insert indirect nocache`` and one cookie
  per server (its member id). APP_COOKIE: a string stick table learning the
  application's cookie from responses and matching it on requests. The two cookie
  types need HTTP; in a ``tcp`` backend they are left out with a comment saying so.
  ``persistence_timeout`` (seconds), when set, becomes the table's ``expire``.
* **Health monitors.** HTTP/HTTPS: ``option httpchk`` with the HAProxy 2.2+
  ``http-check send meth .. uri .. [ver ..] [hdr Host ..]`` and
  ``http-check expect status <codes>`` (HAProxy takes Octavia's "200", "200,202"
  and "200-204" forms natively; no regex is needed). HTTPS adds ``check-ssl
  verify none`` on each server. TLS-HELLO: ``option ssl-hello-chk``. TCP: a
  connect check. **PING**: HAProxy has no ICMP check of its own; as Octavia's
  amphora does, the backend runs an external check (``option external-check``)
  whose command is the ``ping-check`` script the agent installs in the amphora
  folder (``options.ping_check``): one echo to the member's address. The global
  section then allows it (``external-check`` and ``insecure-fork-wanted``); a
  configuration without a PING monitor never lets HAProxy fork. HAProxy gives the
  script the member's address, not ``monitor_address``, so a PING monitor pings
  the member itself (as in Octavia); ``monitor_port`` means nothing to ICMP.
  HAProxy kills a check that outlives ``timeout check``.
  A disabled monitor renders no check at all.
* **SOURCE_IP_PORT** (beyond Octavia's amphora driver, which refuses it): a hash
  of the client's address and port, ``balance hash src,concat(:,txn.src_port)``,
  the port put in a transaction variable first by ``tcp-request content
  set-var`` in the backend (HAProxy 2.6's ``concat`` takes variables, not sample
  fetches). One client connection always lands on the same member for its life;
  a client's connections spread over the members by their source ports.
* **IPv6.** Addresses are written ``[addr]:port`` (bind, server) and ``[addr]``
  (``addr`` of a check), which HAProxy 2.6 accepts. Bare ``addr:port`` is
  ambiguous and bare ``addr`` is even misparsed (``addr fd00::2`` is read as host
  ``fd00:`` port 2).
* **Untrusted strings.** Names, descriptions and tags are never rendered; ids
  must look like ids. Every other string that reaches the text is either checked
  against a strict pattern (ids, IP addresses and networks, host names, cookie
  names, HTTP methods, expected codes, socket paths) or, for a health monitor's
  ``url_path``, percent-encoded so that no space, quote, ``#``, backslash or
  control character survives. Anything else raises :class:`UnrenderableValue`,
  a permanent error: the controller marks the load balancer ERROR with the reason
  rather than push a configuration that could be read differently from what was
  meant.
* **Listener options.** ``timeout_tcp_inspect`` (ms), when not 0, is the
  frontend's ``tcp-request inspect-delay`` in every mode, as Octavia writes it.
  ``insert_headers`` apply to HTTP listeners (the API refuses them elsewhere):
  X-Forwarded-For (``option forwardfor``), -Port, -Proto, and the client
  address in X-Forwarded-IP, X-Client-IP and X-Real-IP (which Octavia accepts
  but does not apply).
* **Timeouts.** Listener timeouts are in milliseconds. A timeout of 0 would mean
  "none" to HAProxy, which warns about it; it is rendered as the API's maximum
  (``MAX_TIMEOUT``, 24 days), which behaves the same and keeps the configuration
  free of warnings.
* **Peers.** An ACTIVE_STANDBY amphora's stick tables are shared with its peer
  (``haproxy_peers.py``: the ``peers`` section, ``localpeer``); SINGLE has none.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Final

from hydria.core import constants as c
from hydria.core import graph, prometheus
from hydria.render import haproxy_l7, haproxy_tls
from hydria.render import values as v
from hydria.render.haproxy_backend import MODE_HTTP, MODE_TCP, BackendView, backend
from hydria.render.haproxy_logs import LOG_FACILITY, flow_log_lines, log_address, log_option
from hydria.render.haproxy_peers import PeersView, peers_view
from hydria.render.haproxy_vips import additional_binds
from hydria.render.templates import template
from hydria.render.values import UnrenderableValue

TEMPLATE_NAME: Final = "haproxy.cfg.j2"

_LISTENER_MODE: Final = {
    c.PROTOCOL_HTTP: MODE_HTTP,
    c.PROTOCOL_HTTPS: MODE_TCP,  # TLS passthrough
    c.PROTOCOL_TCP: MODE_TCP,
    c.PROTOCOL_PROMETHEUS: MODE_HTTP,
    c.PROTOCOL_TERMINATED_HTTPS: MODE_HTTP,
}
# insert_headers that carry the client's address; Octavia accepts them but its
# amphora driver writes nothing for them.
_CLIENT_ADDRESS_HEADERS: Final = ("X-Forwarded-IP", "X-Client-IP", "X-Real-IP")

_USER_GROUP_RE: Final = re.compile(
    r"([A-Za-z_][A-Za-z0-9_-]{0,31})(?::([A-Za-z_][A-Za-z0-9_-]{0,31}))?"
)


# --------------------------------------------------------------------------- #
# View model: what the template sees. Plain strings and ints, already checked. #
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class GlobalView:
    maxconn: int
    stats_socket: str
    log_target: str | None
    log_facility: str
    user: str | None
    group: str | None
    external_check: bool
    log_ring: tuple[str, ...] = ()  # "server" lines of the TCP log ring


@dataclass(frozen=True)
class FrontendView:
    name: str
    mode: str
    bind: str
    disabled: bool
    maxconn: int
    timeout_client: int
    log_option: str | None
    inspect_delay: int | None
    allowed_cidrs: tuple[str, ...]
    forwardfor: bool
    set_headers: tuple[tuple[str, str], ...]
    default_backend: str | None
    prometheus: bool = False
    log_lines: tuple[str, ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    l7_lines: tuple[str, ...] = ()  # ACLs, http-request rules, use_backend
    extra_binds: tuple[str, ...] = ()  # the same bind on each additional VIP


@dataclass(frozen=True)
class ConfigView:
    version: int
    lb_id: str
    global_: GlobalView
    logging: bool
    no_log: bool
    frontends: tuple[FrontendView, ...]
    backends: tuple[BackendView, ...]
    peers: PeersView | None = None
    # (HAProxy's exporter socket, the agent's metrics proxy socket) with a PROMETHEUS listener
    prometheus_sockets: tuple[str, str] | None = None


# --------------------------------------------------------------------------- #
# Public entry point                                                          #
# --------------------------------------------------------------------------- #


def render(
    lb: graph.LoadBalancer,
    amphora: graph.Amphora,
    options: graph.RenderOptions,
    *,
    version: int,
) -> str:
    """Return the HAProxy configuration for ``lb`` as run on ``amphora``.

    The text starts with ``# hydria config version <version> for load balancer
    <id>`` and ends with a newline; the same arguments always give the same bytes.
    Raises :class:`UnrenderableValue` when a value cannot be written safely.
    """
    view = build_view(lb, amphora, options, version=version)
    text = template(TEMPLATE_NAME).render(view=view)
    return text.rstrip("\n") + "\n"


def build_view(
    lb: graph.LoadBalancer,
    amphora: graph.Amphora,
    options: graph.RenderOptions,
    *,
    version: int,
) -> ConfigView:
    """Everything :func:`render` decides, as a value (handy for tests and debugging)."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UnrenderableValue(f"config version must be a non-negative int, not {version!r}")
    lb_id = v.ident(lb.id, "load balancer id")
    v.ident(amphora.id, "amphora id")
    vip = v.ip(lb.vip_address, f"load balancer {lb_id} vip_address")

    # UDP (and SCTP) listeners are the L4 engine's (hydria.render.nginx), not HAProxy's.
    served = [lst for lst in lb.listeners if lst.protocol not in c.L4_ENGINE_PROTOCOLS]
    listeners = sorted(
        served,
        key=lambda lst: (
            v.port(lst.protocol_port, f"listener {v.ident(lst.id, 'listener id')} protocol_port"),
            lst.id,
        ),
    )

    # Which (pool, mode) backends are needed, and by which listeners.
    pools = {pool.id: pool for pool in lb.pools}
    uses: dict[tuple[str, str], list[graph.Listener]] = {}
    listener_backend: dict[str, tuple[str, str] | None] = {}
    for lst in listeners:
        key = None
        if lst.default_pool_id is not None:
            pool = pools.get(lst.default_pool_id)
            if pool is None:
                raise UnrenderableValue(
                    f"listener {lst.id} refers to pool {lst.default_pool_id!r}, "
                    "which is not in the graph"
                )
            if pool.admin_state_up and lst.protocol != c.PROTOCOL_PROMETHEUS:
                key = (pool.id, _backend_mode(lst, pool))
                uses.setdefault(key, []).append(lst)
        listener_backend[lst.id] = key
        for policy in haproxy_l7.active_policies(lst, pools):
            if policy.action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:  # an http backend
                users = uses.setdefault(
                    (v.ident(policy.redirect_pool_id, "pool id"), MODE_HTTP), []
                )
                users.extend([] if lst in users else [lst])

    modes_of: dict[str, set[str]] = {}
    for pool_id, mode in uses:
        modes_of.setdefault(pool_id, set()).add(mode)
    names = {key: key[0] if len(modes_of[key[0]]) == 1 else f"{key[0]}:{key[1]}" for key in uses}

    def l7_lines(lst: graph.Listener) -> tuple[str, ...]:
        return haproxy_l7.frontend_lines(
            haproxy_l7.active_policies(lst, pools), lambda pool_id: names[(pool_id, MODE_HTTP)]
        )

    frontends = tuple(
        _frontend(
            lst,
            lb=lb,
            l7_lines=l7_lines(lst),
            vip=vip,
            lb_enabled=lb.admin_state_up,
            options=options,
            lb_id=lb_id,
            project_id=lb.project_id,
            default_backend=None if (key := listener_backend[lst.id]) is None else names[key],
        )
        for lst in listeners
    )
    if lb.additional_vips:
        frontends = tuple(
            replace(f, extra_binds=additional_binds(f.bind, lb.additional_vips)) for f in frontends
        )
    peers = peers_view(amphora)
    backends = tuple(
        backend(
            pools[key[0]], key[1], uses[key], name=names[key], options=options, lb=lb, peers=peers
        )
        for key in sorted(uses)
    )
    external_check = any(
        (hm := pools[pool_id].health_monitor) is not None
        and hm.admin_state_up
        and hm.type == c.HEALTH_MONITOR_PING
        for pool_id, _mode in uses
    )
    return ConfigView(
        version=version,
        lb_id=lb_id,
        global_=_global(options, external_check=external_check),
        logging=options.log_target is not None and options.connection_logging,
        no_log=not options.connection_logging,
        frontends=frontends,
        backends=backends,
        peers=peers,
        prometheus_sockets=_prometheus_sockets(options)
        if any(f.prometheus for f in frontends)
        else None,
    )


def _prometheus_sockets(options: graph.RenderOptions) -> tuple[str, str]:
    exporter, proxy = prometheus.sockets(options.stats_socket)
    return v.word(exporter, "prometheus exporter socket"), v.word(proxy, "metrics proxy socket")


# --------------------------------------------------------------------------- #
# Sections                                                                    #
# --------------------------------------------------------------------------- #


def _global(options: graph.RenderOptions, *, external_check: bool) -> GlobalView:
    user = group = None
    if options.user_group is not None:
        m = _USER_GROUP_RE.fullmatch(options.user_group)
        if m is None:
            raise UnrenderableValue(f"user_group {options.user_group!r} is not 'user[:group]'")
        user, group = m.group(1), m.group(2) or m.group(1)
    log_target = None
    if options.log_target is not None:
        log_target = v.word(options.log_target, "log_target")
    ring = tuple(
        f"server t{i} {log_address(t, tcp=True)}" for i, t in enumerate(options.log_tcp_targets)
    )
    return GlobalView(
        log_ring=ring if options.connection_logging else (),
        maxconn=v.integer(options.max_connections, "max_connections", minimum=1),
        stats_socket=v.word(options.stats_socket, "stats_socket"),
        log_target=log_target,
        log_facility=LOG_FACILITY,
        user=user,
        group=group,
        external_check=external_check,
    )


def _frontend(
    lst: graph.Listener,
    *,
    lb: graph.LoadBalancer,
    vip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    lb_enabled: bool,
    options: graph.RenderOptions,
    default_backend: str | None,
    lb_id: str = "",
    project_id: str = "",
    l7_lines: tuple[str, ...] = (),
) -> FrontendView:
    what = f"listener {lst.id}"
    mode = _listener_mode(lst)
    limit = v.integer(lst.connection_limit, f"{what} connection_limit", minimum=-1)
    inspect = v.integer(lst.timeout_tcp_inspect, f"{what} timeout_tcp_inspect")
    headers = {
        name.lower(): str(value).strip().lower() == "true" for name, value in lst.insert_headers
    }
    set_headers: list[tuple[str, str]] = []
    forwardfor = False
    if mode == MODE_HTTP:
        forwardfor = headers.get("x-forwarded-for", False)
        if headers.get("x-forwarded-port", False):
            set_headers.append(("X-Forwarded-Port", "%[dst_port]"))
        if headers.get("x-forwarded-proto", False):
            tls = lst.protocol == c.PROTOCOL_TERMINATED_HTTPS
            set_headers.append(("X-Forwarded-Proto", "https" if tls else "http"))
        for name in _CLIENT_ADDRESS_HEADERS:
            if headers.get(name.lower(), False):
                set_headers.append((name, "%[src]"))
        set_headers.extend(haproxy_tls.request_headers(lst, headers))
    return FrontendView(
        name=lst.id,
        mode=mode,
        bind=v.hostport(vip, v.port(lst.protocol_port, f"{what} protocol_port"))
        + haproxy_tls.bind_options(lst, lb, options),
        response_headers=haproxy_tls.response_headers(lst),
        disabled=not (lb_enabled and lst.admin_state_up),
        maxconn=limit if limit > 0 else options.max_connections,
        timeout_client=v.timeout_ms(lst.timeout_client_data, f"{what} timeout_client_data"),
        log_option=log_option(options, http=mode == MODE_HTTP, lb_id=lb_id, project_id=project_id),
        log_lines=flow_log_lines(options),
        inspect_delay=inspect if inspect > 0 else None,
        allowed_cidrs=tuple(v.cidr(cidr, f"{what} allowed_cidrs") for cidr in lst.allowed_cidrs),
        forwardfor=forwardfor,
        set_headers=tuple(set_headers),
        default_backend=None if lst.protocol == c.PROTOCOL_PROMETHEUS else default_backend,
        prometheus=lst.protocol == c.PROTOCOL_PROMETHEUS,
        l7_lines=l7_lines,
    )


# --------------------------------------------------------------------------- #
# Small pure helpers                                                          #
# --------------------------------------------------------------------------- #


def _listener_mode(lst: graph.Listener) -> str:
    mode = _LISTENER_MODE.get(lst.protocol)
    if mode is None:
        raise UnrenderableValue(f"listener {lst.id}: protocol {lst.protocol!r} is not supported")
    return mode


def _backend_mode(lst: graph.Listener, pool: graph.Pool) -> str:
    if pool.protocol not in c.SUPPORTED_POOL_PROTOCOLS or pool.protocol in c.L4_ENGINE_PROTOCOLS:
        raise UnrenderableValue(f"pool {pool.id}: protocol {pool.protocol!r} is not supported")
    v.ident(pool.id, "pool id")
    if _listener_mode(lst) == MODE_HTTP or pool.protocol == c.PROTOCOL_HTTP:
        return MODE_HTTP
    return MODE_TCP


def warm() -> None:
    """Load and compile the template now (a controller calls it at start), so the
    first load balancer after a restart does not pay for it (~0.1 s on a busy host)."""
    template(TEMPLATE_NAME)
