"""Which options go with which protocol, as Octavia 19 validates them. Pure functions.

These are the rules Octavia's API controllers (listener, pool, health monitor)
apply to UDP, SCTP and PROMETHEUS listeners, pools and monitors, with its
messages, plus the host's part: a protocol the amphorae cannot serve here is
Octavia's provider error (501), never a 400, because the request was valid.

Each function takes plain values and raises ``InvalidInput`` (400),
``ProviderUnsupported`` (501) or returns; none reads a database, so the single
creates, updates and the fully populated create share them, and the table-driven
tests in ``tests/core/test_protocols.py`` cover them without I/O.

Octavia's rules, in short:

* Listeners: UDP and SCTP carry no TLS and no inserted headers; PROMETHEUS has no
  pool and no L7 policy ("cannot have child objects"); a port may carry one
  listener per transport (TCP, UDP, SCTP), so TCP and UDP may share a port and
  PROMETHEUS counts as TCP.
* Pools: a UDP or SCTP listener takes only a pool of its own protocol. Session
  persistence on UDP/SCTP pools is SOURCE_IP only, with ``persistence_timeout``
  and ``persistence_granularity`` and no cookie; on other pools those two fields
  are refused. Algorithms are the same three for every protocol.
* Monitors: a UDP/SCTP pool takes UDP-CONNECT, SCTP, TCP or HTTP monitors; a
  UDP-CONNECT monitor checks at most every ``UDP_CONNECT_MIN_DELAY`` seconds;
  UDP-CONNECT and SCTP monitors only go on UDP/SCTP pools.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hydria.core import constants as c
from hydria.core.errors import InvalidInput, ProviderUnsupported

L4_PROTOCOLS: Final = (c.PROTOCOL_UDP, c.PROTOCOL_SCTP)
_UDP_SCTP: Final = "/".join(L4_PROTOCOLS)

#: The transport each listener protocol occupies on its port (Octavia's L4_PROTOCOL_MAP).
TRANSPORT: Final = {
    c.PROTOCOL_HTTP: c.PROTOCOL_TCP,
    c.PROTOCOL_HTTPS: c.PROTOCOL_TCP,
    c.PROTOCOL_TCP: c.PROTOCOL_TCP,
    c.PROTOCOL_TERMINATED_HTTPS: c.PROTOCOL_TCP,
    c.PROTOCOL_PROXY: c.PROTOCOL_TCP,
    c.PROTOCOL_PROXYV2: c.PROTOCOL_TCP,
    c.PROTOCOL_PROMETHEUS: c.PROTOCOL_TCP,
    c.PROTOCOL_UDP: c.PROTOCOL_UDP,
    c.PROTOCOL_SCTP: c.PROTOCOL_SCTP,
}

#: Monitor types a UDP or SCTP pool takes, in Octavia's order (its message lists them so).
L4_POOL_MONITORS: Final = (
    c.HEALTH_MONITOR_UDP_CONNECT,
    c.HEALTH_MONITOR_SCTP,
    c.HEALTH_MONITOR_TCP,
    c.HEALTH_MONITOR_HTTP,
)
L4_ONLY_MONITORS: Final = frozenset({c.HEALTH_MONITOR_UDP_CONNECT, c.HEALTH_MONITOR_SCTP})


@dataclass(frozen=True)
class Served:
    """What the amphorae of this deployment can serve (from ``hydria.core.host``)."""

    udp_engine: str | None = None
    sctp: bool = False
    prometheus: bool = True
    #: a UDP pool may use LEAST_CONNECTIONS (an engine with a live count per member:
    #: nginx; nftables has none, docs/udp.md)
    udp_least_connections: bool = True
    #: a UDP pool may have members of another IP version than the VIP (nginx
    #: proxies across versions; the nftables engine's NAT stays within one)
    udp_cross_version: bool = True


def _unsupported(detail: str) -> ProviderUnsupported:
    return ProviderUnsupported.of(detail, c.PROVIDER_NAME)


def check_served(protocol: str, served: Served, *, what: str = "protocol") -> None:
    """501 for a valid protocol (or monitor type) the amphorae cannot run on this host."""
    if protocol == c.PROTOCOL_UDP and served.udp_engine is None:
        raise _unsupported(
            f"{what} UDP needs a UDP engine in the amphora (nftables, for amphorae "
            "with a network namespace of their own, or nginx with its stream "
            "module), and this deployment's amphorae have none."
        )
    if protocol == c.PROTOCOL_SCTP and not served.sctp:
        raise _unsupported(
            f"{what} SCTP needs SCTP support in the amphora's kernel and "
            "engine, which this host does not have."
        )
    if protocol == c.PROTOCOL_PROMETHEUS and not served.prometheus:
        raise _unsupported(
            f"{what} PROMETHEUS needs HAProxy's prometheus-exporter, which "
            "this host's HAProxy was built without."
        )


def check_udp_algorithm(protocol: str, algorithm: str, served: Served) -> None:
    """501 for a UDP pool whose algorithm no engine of this deployment can run:
    LEAST_CONNECTIONS where only nftables serves UDP (it would be accepted, then
    need nginx in the amphora and fail there)."""
    if (
        protocol == c.PROTOCOL_UDP
        and algorithm == c.LB_ALGORITHM_LEAST_CONNECTIONS
        and not served.udp_least_connections
    ):
        raise _unsupported(
            "lb_algorithm LEAST_CONNECTIONS on a UDP pool needs nginx with its stream "
            "module in the amphora (nftables has no least-connections chooser), and "
            "this deployment's amphorae do not have it."
        )


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def check_member_families(
    pool_protocol: str, member_addresses: Iterable[str], vip_addresses: Iterable[str]
) -> None:
    """501 for a member of a UDP or SCTP pool (one a listener uses) whose IP version
    none of the load balancer's VIPs (the VIP and the additional VIPs) has: Octavia's
    amphora provider refuses it at member create and batch update, its IPVS engine
    forwarding within one address family. The caller decides that a listener uses
    the pool; a pool no listener uses is not checked, as in Octavia."""
    if pool_protocol not in L4_PROTOCOLS:
        return
    versions = {_version(v) for v in vip_addresses}
    if any(_version(m) not in versions for m in member_addresses):
        raise _unsupported(
            "This provider cannot mix IPv4 and IPv6 addresses between the VIP and the "
            f"members of {pool_protocol} load balancers."
        )


def check_udp_version(protocol: str, member: str, vip: str, served: Served) -> None:
    """501 for a UDP member of another IP version than the VIP where the only UDP
    engine is nftables, whose NAT stays within one version: accepted, the load
    balancer would need nginx in the amphora and go to ERROR there. (Octavia's
    own rule, ``check_member_families``, lets an additional VIP of the member's
    version pass; UDP listeners serve the VIP.)"""
    if (
        protocol == c.PROTOCOL_UDP
        and not served.udp_cross_version
        and _version(member) != _version(vip)
    ):
        raise _unsupported(
            f"a UDP member of IPv{_version(member)} behind an IPv{_version(vip)} VIP "
            "needs nginx with its stream module in the amphora (the nftables engine "
            "forwards within one IP version), and this deployment's amphorae do not "
            "have it."
        )


def transport(protocol: str) -> str:
    return TRANSPORT.get(protocol, protocol)


def same_port_conflict(new_protocol: str, existing_protocols: list[str]) -> str | None:
    """The existing listener protocol that already holds the new one's transport, if any."""
    mine = transport(new_protocol)
    return next((p for p in existing_protocols if transport(p) == mine), None)


