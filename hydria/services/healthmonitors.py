"""Health monitors: how HAProxy checks a pool's members (one per pool)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput
from hydria.core.resources import HEALTHMONITOR
from hydria.core.resources.healthmonitor import HTTP_DEFAULTS, HTTP_TYPES
from hydria.db import quotas
from hydria.db.models import HealthMonitor, Pool
from hydria.services import change, provider
from hydria.services.context import RequestContext
from hydria.services.lookup import (
    get_hm,
    get_pool,
    require_mutable_pool,
)
from hydria.services.reads import Reads
from hydria.services.shape import hm_view
from hydria.services.unit import Env, write
from hydria.services.validation import choice, given, refuse_unsupported

READS = Reads(HealthMonitor, HEALTHMONITOR)


def _check(values: Mapping[str, Any]) -> None:
    """Rules across fields, on the monitor as it will be after this request."""
    kind = values["type"]
    if kind not in HTTP_TYPES:
        for name in HTTP_DEFAULTS:
            if values.get(name) is not None:
                raise InvalidInput(
                    f"{name} is not a valid option for health monitors of type {kind}"
                )
    elif values.get("http_method") is not None:
        choice("http_method", values["http_method"], c.HTTP_METHODS, c.HTTP_METHODS)
    version = values.get("http_version")
    if version is not None and version not in c.HTTP_VERSIONS:
        raise InvalidInput(
            f"Invalid input for field/attribute http_version. Value: "
            f"'{version}'. Value should be one of: 1.0, 1.1"
        )
    if values.get("domain_name"):
        if version is None:
            raise InvalidInput(
                "Validation failure: 'http_version' must be specified when "
                "'domain_name' is provided."
            )
        if version < 1.1:
            raise InvalidInput(
                f"http_version {version} is not a valid option for health "
                "monitors HTTP 1.1 domain name health check"
            )
    # A timeout longer than the delay is accepted, as Octavia's API accepts it (its
    # conformance tests create such monitors): HAProxy waits for the check
    # (``timeout check``) and starts the next one ``inter`` after it ends.


def check_healthmonitor(req: Any, *, compute_driver: str) -> dict[str, Any]:
    """The checks that need no database; returns the monitor's row values, defaults
    filled; ``compute_driver``: whose amphorae would run it."""
    kind = choice("type", req.type, c.HEALTH_MONITOR_TYPES, c.SUPPORTED_HEALTH_MONITOR_TYPES)
    protocols.check_served(kind, provider.served(compute_driver), what="type")
    values = HEALTHMONITOR.create_columns(req.model_dump())
    values["type"] = kind
    if kind in HTTP_TYPES:
        for name, default in HTTP_DEFAULTS.items():
            if values.get(name) is None:
                values[name] = default
    _check(values)
    return values


def new_healthmonitor(pool: Pool, values: dict[str, Any]) -> HealthMonitor:
    """The row of ``pool``'s new monitor, in PENDING_CREATE (``values``: check_healthmonitor)."""
    return change.new_row(HealthMonitor, pool, values)


def create_healthmonitor(env: Env, ctx: RequestContext, req: Any) -> dict[str, Any]:
    """A new monitor (``req``: a ``HealthMonitorPOST``)."""
    ctx.owner_for_create(req.project_id)
    values = check_healthmonitor(req, compute_driver=env.settings.compute_driver)
    with write(env) as unit:
        session = unit.session
        pool = get_pool(session, req.pool_id, ctx)
        require_mutable_pool(pool)
        protocols.check_monitor(pool.protocol, values["type"], values["delay"])
        change.begin_under(unit, ctx, pool)
        current = pool.health_monitor
        if current is not None and current.provisioning_status != c.DELETED:
            raise Conflict("This pool already has a health monitor")
        quotas.check_and_reserve(
            session, pool.project_id, quotas.HEALTH_MONITOR, defaults=env.quota_defaults
        )
        hm = new_healthmonitor(pool, values)
        session.add(hm)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("This pool already has a health monitor") from None
        return hm_view(hm)


def update_healthmonitor(env: Env, ctx: RequestContext, hm_id: str, req: Any) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    refuse_unsupported(req, HEALTHMONITOR.update_unsupported())
    changes = HEALTHMONITOR.update_changes(given(req))
    with write(env) as unit:
        session = unit.session
        hm = get_hm(session, hm_id, ctx)
        if hm.type in HTTP_TYPES:
            for name, default in HTTP_DEFAULTS.items():
                if name in changes and changes[name] is None:
                    changes[name] = default
        after = {
            name: getattr(hm, name)
            for name in ("type", "delay", "timeout", "http_version", "domain_name", *HTTP_DEFAULTS)
        }
        if hm.type not in HTTP_TYPES:
            after.update(dict.fromkeys(HTTP_DEFAULTS))
        after.update(changes)
        _check(after)
        pool = get_pool(session, hm.pool_id, ctx)
        if pool.protocol in protocols.L4_PROTOCOLS:
            protocols.check_monitor(pool.protocol, hm.type, changes.get("delay"))
        change.update(unit, ctx, hm, changes)
        return hm_view(hm)


def delete_healthmonitor(env: Env, ctx: RequestContext, hm_id: str) -> None:
    with write(env) as unit:
        change.delete(unit, ctx, get_hm(unit.session, hm_id, ctx))
