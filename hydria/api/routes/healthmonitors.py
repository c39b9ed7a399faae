"""/lbaas/healthmonitors: how HAProxy checks a pool's members (one per pool)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hydria.api import provider
from hydria.api.deps import DB, Config, Ctx, JsonBody, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import (
    get_hm,
    get_lb,
    get_pool,
    mark_parents_pending,
    read,
    require_mutable_pool,
    write,
)
from hydria.api.schemas import healthmonitor as schema
from hydria.api.schemas.pool import listeners_of
from hydria.api.validation import choice, given, parse
from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput
from hydria.db import quotas
from hydria.db.models import HealthMonitor, Pool

router = APIRouter()
PATH = "/lbaas/healthmonitors"

FILTERS = {name: getattr(HealthMonitor, name) for name in (
    "id", "name", "type", "delay", "timeout", "max_retries", "max_retries_down",
    "http_method", "url_path", "expected_codes", "admin_state_up", "provisioning_status",
    "operating_status", "http_version", "domain_name", "pool_id")}
HTTP_FIELDS = ("http_method", "url_path", "expected_codes")
HTTP_DEFAULTS = {"http_method": schema.DEFAULT_HTTP_METHOD, "url_path": schema.DEFAULT_URL_PATH,
                 "expected_codes": schema.DEFAULT_EXPECTED_CODES}


def _check(values: dict[str, Any]) -> None:
    """Rules across fields, on the monitor as it will be after this request."""
    kind = values["type"]
    if kind not in schema.HTTP_TYPES:
        for name in HTTP_FIELDS:
            if values.get(name) is not None:
                raise InvalidInput(f"{name} is not a valid option for health monitors of "
                                   f"type {kind}")
    elif values.get("http_method") is not None:
        choice("http_method", values["http_method"], c.HTTP_METHODS, c.HTTP_METHODS)
    version = values.get("http_version")
    if version is not None and version not in c.HTTP_VERSIONS:
        raise InvalidInput(f"Invalid input for field/attribute http_version. Value: "
                           f"'{version}'. Value should be one of: 1.0, 1.1")
    if values.get("domain_name"):
        if version is None:
            raise InvalidInput("Validation failure: 'http_version' must be specified when "
                               "'domain_name' is provided.")
        if version < 1.1:
            raise InvalidInput(f"http_version {version} is not a valid option for health "
                               "monitors HTTP 1.1 domain name health check")
    # Hydria's own rule (Octavia's docs ask for it, its API does not check it): a
    # check that may take longer than the interval between checks makes no sense.
    if values["timeout"] > values["delay"]:
        raise InvalidInput(f"Validation failure: timeout ({values['timeout']}) must not be "
                           f"greater than delay ({values['delay']}).")


def check_healthmonitor(
        req: schema.HealthMonitorPOST | schema.HealthMonitorSingleCreate) -> dict[str, Any]:
    """The checks that need no database; returns the monitor's values, defaults filled."""
    kind = choice("type", req.type, c.HEALTH_MONITOR_TYPES, c.SUPPORTED_HEALTH_MONITOR_TYPES)
    protocols.check_served(kind, provider.served(), what="type")
    values = req.model_dump()
    values["type"] = kind
    if kind in schema.HTTP_TYPES:
        for name, default in HTTP_DEFAULTS.items():
            if values.get(name) is None:
                values[name] = default
    _check(values)
    return values


def new_healthmonitor(pool: Pool,
                      req: schema.HealthMonitorPOST | schema.HealthMonitorSingleCreate,
                      values: dict[str, Any]) -> HealthMonitor:
    """The row of ``pool``'s new monitor, in PENDING_CREATE (``values``: check_healthmonitor)."""
    return HealthMonitor(
        id=str(uuid.uuid4()), project_id=pool.project_id, pool_id=pool.id, name=req.name,
        type=values["type"], delay=req.delay, timeout=req.timeout,
        max_retries=req.max_retries, max_retries_down=req.max_retries_down,
        http_method=values["http_method"], url_path=values["url_path"],
        expected_codes=values["expected_codes"], http_version=req.http_version,
        domain_name=req.domain_name, admin_state_up=req.admin_state_up,
        tags=list(req.tags or []), provisioning_status=c.PENDING_CREATE,
        operating_status=c.OFFLINE)


