"""Render a load balancer's UDP listeners for nginx's stream module: a pure function.

``render_udp(lb, options, version=N)`` returns a ``hydria.core.udp.UdpConfig``:
the nginx configuration text (Jinja2 template beside this module), the
listeners and members the agent reports in heartbeats, and the members its
probes check. HAProxy carries every other protocol (``hydria.render.haproxy``
leaves UDP out); docs/udp.md says why nginx and what it can honour.

Decisions
---------
* One ``server`` block per enabled UDP listener on an enabled load balancer,
  ``listen <vip>:<port> udp``; one ``upstream`` per pool such a listener uses,
  named by the pool id. A disabled listener (or load balancer) is not rendered:
  its port is closed, and it is reported ``STOP`` (OFFLINE). A listener without
  a pool, or with a disabled one, is not rendered either (datagrams to it are
  refused, as HAProxy closes a TCP connection it has no backend for).
* **Sessions.** nginx ties a client address and port to one member for as long
  as datagrams keep flowing (``proxy_timeout`` = the listener's
  ``timeout_client_data``), as IPVS does with its UDP connection table.
* **Algorithms.** ROUND_ROBIN: nginx's default; LEAST_CONNECTIONS:
  ``least_conn`` (fewest live sessions); SOURCE_IP: ``hash $remote_addr
  consistent``; SOURCE_IP_PORT (which Hydria serves for TCP too, and Octavia's
  amphora driver refuses): ``hash $remote_addr:$remote_port consistent``.
* **SOURCE_IP persistence** becomes a consistent hash on the client address,
  whatever the algorithm: a client sticks to its member as long as the member
  set does not change. ``persistence_granularity`` is honoured for the IPv4
  masks that end on an octet (255.0.0.0, 255.255.0.0, 255.255.255.0,
  255.255.255.255) by hashing the masked address (a ``map``); any other mask,
  and IPv6, hash the whole address. ``persistence_timeout`` cannot be honoured:
  nginx OSS keeps no stickiness table that expires (that is NGINX Plus's
  ``sticky``); the hash sticks for ever instead.
* **Members.** ``weight=N``; weight 0 (Octavia: take no new sessions) and an
  admin-disabled member render ``down``; ``backup`` members serve only when no
  other member can: nginx's ``backup``, or with a hash (where nginx refuses
  ``backup``) a ``standby`` marker the agent turns into ``down`` while any primary
  member can serve (``hydria.core.udp.standby_backups``). ``max_fails=0``: only the agent's probes
  take a member out (``hydria.core.udp.mark_down``), so the API shows exactly
  what traffic sees. A pool without members gets a placeholder that is
  ``down`` (nginx wants at least one server): datagrams are dropped, as IPVS
  drops them with no real server.
* **Datagram path.** One worker (a UDP session lives in the worker that opened
  it; several would need ``reuseport``), reading every queued datagram per
  wake-up (``multi_accept``) into a listening socket with a deep receive buffer
  (``LISTEN_RCVBUF``); docs/udp.md, "The datagram path".
* **connection_limit** is ``limit_conn`` on the listener's port (nginx counts
  UDP sessions). **allowed_cidrs** are ``allow`` lines then ``deny all``.
* Every value is checked by ``hydria.render.values`` before it reaches the text.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from hydria.core import constants as c
from hydria.core import graph
from hydria.core.udp import Probe, UdpConfig, member_mark
from hydria.render import values as v
from hydria.render.templates import template
from hydria.render.values import UnrenderableValue

TEMPLATE_NAME: Final = "nginx-stream.conf.j2"
#: Octet-aligned IPv4 masks a persistence granularity can be honoured with.
_OCTET_MASKS: Final = {"255.0.0.0": 1, "255.255.0.0": 2, "255.255.255.0": 3, "255.255.255.255": 4}
#: Where a pool without members points (never used: it is ``down``).
PLACEHOLDER: Final = "127.0.0.1:9"
#: The receive buffer of a UDP listener's socket. The default (net.core.rmem_default,
#: often 208 KiB: a few hundred small datagrams) overflows whenever the single worker
#: is off the CPU for tens of milliseconds on a busy host; bench/udp.py measured
#: nearly all of its paced loss there. The kernel caps it at net.core.rmem_max.
LISTEN_RCVBUF: Final = "4m"
PROBED_TYPES: Final = frozenset(
    {c.HEALTH_MONITOR_UDP_CONNECT, c.HEALTH_MONITOR_TCP, c.HEALTH_MONITOR_HTTP}
)


@dataclass(frozen=True)
class NginxOptions:
    """Host-level facts the text needs, from the agent (``GET /1.0/info``)."""

    run_dir: str  # pid file, error log and session logs
    stream_module: str | None = None  # the .so to load; None when built in
    max_sessions: int = 8000
    user: str | None = None


@dataclass(frozen=True)
class ServerLine:
    address: str
    params: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class UpstreamView:
    name: str
    method: str | None  # "least_conn", "hash $remote_addr consistent", or None
    servers: tuple[ServerLine, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class MapView:
    variable: str
    regex: str


@dataclass(frozen=True)
class ServerView:
    listener_id: str
    listen: str
    upstream: str
    proxy_timeout: int
    limit: int | None
    allowed_cidrs: tuple[str, ...]
    access_log: str


@dataclass(frozen=True)
class NginxView:
    version: int
    lb_id: str
    pid: str
    error_log: str
    stream_module: str | None
    worker_connections: int
    listen_rcvbuf: str
    user: str | None
    maps: tuple[MapView, ...]
    upstreams: tuple[UpstreamView, ...]
    servers: tuple[ServerView, ...]


def session_log(run_dir: str, listener_id: str) -> str:
    """Where nginx logs a listener's ended sessions (the agent sums them into stats)."""
    return f"{run_dir}/udp-{listener_id}.log"


