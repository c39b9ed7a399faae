"""/lbaas/pools: a set of members behind a load balancer (and maybe a listener)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hydria.api import provider
from hydria.api.deps import DB, Config, Ctx, JsonBody, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import get_lb, get_listener, get_pool, mark_parents_pending, read, write
from hydria.api.routes.listeners import check_pool_protocol
from hydria.api.schemas import pool as schema
from hydria.api.validation import choice, given, parse, refuse_unsupported
from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput
from hydria.db import quotas
from hydria.db.models import LoadBalancer, Pool

router = APIRouter()
PATH = "/lbaas/pools"

FILTERS = {name: getattr(Pool, name) for name in (
    "id", "name", "description", "provisioning_status", "operating_status",
    "admin_state_up", "protocol", "lb_algorithm", "tls_enabled")}
FILTERS["loadbalancer_id"] = Pool.load_balancer_id
WITH_CHILDREN = (selectinload(Pool.members), selectinload(Pool.health_monitor))


def _algorithm(value: str) -> str:
    return choice("lb_algorithm", value, c.LB_ALGORITHMS, c.SUPPORTED_LB_ALGORITHMS)


def _persistence(sp: schema.SessionPersistence | None, protocol: str,
                 current: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Validate session persistence as Octavia does; None clears it."""
    if sp is None:
        return None
    kind = sp.type if sp.type is not None else (current or {}).get("type")
    if kind is None:
        raise InvalidInput("Invalid input for field/attribute type. Value: 'None'. "
                           "Mandatory field missing.")
    choice("session_persistence.type", kind, c.SESSION_PERSISTENCE_TYPES,
           c.SESSION_PERSISTENCE_TYPES)
    protocols.check_persistence(protocol, {**sp.model_dump(), "type": kind},
                                update=current is not None)
    if protocol in protocols.L4_PROTOCOLS:
        return {"type": kind, "cookie_name": None,
                "persistence_timeout": sp.persistence_timeout,
                "persistence_granularity": sp.persistence_granularity}
    if sp.cookie_name and kind != c.SESSION_PERSISTENCE_APP_COOKIE:
        raise InvalidInput('Validation failure: Field "cookie_name" can only be specified '
                           'with session persistence of type "APP_COOKIE".')
    if not sp.cookie_name and kind == c.SESSION_PERSISTENCE_APP_COOKIE:
        raise InvalidInput('Validation failure: Field "cookie_name" must be specified when '
                           'using the "APP_COOKIE" session persistence type.')
    return {"type": kind, "cookie_name": sp.cookie_name, "persistence_timeout": None,
            "persistence_granularity": None}


@dataclass(frozen=True)
class CheckedPool:
    """What ``check_pool`` made of a request: the values a new pool row takes."""

    protocol: str
    lb_algorithm: str
    session_persistence: dict[str, Any] | None


def check_pool(req: schema.PoolPOST | schema.PoolSingleCreate, *,
               unsupported: dict[str, tuple[Any, ...]] = schema.UNSUPPORTED) -> CheckedPool:
    """The checks that need no database (``protocol`` and ``lb_algorithm`` given)."""
    refuse_unsupported(req, unsupported)
    assert req.protocol is not None and req.lb_algorithm is not None
    protocol = choice("protocol", req.protocol, c.POOL_PROTOCOLS, c.SUPPORTED_POOL_PROTOCOLS)
    protocols.check_served(protocol, provider.served())
    return CheckedPool(
        protocol=protocol,
        lb_algorithm=_algorithm(req.lb_algorithm),
        session_persistence=_persistence(req.session_persistence, protocol))


def new_pool(lb: LoadBalancer, req: schema.PoolPOST | schema.PoolSingleCreate,
             checked: CheckedPool) -> Pool:
    """The row of a new pool on ``lb``, in PENDING_CREATE."""
    return Pool(
        id=str(uuid.uuid4()), project_id=lb.project_id, load_balancer_id=lb.id,
        name=req.name, description=req.description, admin_state_up=req.admin_state_up,
        protocol=checked.protocol, lb_algorithm=checked.lb_algorithm,
        session_persistence=checked.session_persistence, tls_enabled=False,
        tags=list(req.tags or []), provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE)


