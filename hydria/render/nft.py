"""Render a load balancer's UDP listeners for the nftables engine: a pure function.

``render_nft(lb, version=N)`` returns a ``hydria.core.udp.UdpConfig`` for the
``nftables`` engine: the plan (``hydria.core.nft.NftPlan``) the agent makes its
ruleset from, that ruleset with every member up as ``text``, and the same
reports and probes as nginx's (``hydria.render.nginx``). ``nft_refusal`` says
when a load balancer needs nginx instead; the controller then renders that.

Decisions
---------
* Same listener rules as nginx: a disabled listener or load balancer, or a
  listener without an enabled pool, is not rendered (datagrams to its port
  get no answer) and reports ``STOP`` when disabled.
* ROUND_ROBIN, SOURCE_IP and SOURCE_IP_PORT are the kernel's own choosers
  (``numgen inc``, ``jhash``) over the weights. **LEAST_CONNECTIONS stays on
  nginx**: nftables has no chooser that reads a live count per member; a
  counter-driven approximation would need the agent to rewrite weights from
  conntrack, which is slower than the flows it would steer. A load balancer
  with a LEAST_CONNECTIONS UDP pool runs all its UDP listeners on nginx.
* IPv4 and IPv6: the table is ``ip`` for an IPv4 VIP, ``ip6`` for an IPv6
  one, with the same chains. A member of the other version than the VIP is
  Octavia's 501 at the API (``check_member_families``); here it sends the
  load balancer to nginx. ``additional_vips`` are not served on UDP by
  either engine yet (the listener's VIP only).
* ``timeout_client_data`` is how long a flow may idle: each flow takes the
  listener's conntrack timeout policy (whole seconds, rounded up; 0, "no
  timeout", is the API's maximum as on nginx), where the kernel would keep it
  30 s unanswered and 120 s answered. Octavia's keepalived template leaves it
  out (IPVS keeps its own 300 s); Hydria holds both engines to the field's
  meaning, the client's inactivity timeout, as nginx's ``proxy_timeout`` does.
* SOURCE_IP persistence: a dynamic map keyed by the client address masked with
  ``persistence_granularity`` (default the whole address; on an IPv6 VIP an
  IPv6 netmask, and an IPv4 one keys the whole address, as nginx does), ``persistence_timeout`` seconds
  (Octavia's 360 when unset) refreshed by every datagram the client sends.
"""

from __future__ import annotations

import ipaddress

from hydria.core import constants as c
from hydria.core import graph
from hydria.core.nft import (
    DEFAULT_PERSISTENCE_TIMEOUT,
    FAMILIES,
    NftListener,
    NftMember,
    NftPlan,
    ruleset,
)
from hydria.core.udp import ENGINE_NFT, UdpConfig
from hydria.render import values as v
from hydria.render.nginx import (
    member_addresses,
    member_word,
    pool_probes,
    serving_pool,
    udp_listeners,
)
from hydria.render.values import UnrenderableValue

ALGORITHMS = {
    c.LB_ALGORITHM_ROUND_ROBIN: "ROUND_ROBIN",
    c.LB_ALGORITHM_SOURCE_IP: "SOURCE_IP",
    c.LB_ALGORITHM_SOURCE_IP_PORT: "SOURCE_IP_PORT",
}


def table_name(lb_id: str) -> str:
    """One table per load balancer in the amphora's namespace."""
    return "hydria_" + v.ident(lb_id, "load balancer id").replace("-", "")[:12]


def nft_refusal(lb: graph.LoadBalancer) -> str | None:
    """Why ``lb``'s UDP listeners cannot run on nftables (None: they can)."""
    version = ipaddress.ip_address(lb.vip_address).version
    for li in udp_listeners(lb):
        pool = lb.pool(li.default_pool_id)
        if pool is None:
            continue
        if pool.lb_algorithm not in ALGORITHMS:
            return f"pool {pool.id} uses {pool.lb_algorithm}"
        if any(ipaddress.ip_address(m.address).version != version for m in pool.members):
            return f"pool {pool.id} has a member of another IP version than the VIP"
    return None


def runs_on_nft(lb: graph.LoadBalancer, agent_engines: object) -> bool:
    """Pure: render ``lb``'s UDP for nftables? Where the amphora's agent offers it
    (``udp_engines`` in ``GET /1.0/info``) and nothing in ``lb`` needs nginx."""
    offered = isinstance(agent_engines, list) and ENGINE_NFT in agent_engines
    return offered and nft_refusal(lb) is None


def _mask(pool: graph.Pool, what: str, version: int) -> str:
    sp = pool.session_persistence
    granularity = sp.persistence_granularity if sp is not None else None
    if version == 6:
        return _mask6(granularity)
    if not granularity:
        return "255.255.255.255"
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{granularity}").netmask)
    except ValueError as exc:
        raise UnrenderableValue(
            f"{what} persistence_granularity {granularity!r} is not an IPv4 netmask"
        ) from exc