def check_listener_create(
    protocol: str,
    *,
    insert_headers: Mapping[str, Any] | None,
    tls_refs: bool,
    default_pool: bool,
    l7policies: bool,
) -> None:
    """Octavia's create rules for the new protocols (headers themselves checked elsewhere).

    Octavia checks header insertion first ("insert-headers is not a valid option for
    a UDP protocol listener."), so a UDP listener only meets the TLS message with
    certificate references.
    """
    if protocol in L4_PROTOCOLS and insert_headers:
        raise InvalidInput(
            f"insert-headers is not a valid option for a {protocol} protocol listener."
        )
    if protocol in L4_PROTOCOLS and tls_refs:
        raise InvalidInput(
            f"Validation failure: {protocol} protocol listener does not support TLS."
        )
    if protocol == c.PROTOCOL_PROMETHEUS and (default_pool or l7policies):
        raise no_children(protocol)


def check_listener_update(
    protocol: str, *, insert_headers: Mapping[str, Any] | None, tls_refs: bool, default_pool: bool
) -> None:
    """Octavia's update rules: its UDP/SCTP message there names header insertion too."""
    if protocol in L4_PROTOCOLS and (insert_headers or tls_refs):
        raise InvalidInput(
            f"Validation failure: {protocol} protocol listener does not "
            "support TLS or header insertion."
        )
    if protocol == c.PROTOCOL_PROMETHEUS and default_pool:
        raise no_children(protocol)


