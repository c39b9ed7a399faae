"""/lbaas/pools/{pool_id}/members: one by one, or the whole set at once (batch)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.api.deps import DB, Config, Ctx, JsonBody, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import (
    get_lb,
    get_member,
    get_pool,
    mark_parents_pending,
    read,
    require_mutable_pool,
    write,
)
from hydria.api.schemas import member as schema
from hydria.api.schemas.pool import listeners_of
from hydria.api.validation import given, parse, shorten, truthy, validate
from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, InvalidInput
from hydria.db import quotas
from hydria.db.models import Member, Pool, Subnet
from hydria.db.transitions import MUTABLE

router = APIRouter()
PATH = "/lbaas/pools/{pool_id}/members"

FILTERS = {name: getattr(Member, name) for name in (
    "id", "name", "provisioning_status", "operating_status", "admin_state_up", "address",
    "protocol_port", "weight", "backup", "subnet_id", "monitor_address", "monitor_port")}
# Octavia refuses members on addresses its operators reserve (the metadata service).
RESERVED_IPS = frozenset({"169.254.169.254"})
# What a batch update takes from each entry for a member that already exists. As
# in Octavia, fields with a default (weight 1, backup false, admin_state_up true, no
# monitor address or port) take it when an entry leaves them out; name and tags
# have none there, so a member keeps its own unless the entry names them.
BATCH_UPDATABLE = ("admin_state_up", "weight", "backup", "monitor_address", "monitor_port")
BATCH_KEPT_UNLESS_GIVEN = ("name", "tags")


def duplicate_member(address: str, port: int) -> Conflict:
    return Conflict(f"Another member on this pool is already using ip {address} "
                    f"on protocol_port {port}")


def check_new_member(session: Session,
                     req: schema.MemberPOST | schema.MemberSingleCreate) -> None:
    if req.address in RESERVED_IPS:
        raise InvalidInput(f"The IP Address {req.address} is invalid.")
    if req.request_sriov:
        raise InvalidInput("The load balancer flavor does not allow SR-IOV member ports.")
    if req.subnet_id is not None and session.get(Subnet, req.subnet_id) is None:
        # a sub-resource named in the body: Octavia answers 400, not 404
        raise InvalidInput(f"Subnet {req.subnet_id} not found.")


def has_monitor(pool: Pool) -> bool:
    return (pool.health_monitor is not None
            and pool.health_monitor.provisioning_status != c.DELETED)


def new_member(pool: Pool, req: schema.MemberPOST | schema.MemberSingleCreate, *,
               monitored: bool) -> Member:
    """The row of a new member of ``pool``: OFFLINE until checked if ``monitored``."""
    return Member(
        id=str(uuid.uuid4()), project_id=pool.project_id, pool_id=pool.id, name=req.name,
        address=req.address, protocol_port=req.protocol_port, weight=req.weight,
        backup=req.backup, admin_state_up=req.admin_state_up, subnet_id=req.subnet_id,
        monitor_address=req.monitor_address, monitor_port=req.monitor_port,
        tags=list(req.tags or []), provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE if monitored else c.NO_MONITOR)


def _live_members(pool: Pool) -> list[Member]:
    return [m for m in pool.members if m.provisioning_status != c.DELETED]


@router.get(PATH)
def list_members(pool_id: str, request: Request, ctx: Ctx,
                 db: DB) -> dict[str, Any]:
    with read(db) as session:
        get_pool(session, pool_id, ctx)
        page = list_page(request, session, select(Member).where(Member.pool_id == pool_id),
                         Member, ctx=ctx, filters=FILTERS, render=schema.view)
    return {"members": page.items, "members_links": page.links}


@router.get(PATH + "/{member_id}")
def show_member(pool_id: str, member_id: str, request: Request,
                ctx: Ctx,
                db: DB) -> dict[str, Any]:
    with read(db) as session:
        member = get_member(session, pool_id, member_id, ctx)
        return {"member": select_fields(schema.view(member), fields_param(request))}


@router.post(PATH, status_code=201)
def create_member(pool_id: str, body: JsonBody,
                  ctx: Ctx,
                  db: DB,
                  notifier: Notify,
                  settings: Config) -> dict[str, Any]:
    req = parse(body, "member", schema.MemberPOST, nulls_are_unset=True)
    ctx.owner_for_create(req.project_id)
    with write(db, notifier) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        check_new_member(session, req)
        require_mutable_pool(pool)
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        quotas.check_and_reserve(session, pool.project_id, quotas.MEMBER,
                                 defaults=settings.quota_defaults)
        if any((m.address, m.protocol_port) == (req.address, req.protocol_port)
               for m in _live_members(pool)):
            raise duplicate_member(req.address, req.protocol_port)
        member = new_member(pool, req, monitored=has_monitor(pool))
        session.add(member)
        try:
            session.flush()
        except IntegrityError:
            raise duplicate_member(req.address, req.protocol_port) from None
        return {"member": schema.view(member)}


@router.put(PATH + "/{member_id}")
def update_member(pool_id: str, member_id: str, body: JsonBody,
                  ctx: Ctx,
                  db: DB,
                  notifier: Notify) -> dict[str, Any]:
    req = parse(body, "member", schema.MemberPUT, nulls_are_unset=False)
    changes = given(req)
    if changes.get("admin_state_up", True) is None:
        del changes["admin_state_up"]
    for name, default in schema.PUT_DEFAULTS.items():
        if name in changes and changes[name] is None:
            changes[name] = default
    with write(db, notifier) as unit:
        session = unit.session
        member = get_member(session, pool_id, member_id, ctx)
        pool = get_pool(session, pool_id, ctx)
        require_mutable_pool(pool)
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        for name, value in changes.items():
            setattr(member, name, value)
        member.provisioning_status = c.PENDING_UPDATE
        session.flush()
        return {"member": schema.view(member)}


@router.delete(PATH + "/{member_id}", status_code=204)
def delete_member(pool_id: str, member_id: str, ctx: Ctx,
                  db: DB,
                  notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        session = unit.session
        member = get_member(session, pool_id, member_id, ctx)
        pool = get_pool(session, pool_id, ctx)
        require_mutable_pool(pool)
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        member.provisioning_status = c.PENDING_DELETE
    return Response(status_code=204)


def _parse_batch(body: Any) -> list[schema.MemberPOST]:
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    extra = sorted(set(body) - {"members"})
    if extra:
        raise InvalidInput(f"Unknown attribute for argument members: "
                           f"{shorten(', '.join(extra))}")
    entries = body.get("members")
    if not isinstance(entries, list):
        raise InvalidInput("Invalid input for field/attribute members. "
                           f"Value: '{shorten(entries)}'. Value should be a list of member "
                           "objects.")
    parsed = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInput(f"Invalid input for field/attribute members[{i}]. "
                               f"Value: '{shorten(entry)}'. Value should be a JSON object.")
        parsed.append(validate(entry, "member", schema.MemberPOST, nulls_are_unset=True))
    return parsed


@router.put(PATH, status_code=202)
def batch_update_members(pool_id: str, request: Request, body: JsonBody,
                         ctx: Ctx,
                         db: DB,
                         notifier: Notify,
                         settings: Config) -> Response:
    """Make the pool's members exactly the listed ones (or add to them, additive_only)."""
    wanted = _parse_batch(body)
    additive_only = truthy(request.query_params.get("additive_only"))
    for req in wanted:
        ctx.owner_for_create(req.project_id)
    keys = [(m.address, m.protocol_port) for m in wanted]
    # Octavia checks this only for members that already exist; two new entries with
    # one address and port reach its database and fail there. Hydria refuses both.
    if len(set(keys)) != len(keys):
        raise InvalidInput("Validation failure: Member must be updated only once in the "
                           "same request.")
    with write(db, notifier) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        require_mutable_pool(pool)
        existing = {(m.address, m.protocol_port): m for m in _live_members(pool)}
        new = [m for m in wanted if (m.address, m.protocol_port) not in existing]
        for req in new:
            check_new_member(session, req)
        kept = set(keys)
        gone = [] if additive_only else [m for key, m in existing.items() if key not in kept]
        lb = get_lb(session, pool.load_balancer_id, ctx)
        if not wanted and not gone:
            # Nothing to do, but Octavia still refuses it while the load balancer is busy.
            if lb.provisioning_status not in MUTABLE:
                raise ImmutableObject.of("Load Balancer", lb.id)
            return Response(status_code=202)
        unit.change(lb)
        mark_parents_pending(pool, *listeners_of(pool))
        quotas.check_and_reserve(session, pool.project_id, quotas.MEMBER, len(new),
                                 defaults=settings.quota_defaults)
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
            raise Conflict("A member in the request collides with an existing member of "
                           "this pool.") from None
    return Response(status_code=202)
