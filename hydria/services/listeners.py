"""Listeners: a protocol and port on a load balancer's VIP."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput, NotFound
from hydria.core.listener_options import check_insert_headers
from hydria.core.resources import LISTENER
from hydria.db import quotas
from hydria.db.models import Listener, LoadBalancer, Pool
from hydria.services import change, l7policies, provider, tls, views
from hydria.services.context import RequestContext
from hydria.services.lookup import get_lb, get_listener, live
from hydria.services.reads import Reads
from hydria.services.shape import listener_view
from hydria.services.unit import Env, read, write
from hydria.services.validation import choice, given, refuse_unsupported, unsupported

READS = Reads(Listener, LISTENER, views.listeners)


def check_pool_protocol(listener_protocol: str, pool_protocol: str) -> None:
    """Octavia's listener/pool protocol matrix (PROMETHEUS takes no pool)."""
    protocols.check_listener_pool(listener_protocol, pool_protocol)


def check_default_pool(session: Session, lb_id: str, pool_id: str, protocol: str) -> Pool:
    pool = session.get(Pool, pool_id)
    if (
        pool is None
        or pool.load_balancer_id != lb_id
        or pool.provisioning_status in (c.DELETED, c.PENDING_DELETE)
    ):
        raise NotFound.of("Pool", pool_id)
    check_pool_protocol(protocol, pool.protocol)
    return pool


def _check_udp_version(
    lb: LoadBalancer, pool: Pool | None, protocol: str, compute_driver: str
) -> None:
    """Where nftables is the only UDP engine (its NAT stays within one IP version),
    a UDP listener whose default ``pool`` has a member of another version than
    the VIP is a 501 here rather than a load balancer in ERROR later (docs/udp.md)."""
    if protocol != c.PROTOCOL_UDP or lb.vip_address is None or pool is None:
        return
    served = provider.served(compute_driver)
    for member in live(pool.members):
        protocols.check_udp_version(protocol, member.address, lb.vip_address, served)


def _check_cidrs(cidrs: list[str] | None, lb: LoadBalancer) -> None:
    if not cidrs or lb.vip_address is None:
        return
    # the VIP and the additional VIPs: a CIDR must match the family of one of them
    vips = [lb.vip_address, *(str(v["ip_address"]) for v in lb.additional_vips or [])]
    versions = {ipaddress.ip_address(v).version for v in vips}
    for cidr in cidrs:
        if ipaddress.ip_network(cidr).version not in versions:
            raise InvalidInput(
                f"Validation failure: CIDR {cidr} IP version incompatible with all VIPs: {vips}"
            )


def port_in_use(protocol: str, port: int) -> Conflict:
    return Conflict(
        f"Another Listener on this Load Balancer is already using "
        f"protocol {protocol} and protocol_port {port}"
    )


def _check_port_free(session: Session, lb_id: str, protocol: str, port: int) -> None:
    others = session.scalars(
        select(Listener.protocol).where(
            Listener.load_balancer_id == lb_id,
            Listener.protocol_port == port,
            Listener.provisioning_status != c.DELETED,
        )
    )
    other = protocols.same_port_conflict(protocol, list(others))
    if other is not None:
        raise port_in_use(other, port)


def check_listener(req: Any, *, compute_driver: str, nested: bool = False) -> str:
    """The checks that need no database; returns the listener's protocol.

    ``compute_driver``: whose amphorae would serve it (what they can run differs).
    """
    refuse_unsupported(req, LISTENER.unsupported(nested=nested))
    protocol = choice(
        "protocol", req.protocol, c.LISTENER_PROTOCOLS, c.SUPPORTED_LISTENER_PROTOCOLS
    )
    protocols.check_served(protocol, provider.served(compute_driver))
    values = req.model_dump()
    protocols.check_listener_create(
        protocol,
        insert_headers=req.insert_headers,
        tls_refs=tls.has_refs(values),
        default_pool=(
            getattr(req, "default_pool_id", None) is not None
            or getattr(req, "default_pool", None) is not None
        ),
        l7policies=bool(req.l7policies),
    )
    check_insert_headers(req.insert_headers, protocol)
    tls.check_listener_rules(protocol, values, update=False)
    if req.l7policies:
        if not nested:
            # Octavia's single create takes the attribute and makes nothing of it;
            # Hydria says so (policies are created on their own, or with the LB).
            raise unsupported("l7policies")
        l7policies.check_listener_takes_policies(protocol)
    return protocol