def no_children(protocol: str) -> InvalidInput:
    return InvalidInput(f"Protocol {protocol} listeners cannot have child objects.")


def check_listener_pool(listener_protocol: str, pool_protocol: str) -> None:
    """A pool behind a listener: PROMETHEUS takes none, the others Octavia's matrix."""
    if listener_protocol == c.PROTOCOL_PROMETHEUS:
        raise no_children(listener_protocol)
    if pool_protocol not in c.VALID_LISTENER_POOL_PROTOCOLS.get(listener_protocol, ()):
        raise InvalidInput(
            f"Validation failure: The pool protocol '{pool_protocol}' is "
            f"invalid while the listener protocol is '{listener_protocol}'."
        )


def check_persistence(
    pool_protocol: str, sp: Mapping[str, Any] | None, *, update: bool = False
) -> None:
    """Session persistence against the pool's protocol (cookie rules are checked after).

    ``sp`` holds the fields the request gave (None: no persistence). On an update
    Octavia's message for a TCP pool says "UDP" alone; it is kept as it is.
    """
    if not sp:
        return
    kind = sp.get("type")
    if pool_protocol in L4_PROTOCOLS:
        given = {name for name, value in sp.items() if value}
        if kind == c.SESSION_PERSISTENCE_SOURCE_IP and not given <= {
            "type",
            "persistence_timeout",
            "persistence_granularity",
        }:
            raise InvalidInput(
                f"Validation failure: session_persistence {c.SESSION_PERSISTENCE_SOURCE_IP} "
                "type for UDP and SCTP protocols only accepts: type, persistence_timeout, "
                "persistence_granularity."
            )
        if sp.get("cookie_name"):
            raise InvalidInput(
                f"Validation failure: Cookie names are not supported for {_UDP_SCTP} pools."
            )
        if kind in (c.SESSION_PERSISTENCE_HTTP_COOKIE, c.SESSION_PERSISTENCE_APP_COOKIE):
            raise InvalidInput(
                f"Validation failure: Session persistence of type {kind} is "
                f"not supported for {_UDP_SCTP} protocol pools."
            )
        return
    if sp.get("persistence_timeout") or sp.get("persistence_granularity"):
        pools = "UDP" if update else "UDP and SCTP"
        raise InvalidInput(
            "Validation failure: persistence_timeout and "
            f"persistence_granularity is only for {pools} protocol pools."
        )


def check_monitor(
    pool_protocol: str,
    monitor_type: str,
    delay: int | None,
    *,
    udp_min_delay: int = c.UDP_CONNECT_MIN_DELAY,
) -> None:
    """A monitor's type (and a UDP-CONNECT one's delay) against its pool's protocol."""
    if pool_protocol in L4_PROTOCOLS:
        if monitor_type not in L4_POOL_MONITORS:
            raise InvalidInput(
                f"Validation failure: The associated pool protocol is {pool_protocol}, so "
                f"only a {'/'.join(L4_POOL_MONITORS)} health monitor is supported."
            )
        if (
            monitor_type == c.HEALTH_MONITOR_UDP_CONNECT
            and delay is not None
            and delay < udp_min_delay
        ):
            raise InvalidInput(
                f"Validation failure: The request delay value {delay} should be larger "
                f"than {udp_min_delay} for {c.HEALTH_MONITOR_UDP_CONNECT} health monitor "
                "type."
            )
        return
    if monitor_type in L4_ONLY_MONITORS:
        raise InvalidInput(
            f"Validation failure: The {monitor_type} type is only supported "
            f"for pools of type {_UDP_SCTP}."
        )