def udp_listeners(lb: graph.LoadBalancer) -> list[graph.Listener]:
    return sorted(
        (li for li in lb.listeners if li.protocol == c.PROTOCOL_UDP),
        key=lambda li: (li.protocol_port, li.id),
    )


def serving_pool(lb: graph.LoadBalancer, li: graph.Listener) -> graph.Pool | None:
    """The pool a UDP listener sends its datagrams to, on either engine; None when it
    serves nothing (it, its load balancer or its pool disabled, or no default pool).
    A default pool the graph does not hold is refused."""
    pool = lb.pool(li.default_pool_id)
    if li.default_pool_id is not None and pool is None:
        raise UnrenderableValue(
            f"listener {li.id} refers to pool {li.default_pool_id!r}, which is not in the graph"
        )
    if not (lb.admin_state_up and li.admin_state_up) or pool is None or not pool.admin_state_up:
        return None
    return pool


def render_udp(lb: graph.LoadBalancer, options: NginxOptions, *, version: int) -> UdpConfig:
    """The UDP part of ``lb``'s configuration; ``text`` is None without UDP listeners."""
    listeners = udp_listeners(lb)
    if not listeners:
        return UdpConfig(text=None)
    view, pools = build_view(lb, listeners, options, version=version)
    text = template(TEMPLATE_NAME).render(view=view).rstrip("\n") + "\n"
    enabled = {li.id: lb.admin_state_up and li.admin_state_up for li in listeners}
    reported = {pool.id: {m.id: member_word(m, pool) for m in pool.members} for pool in pools}
    probes = tuple(p for pool in pools for p in pool_probes(pool))
    upstreams = {
        s.listener_id: member_addresses(lb.pool(li.default_pool_id))
        for s in view.servers
        for li in listeners
        if li.id == s.listener_id
    }
    return UdpConfig(
        text=text, listeners=enabled, pools=reported, probes=probes, upstreams=upstreams
    )