@router.get(PATH)
def list_healthmonitors(request: Request, ctx: Ctx,
                        db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(HealthMonitor), HealthMonitor, ctx=ctx,
                         filters=FILTERS, render=schema.view)
    return {"healthmonitors": page.items, "healthmonitors_links": page.links}


@router.get(PATH + "/{hm_id}")
def show_healthmonitor(hm_id: str, request: Request,
                       ctx: Ctx,
                       db: DB) -> dict[str, Any]:
    with read(db) as session:
        hm = get_hm(session, hm_id, ctx)
        return {"healthmonitor": select_fields(schema.view(hm), fields_param(request))}


@router.post(PATH, status_code=201)
def create_healthmonitor(body: JsonBody,
                         ctx: Ctx,
                         db: DB,
                         notifier: Notify,
                         settings: Config) -> dict[str, Any]:
    req = parse(body, "healthmonitor", schema.HealthMonitorPOST, nulls_are_unset=True)
    ctx.owner_for_create(req.project_id)
    values = check_healthmonitor(req)
    with write(db, notifier) as unit:
        session = unit.session
        pool = get_pool(session, req.pool_id, ctx)
        require_mutable_pool(pool)
        protocols.check_monitor(pool.protocol, values["type"], req.delay)
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        current = pool.health_monitor
        if current is not None and current.provisioning_status != c.DELETED:
            raise Conflict("This pool already has a health monitor")
        quotas.check_and_reserve(session, pool.project_id, quotas.HEALTH_MONITOR,
                                 defaults=settings.quota_defaults)
        hm = new_healthmonitor(pool, req, values)
        session.add(hm)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("This pool already has a health monitor") from None
        return {"healthmonitor": schema.view(hm)}


@router.put(PATH + "/{hm_id}")
def update_healthmonitor(hm_id: str, body: JsonBody,
                         ctx: Ctx,
                         db: DB,
                         notifier: Notify) -> dict[str, Any]:
    req = parse(body, "healthmonitor", schema.HealthMonitorPUT, nulls_are_unset=False)
    changes = given(req)
    for name in ("delay", "timeout", "max_retries"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"None is not a valid option for {name}")
    if changes.get("admin_state_up", True) is None:
        del changes["admin_state_up"]
    if "max_retries_down" in changes and changes["max_retries_down"] is None:
        changes["max_retries_down"] = c.DEFAULT_MAX_RETRIES_DOWN
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    with write(db, notifier) as unit:
        session = unit.session
        hm = get_hm(session, hm_id, ctx)
        if hm.type in schema.HTTP_TYPES:
            for name, default in HTTP_DEFAULTS.items():
                if name in changes and changes[name] is None:
                    changes[name] = default
        after = {name: getattr(hm, name) for name in (
            "type", "delay", "timeout", "http_version", "domain_name", *HTTP_FIELDS)}
        if hm.type not in schema.HTTP_TYPES:
            after.update(dict.fromkeys(HTTP_FIELDS))
        after.update(changes)
        _check(after)
        pool = get_pool(session, hm.pool_id, ctx)
        if pool.protocol in protocols.L4_PROTOCOLS:
            protocols.check_monitor(pool.protocol, hm.type, changes.get("delay"))
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        for name, value in changes.items():
            setattr(hm, name, value)
        hm.provisioning_status = c.PENDING_UPDATE
        session.flush()
        return {"healthmonitor": schema.view(hm)}


@router.delete(PATH + "/{hm_id}", status_code=204)
def delete_healthmonitor(hm_id: str, ctx: Ctx,
                         db: DB,
                         notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        session = unit.session
        hm = get_hm(session, hm_id, ctx)
        pool = get_pool(session, hm.pool_id, ctx)
        unit.change(get_lb(session, pool.load_balancer_id, ctx))
        mark_parents_pending(pool, *listeners_of(pool))
        hm.provisioning_status = c.PENDING_DELETE
    return Response(status_code=204)