@router.get(PATH)
def list_pools(request: Request, ctx: Ctx,
               db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(Pool).options(*WITH_CHILDREN), Pool,
                         ctx=ctx, filters=FILTERS, render=schema.view)
    return {"pools": page.items, "pools_links": page.links}


@router.get(PATH + "/{pool_id}")
def show_pool(pool_id: str, request: Request, ctx: Ctx,
              db: DB) -> dict[str, Any]:
    with read(db) as session:
        pool = get_pool(session, pool_id, ctx)
        return {"pool": select_fields(schema.view(pool), fields_param(request))}


@router.post(PATH, status_code=201)
def create_pool(body: JsonBody,
                ctx: Ctx,
                db: DB,
                notifier: Notify,
                settings: Config) -> dict[str, Any]:
    req = parse(body, "pool", schema.PoolPOST, nulls_are_unset=True)
    ctx.owner_for_create(req.project_id)
    checked = check_pool(req)
    if req.loadbalancer_id is None and req.listener_id is None:
        raise InvalidInput("Validation failure: Must provide at least one of: "
                           "loadbalancer_id, listener_id")
    with write(db, notifier) as unit:
        session = unit.session
        listener = None
        if req.listener_id is not None:
            listener = get_listener(session, req.listener_id, ctx)
            if req.loadbalancer_id not in (None, listener.load_balancer_id):
                raise InvalidInput(f"Validation failure: Listener {listener.id} is not on "
                                   f"load balancer {req.loadbalancer_id}.")
        lb_id = listener.load_balancer_id if listener is not None else req.loadbalancer_id
        assert lb_id is not None
        lb = get_lb(session, lb_id, ctx)
        if listener is not None:
            check_pool_protocol(listener.protocol, checked.protocol)
            if listener.default_pool_id is not None:
                raise Conflict("This listener already has a default pool")
        unit.change(lb)
        quotas.check_and_reserve(session, lb.project_id, quotas.POOL,
                                 defaults=settings.quota_defaults)
        pool = new_pool(lb, req, checked)
        session.add(pool)
        session.flush()
        if listener is not None:
            listener.default_pool_id = pool.id
            mark_parents_pending(listener)
            session.flush()
        return {"pool": schema.view(pool)}


@router.put(PATH + "/{pool_id}")
def update_pool(pool_id: str, body: JsonBody,
                ctx: Ctx,
                db: DB,
                notifier: Notify) -> dict[str, Any]:
    req = parse(body, "pool", schema.PoolPUT, nulls_are_unset=False)
    refuse_unsupported(req, schema.UNSUPPORTED)
    changes = {k: v for k, v in given(req).items() if k not in schema.UNSUPPORTED}
    if changes.get("admin_state_up", True) is None:
        del changes["admin_state_up"]
    if "lb_algorithm" in changes:
        if changes["lb_algorithm"] is None:
            raise InvalidInput("None is not a valid option for lb_algorithm")
        changes["lb_algorithm"] = _algorithm(changes["lb_algorithm"])
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    with write(db, notifier) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        if "session_persistence" in changes:
            changes["session_persistence"] = _persistence(req.session_persistence,
                                                          pool.protocol,
                                                          pool.session_persistence or {})
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        for name, value in changes.items():
            setattr(pool, name, value)
        pool.provisioning_status = c.PENDING_UPDATE
        mark_parents_pending(*schema.listeners_of(pool))
        session.flush()
        return {"pool": schema.view(pool)}


@router.delete(PATH + "/{pool_id}", status_code=204)
def delete_pool(pool_id: str, ctx: Ctx,
                db: DB,
                notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        pool = get_pool(unit.session, pool_id, ctx)
        unit.change(get_lb(unit.session, pool.load_balancer_id, ctx))
        pool.provisioning_status = c.PENDING_DELETE
        mark_parents_pending(*schema.listeners_of(pool))
    return Response(status_code=204)