def member_addresses(pool: graph.Pool | None) -> tuple[str, ...]:
    """Where a listener's sessions go: its members' ``ip:port`` (IPv6 unbracketed)."""
    if pool is None:
        return ()
    return tuple(
        sorted({f"{ipaddress.ip_address(m.address)}:{m.protocol_port}" for m in pool.members})
    )


def build_view(
    lb: graph.LoadBalancer, listeners: list[graph.Listener], options: NginxOptions, *, version: int
) -> tuple[NginxView, list[graph.Pool]]:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UnrenderableValue(f"config version must be a non-negative int, not {version!r}")
    lb_id = v.ident(lb.id, "load balancer id")
    vip = v.ip(lb.vip_address, f"load balancer {lb_id} vip_address")
    used: dict[str, graph.Pool] = {}
    servers: list[ServerView] = []
    for li in listeners:
        what = f"listener {v.ident(li.id, 'listener id')}"
        pool = serving_pool(lb, li)
        if pool is None:
            continue
        if pool.protocol != c.PROTOCOL_UDP:
            raise UnrenderableValue(f"{what}: pool {pool.id} is {pool.protocol}, not UDP")
        used[pool.id] = pool
        limit = v.integer(li.connection_limit, f"{what} connection_limit", minimum=-1)
        servers.append(
            ServerView(
                listener_id=li.id,
                listen=v.hostport(vip, v.port(li.protocol_port, f"{what} protocol_port")),
                upstream=v.ident(pool.id, "pool id"),
                proxy_timeout=v.timeout_ms(li.timeout_client_data, f"{what} timeout_client_data"),
                limit=limit if limit > 0 else None,
                allowed_cidrs=tuple(v.cidr(x, f"{what} allowed_cidrs") for x in li.allowed_cidrs),
                access_log=v.word(session_log(options.run_dir, li.id), "session log"),
            )
        )
    pools = [used[k] for k in sorted(used)]
    maps: list[MapView] = []
    upstreams = []
    for index, pool in enumerate(pools):
        upstream, map_view = _upstream(pool, index)
        upstreams.append(upstream)
        if map_view is not None:
            maps.append(map_view)
    view = NginxView(
        version=version,
        lb_id=lb_id,
        pid=v.word(f"{options.run_dir}/nginx.pid", "pid file"),
        error_log=v.word(f"{options.run_dir}/nginx-error.log", "error log"),
        stream_module=None
        if options.stream_module is None
        else v.word(options.stream_module, "stream_module"),
        worker_connections=v.integer(options.max_sessions, "max_sessions", minimum=16),
        listen_rcvbuf=LISTEN_RCVBUF,
        user=None if options.user is None else v.word(options.user, "user"),
        maps=tuple(maps),
        upstreams=tuple(upstreams),
        servers=tuple(servers),
    )
    return view, pools


def _hash_key(pool: graph.Pool, index: int) -> tuple[str, MapView | None, str | None]:
    """The hash key of a SOURCE_IP pool or persistence, with its ``map`` if masked."""
    sp = pool.session_persistence
    granularity = sp.persistence_granularity if sp is not None else None
    if not granularity:
        return "$remote_addr", None, None
    octets = _OCTET_MASKS.get(granularity)
    if octets is None or octets == 4:
        note = (
            None
            if octets == 4
            else (
                f"persistence_granularity {v.word(granularity, 'granularity')} is not an octet "
                "mask: the whole client address is hashed"
            )
        )
        return "$remote_addr", None, note
    variable = f"$hydria_net{index}"  # short: nginx hashes variable names in small buckets
    regex = r"~^(?<net>" + r"\.".join([r"\d+"] * octets) + r")\."
    return variable, MapView(variable=variable, regex=regex), None