def _mask6(granularity: str | None) -> str:
    """An IPv6 netmask (``ffff:ffff:ffff:ffff::``) as it is; anything else (unset,
    an IPv4 netmask): the whole address, as nginx hashes an IPv6 client."""
    whole = (1 << 128) - 1
    try:
        bits = int(ipaddress.IPv6Address(granularity or ""))
    except ValueError:
        bits = whole
    contiguous = bits and ((whole ^ bits) + 1) & (whole ^ bits) == 0
    return str(ipaddress.IPv6Address(bits if contiguous else whole))


def _listener(lb: graph.LoadBalancer, li: graph.Listener, pool: graph.Pool) -> NftListener:
    what = f"listener {v.ident(li.id, 'listener id')}"
    if pool.protocol != c.PROTOCOL_UDP:
        raise UnrenderableValue(f"{what}: pool {pool.id} is {pool.protocol}, not UDP")
    algorithm = ALGORITHMS.get(pool.lb_algorithm)
    if algorithm is None:
        raise UnrenderableValue(f"{what}: lb_algorithm {pool.lb_algorithm!r} is not nftables'")
    sp = pool.session_persistence
    sticky = sp is not None and sp.type == c.SESSION_PERSISTENCE_SOURCE_IP
    version = ipaddress.ip_address(lb.vip_address).version
    timeout = None
    if sticky and sp is not None:
        timeout = v.integer(
            sp.persistence_timeout or DEFAULT_PERSISTENCE_TIMEOUT,
            f"{what} persistence_timeout",
            minimum=1,
        )
    idle_ms = v.timeout_ms(li.timeout_client_data, f"{what} timeout_client_data")
    limit = v.integer(li.connection_limit, f"{what} connection_limit", minimum=-1)
    members = []
    for m in sorted(pool.members, key=lambda x: x.id):
        mwhat = f"member {v.ident(m.id, 'member id')} of pool {pool.id}"
        members.append(
            NftMember(
                id=m.id,
                address=str(v.ip(m.address, f"{mwhat} address")),
                port=v.port(m.protocol_port, f"{mwhat} protocol_port"),
                weight=v.integer(m.weight, f"{mwhat} weight", maximum=c.MAX_WEIGHT),
                backup=m.backup,
                enabled=m.admin_state_up,
            )
        )
    return NftListener(
        id=li.id,
        vip=str(v.ip(lb.vip_address, f"load balancer {lb.id} vip_address")),
        port=v.port(li.protocol_port, f"{what} protocol_port"),
        pool_id=v.ident(pool.id, "pool id"),
        algorithm=algorithm,
        members=tuple(members),
        allowed_cidrs=tuple(v.cidr(x, f"{what} allowed_cidrs") for x in li.allowed_cidrs),
        connection_limit=limit if limit > 0 else None,
        sticky_timeout=timeout,
        sticky_mask=_mask(pool, what, version) if sticky else "255.255.255.255",
        idle_timeout=-(-idle_ms // 1000),  # whole seconds, rounded up: never shorter
    )


def render_nft(lb: graph.LoadBalancer, *, version: int) -> UdpConfig:
    """The UDP part of ``lb``'s configuration on nftables; ``text`` None without UDP."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UnrenderableValue(f"config version must be a non-negative int, not {version!r}")
    listeners = udp_listeners(lb)
    if not listeners:
        return UdpConfig(text=None, engine=ENGINE_NFT)
    reason = nft_refusal(lb)
    if reason is not None:
        raise UnrenderableValue(f"load balancer {lb.id} cannot run on nftables: {reason}")
    planned: list[NftListener] = []
    pools: dict[str, graph.Pool] = {}
    for li in listeners:
        pool = serving_pool(lb, li)
        if pool is None:
            continue
        planned.append(_listener(lb, li, pool))
        pools[pool.id] = pool
    family = FAMILIES[ipaddress.ip_address(lb.vip_address).version]
    plan = NftPlan(table=table_name(lb.id), listeners=tuple(planned), family=family)
    used = [pools[k] for k in sorted(pools)]
    return UdpConfig(
        text=ruleset(plan),
        listeners={li.id: lb.admin_state_up and li.admin_state_up for li in listeners},
        pools={p.id: {m.id: member_word(m, p) for m in p.members} for p in used},
        probes=tuple(probe for p in used for probe in pool_probes(p)),
        upstreams={nl.id: member_addresses(pools[nl.pool_id]) for nl in planned},
        engine=ENGINE_NFT,
        nft=plan,
    )
