"""Members of a pool: one by one, or the whole set at once (batch update)."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, ImmutableObject, InvalidInput
from hydria.core.resources import MEMBER
from hydria.db import quotas
from hydria.db.models import LoadBalancer, Member, Pool, Subnet
from hydria.db.transitions import MUTABLE
from hydria.services import change, provider
from hydria.services.context import RequestContext
from hydria.services.lookup import (
    get_lb,
    get_member,
    get_pool,
    listeners_of,
    live,
    mark_parents_pending,
    require_mutable_pool,
)
from hydria.services.reads import ChildReads
from hydria.services.shape import member_view
from hydria.services.unit import Env, write
from hydria.services.validation import given, refuse_unsupported

READS = ChildReads(Member, MEMBER, "pool_id", get_pool)
# Octavia refuses members on addresses its operators reserve (the metadata service).
RESERVED_IPS = frozenset({"169.254.169.254"})
# What a batch update takes from each entry for a member that already exists. As
# in Octavia, fields with a default (weight 1, backup false, admin_state_up true, no
# monitor address or port) take it when an entry leaves them out; name and tags
# have none there, so a member keeps its own unless the entry names them.
BATCH_UPDATABLE = ("admin_state_up", "weight", "backup", "monitor_address", "monitor_port")
BATCH_KEPT_UNLESS_GIVEN = ("name", "tags")


def duplicate_member(address: str, port: int) -> Conflict:
    return Conflict(
        f"Another member on this pool is already using ip {address} on protocol_port {port}"
    )


def check_new_member(session: Session, req: Any) -> None:
    if str(ipaddress.ip_address(req.address)) in RESERVED_IPS:  # kept as written
        raise InvalidInput(f"The IP Address {req.address} is invalid.")
    if req.request_sriov:
        raise InvalidInput("The load balancer flavor does not allow SR-IOV member ports.")
    if req.subnet_id is not None and session.get(Subnet, req.subnet_id) is None:
        # a sub-resource named in the body: Octavia answers 400, not 404
        raise InvalidInput(f"Subnet {req.subnet_id} not found.")


def vips_of(lb: LoadBalancer) -> list[str]:
    """The load balancer's VIP and additional VIP addresses."""
    extra = [str(v["ip_address"]) for v in lb.additional_vips or []]
    return [lb.vip_address, *extra] if lb.vip_address is not None else extra


def check_families(pool: Pool, addresses: list[str], compute_driver: str) -> None:
    """The address-family rules for members of a UDP or SCTP pool that a listener
    uses: Octavia's amphora provider's (every member's IP version is one of the
    VIPs'), then this deployment's (a UDP member of the VIP's own version where
    only nftables serves UDP: docs/udp.md). Both are 501s; a pool no listener uses is not checked, as in Octavia."""
    if pool.protocol not in protocols.L4_PROTOCOLS or not addresses or not listeners_of(pool):
        return
    protocols.check_member_families(pool.protocol, addresses, vips_of(pool.load_balancer))
    served = provider.served(compute_driver)
    vip = pool.load_balancer.vip_address
    if vip is None:
        return
    for address in addresses:
        protocols.check_udp_version(pool.protocol, address, vip, served)


def has_monitor(pool: Pool) -> bool:
    return pool.health_monitor is not None and pool.health_monitor.provisioning_status != c.DELETED


def new_member(pool: Pool, req: Any, *, monitored: bool) -> Member:
    """The row of a new member of ``pool``: OFFLINE until checked if ``monitored``."""
    return change.new_row(
        Member,
        pool,
        MEMBER.create_columns(req.model_dump()),
        operating_status=c.OFFLINE if monitored else c.NO_MONITOR,
    )


def create_member(env: Env, ctx: RequestContext, pool_id: str, req: Any) -> dict[str, Any]:
    """A new member (``req``: a ``MemberPOST``)."""
    ctx.owner_for_create(req.project_id)
    with write(env) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        check_new_member(session, req)
        require_mutable_pool(pool)
        check_families(pool, [req.address], env.settings.compute_driver)
        change.begin_under(unit, ctx, pool)
        quotas.check_and_reserve(
            session, pool.project_id, quotas.MEMBER, defaults=env.quota_defaults
        )
        if any(
            (m.address, m.protocol_port) == (req.address, req.protocol_port)
            for m in live(pool.members)
        ):
            raise duplicate_member(req.address, req.protocol_port)
        member = new_member(pool, req, monitored=has_monitor(pool))
        session.add(member)
        try:
            session.flush()
        except IntegrityError:
            raise duplicate_member(req.address, req.protocol_port) from None
        return member_view(member)


def update_member(
    env: Env, ctx: RequestContext, pool_id: str, member_id: str, req: Any
) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    refuse_unsupported(req, MEMBER.update_unsupported())
    changes = MEMBER.update_changes(given(req))
    with write(env) as unit:
        session = unit.session
        member = get_member(session, pool_id, member_id, ctx)
        require_mutable_pool(get_pool(session, pool_id, ctx))
        change.update(unit, ctx, member, changes)
        return member_view(member)


def delete_member(env: Env, ctx: RequestContext, pool_id: str, member_id: str) -> None:
    with write(env) as unit:
        member = get_member(unit.session, pool_id, member_id, ctx)
        require_mutable_pool(get_pool(unit.session, pool_id, ctx))
        change.delete(unit, ctx, member)


def batch_update(
    env: Env, ctx: RequestContext, pool_id: str, wanted: list[Any], *, additive_only: bool
) -> None:
    """Make the pool's members exactly ``wanted`` (or add to them, ``additive_only``)."""
    for req in wanted:
        ctx.owner_for_create(req.project_id)
    keys = [(m.address, m.protocol_port) for m in wanted]
    # Octavia checks this only for members that already exist; two new entries with
    # one address and port reach its database and fail there. Hydria refuses both.
    if len(set(keys)) != len(keys):
        raise InvalidInput(
            "Validation failure: Member must be updated only once in the same request."
        )
    with write(env) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        require_mutable_pool(pool)
        existing = {(m.address, m.protocol_port): m for m in live(pool.members)}
        new = [m for m in wanted if (m.address, m.protocol_port) not in existing]
        for req in new:
            check_new_member(session, req)
        # as Octavia's provider: every member in the request, new or kept
        check_families(pool, [m.address for m in wanted], env.settings.compute_driver)
        kept = set(keys)
        gone = [] if additive_only else [m for key, m in existing.items() if key not in kept]
        lb = get_lb(session, pool.load_balancer_id, ctx)
        if not wanted and not gone:
            # Nothing to do, but Octavia still refuses it while the load balancer is busy.
            if lb.provisioning_status not in MUTABLE:
                raise ImmutableObject.of("Load Balancer", lb.id)
            return
        unit.change(lb)
        mark_parents_pending(pool, *listeners_of(pool))
        quotas.check_and_reserve(
            session, pool.project_id, quotas.MEMBER, len(new), defaults=env.quota_defaults
        )
        for req in wanted:
            current = existing.get((req.address, req.protocol_port))
            if current is None:
                session.add(new_member(pool, req, monitored=has_monitor(pool)))
                continue
            for name in BATCH_UPDATABLE:
                setattr(current, name, getattr(req, name))
            for name in BATCH_KEPT_UNLESS_GIVEN:
                if name in req.model_fields_set:
                    value = getattr(req, name)
                    setattr(current, name, list(value or []) if name == "tags" else value)
            current.provisioning_status = c.PENDING_UPDATE
        for member in gone:
            member.provisioning_status = c.PENDING_DELETE
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(
                "A member in the request collides with an existing member of this pool."
            ) from None