def _upstream(pool: graph.Pool, index: int) -> tuple[UpstreamView, MapView | None]:
    what = f"pool {pool.id}"
    notes: list[str] = []
    map_view = None
    sticky = (
        pool.session_persistence is not None
        and pool.session_persistence.type == c.SESSION_PERSISTENCE_SOURCE_IP
    )
    if sticky or pool.lb_algorithm == c.LB_ALGORITHM_SOURCE_IP:
        key, map_view, note = _hash_key(pool, index)
        method: str | None = f"hash {key} consistent"
        if note:
            notes.append(note)
        if sticky and pool.session_persistence and pool.session_persistence.persistence_timeout:
            notes.append(
                "persistence_timeout is not honoured: the hash sticks for as long as "
                "the member set does not change"
            )
    elif pool.lb_algorithm == c.LB_ALGORITHM_SOURCE_IP_PORT:
        method = "hash $remote_addr:$remote_port consistent"
    elif pool.lb_algorithm == c.LB_ALGORITHM_LEAST_CONNECTIONS:
        method = "least_conn"
    elif pool.lb_algorithm == c.LB_ALGORITHM_ROUND_ROBIN:
        method = None
    else:
        raise UnrenderableValue(f"{what}: lb_algorithm {pool.lb_algorithm!r} is not supported")
    hashed = method is not None and method.startswith("hash")
    lines = []
    for member in sorted(pool.members, key=lambda m: m.id):
        mwhat = f"member {v.ident(member.id, 'member id')} of {what}"
        weight = v.integer(member.weight, f"{mwhat} weight", maximum=c.MAX_WEIGHT)
        standby = member.backup and hashed
        params = [f"weight={max(weight, 1)}", "max_fails=0"]
        if member.backup and not hashed:
            params.append("backup")
        if not member.admin_state_up or weight == 0:
            params.append("down")
        address = v.hostport(
            v.ip(member.address, f"{mwhat} address"),
            v.port(member.protocol_port, f"{mwhat} protocol_port"),
        )
        lines.append(
            ServerLine(
                address=address,
                params=tuple(params),
                comment=member_mark(member.id, standby=standby),
            )
        )
    if any(m.backup for m in pool.members) and hashed:
        notes.append(
            "backup members are marked standby: the agent keeps them down while "
            "a primary member can serve (nginx has no backup with hash)"
        )
    if not lines:
        lines.append(
            ServerLine(address=PLACEHOLDER, params=("down",), comment="# no member can serve")
        )
    return UpstreamView(
        name=v.ident(pool.id, "pool id"), method=method, servers=tuple(lines), notes=tuple(notes)
    ), map_view


def member_word(member: graph.Member, pool: graph.Pool) -> str:
    """What a heartbeat says of a member no probe decides (HAProxy's words)."""
    if not member.admin_state_up:
        return "MAINT"
    if member.weight == 0:
        return "DRAIN"
    return "no check" if _monitor(pool) is None else "UP"


def _monitor(pool: graph.Pool) -> graph.HealthMonitor | None:
    hm = pool.health_monitor
    return hm if hm is not None and hm.admin_state_up and hm.type in PROBED_TYPES else None


def pool_probes(pool: graph.Pool) -> list[Probe]:
    hm = _monitor(pool)
    if hm is None:
        return []
    out = []
    for m in sorted(pool.members, key=lambda x: x.id):
        if not m.admin_state_up:
            continue
        address = str(ipaddress.ip_address(m.monitor_address or m.address))
        out.append(
            Probe(
                pool_id=pool.id,
                member_id=m.id,
                address=address,
                port=m.monitor_port if m.monitor_port is not None else m.protocol_port,
                type=hm.type,
                delay=hm.delay,
                timeout=hm.timeout,
                rise=hm.max_retries,
                fall=hm.max_retries_down,
                http_method=hm.http_method or "GET",
                url_path=hm.url_path or "/",
                expected_codes=hm.expected_codes or "200",
            )
        )
    return out