def new_listener(
    lb: LoadBalancer, req: Any, protocol: str, *, default_pool_id: str | None
) -> Listener:
    """The row of a new listener on ``lb``, in PENDING_CREATE, Octavia's defaults filled."""
    _check_cidrs(req.allowed_cidrs, lb)
    values = LISTENER.create_columns(req.model_dump())
    values.update(protocol=protocol, default_pool_id=default_pool_id)
    tls.listener_defaults(protocol, values)
    return change.new_row(Listener, lb, values)


def create_listener(env: Env, ctx: RequestContext, req: Any) -> dict[str, Any]:
    """A new listener (``req``: a ``ListenerPOST``)."""
    ctx.owner_for_create(req.project_id)
    protocol = check_listener(req, compute_driver=env.settings.compute_driver)
    if tls.has_refs(req.model_dump()):
        # the store is read outside the write transaction (the embedded one is in
        # this database: a read inside it would wait for its own lock)
        with read(env) as session:
            project_id = get_lb(session, req.loadbalancer_id, ctx).project_id
        tls.check_material(
            env.secrets, tls.LISTENER, req.model_dump(), ctx.secret_access(project_id)
        )
    with write(env) as unit:
        session = unit.session
        lb = get_lb(session, req.loadbalancer_id, ctx)
        pool = None
        if req.default_pool_id is not None:
            pool = check_default_pool(session, lb.id, req.default_pool_id, protocol)
        _check_udp_version(lb, pool, protocol, env.settings.compute_driver)
        listener = new_listener(lb, req, protocol, default_pool_id=req.default_pool_id)
        unit.change(lb)
        quotas.check_and_reserve(
            session, lb.project_id, quotas.LISTENER, defaults=env.quota_defaults
        )
        _check_port_free(session, lb.id, protocol, req.protocol_port)
        session.add(listener)
        try:
            session.flush()
        except IntegrityError:
            raise port_in_use(protocol, req.protocol_port) from None
        return listener_view(listener)


def update_listener(env: Env, ctx: RequestContext, listener_id: str, req: Any) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    refuse_unsupported(req, LISTENER.update_unsupported())
    changes = LISTENER.update_changes(given(req))
    if any(name in changes for name in tls.LISTENER_REFS):
        with read(env) as session:  # outside the write transaction, as on create
            listener = get_listener(session, listener_id, ctx)
            merged = _check_update(listener, changes)
        tls.check_material(
            env.secrets,
            tls.LISTENER,
            merged,
            ctx.secret_access(listener.project_id),
            changed=set(changes),
        )
    with write(env) as unit:
        session = unit.session
        listener = get_listener(session, listener_id, ctx)
        lb = get_lb(session, listener.load_balancer_id, ctx)
        _check_update(listener, changes)
        _check_cidrs(changes.get("allowed_cidrs"), lb)
        if changes.get("default_pool_id") is not None:
            pool = check_default_pool(session, lb.id, changes["default_pool_id"], listener.protocol)
            _check_udp_version(lb, pool, listener.protocol, env.settings.compute_driver)
        change.update(unit, ctx, listener, changes)
        return listener_view(listener)


def _check_update(listener: Listener, changes: dict[str, Any]) -> dict[str, Any]:
    """The checks of an update that need the row but not the store; the TLS fields
    as they will be. Fills Octavia's defaults into ``changes`` for a null."""
    protocols.check_listener_update(
        listener.protocol,
        insert_headers=changes.get("insert_headers"),
        tls_refs=tls.has_refs(changes),
        default_pool=changes.get("default_pool_id") is not None,
    )
    check_insert_headers(changes.get("insert_headers"), listener.protocol)
    tls.listener_defaults(listener.protocol, changes, only_given=True)
    merged = {name: getattr(listener, name) for name in tls.LISTENER_FIELDS}
    merged.update((k, v) for k, v in changes.items() if k in tls.LISTENER_FIELDS)
    tls.check_listener_rules(listener.protocol, merged, update=True)
    return merged


def delete_listener(env: Env, ctx: RequestContext, listener_id: str) -> None:
    with write(env) as unit:
        listener = get_listener(unit.session, listener_id, ctx)
        change.delete(unit, ctx, listener)
        l7policies.mark_deleted_with_listener(unit.session, [listener.id])
