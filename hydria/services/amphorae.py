"""The amphora admin API's work: list, show, stats, failover, re-push, delete.

An amphora serving a load balancer is failed over (or re-configured) through
its load balancer: PENDING_UPDATE, a new generation, the failover mark. A spare
(no load balancer) is retired in one conditional UPDATE, so a spare taken into
service at the same instant is never retired under it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, NotFound
from hydria.db import stats
from hydria.db.models import Amphora, LoadBalancer, utcnow
from hydria.services import listing
from hydria.services.context import RequestContext
from hydria.services.shape import iso
from hydria.services.unit import Env, Unit, read, write

log = logging.getLogger(__name__)

FILTERS = {
    name: name
    for name in (
        "id",
        "compute_id",
        "lb_network_ip",
        "vrrp_ip",
        "ha_ip",
        "vrrp_port_id",
        "ha_port_id",
        "cert_busy",
        "role",
        "status",
        "vrrp_interface",
        "vrrp_id",
        "vrrp_priority",
        "cached_zone",
        "image_id",
        "compute_flavor",
    )
}
# Octavia accepts its API name and the database's for the load balancer.
FILTERS["loadbalancer_id"] = "load_balancer_id"
FILTERS["load_balancer_id"] = "load_balancer_id"
SCOPE = listing.Scope(
    Amphora,
    FILTERS,
    {**FILTERS, "created_at": "created_at", "updated_at": "updated_at"},
    status_column=Amphora.status,
    project_column=LoadBalancer.project_id,
    deleted_on_request=True,
)
SPARE = (Amphora.load_balancer_id.is_(None),)
DELETABLE = (
    or_(Amphora.status == c.AMPHORA_ERROR, and_(Amphora.status == c.AMPHORA_READY, *SPARE)),
)


def view(amp: Amphora) -> dict[str, Any]:
    return {
        "id": amp.id,
        "loadbalancer_id": amp.load_balancer_id,
        "compute_id": amp.compute_id,
        "lb_network_ip": amp.lb_network_ip,
        "vrrp_ip": amp.vrrp_ip,
        "ha_ip": amp.ha_ip,
        "vrrp_port_id": amp.vrrp_port_id,
        "ha_port_id": amp.ha_port_id,
        "cert_expiration": iso(amp.cert_expiration),
        "cert_busy": bool(amp.cert_busy),
        "role": amp.role,
        "status": amp.status,
        "vrrp_interface": amp.vrrp_interface,
        "vrrp_id": amp.vrrp_id,
        "vrrp_priority": amp.vrrp_priority,
        "cached_zone": amp.cached_zone,
        "created_at": iso(amp.created_at),
        "updated_at": iso(amp.updated_at),
        "image_id": amp.image_id,
        "compute_flavor": amp.compute_flavor,
        # a Hydria extension: why the controller's last step on it failed
        "hydria_error_reason": amp.error_reason,
    }


def _get(session: Session, amphora_id: str) -> Amphora:
    amp = session.get(Amphora, amphora_id)
    if amp is None or amp.status == c.DELETED:
        raise NotFound.of("Amphora", amphora_id)
    return amp


def _lock_lb(unit: Unit, amp: Amphora) -> None:
    """Move the amphora's load balancer to PENDING_UPDATE (409 if it is PENDING_*)."""
    lb = unit.session.get(LoadBalancer, amp.load_balancer_id)
    if lb is None or lb.provisioning_status == c.DELETED:
        raise ImmutableObject.of("Load Balancer", amp.load_balancer_id or "")
    unit.change(lb, c.PENDING_UPDATE)


def _retire(session: Session, amp: Amphora, *allowed: Any) -> bool:
    """PENDING_DELETE, in one conditional UPDATE, if ``allowed`` still holds.

    The failover mark makes the controller retire (and replace) an amphora
    that belongs to a load balancer.
    """
    res = cast(
        "CursorResult[Any]",
        session.execute(
            update(Amphora)
            .where(Amphora.id == amp.id, Amphora.status != c.DELETED, *allowed)
            .values(status=c.AMPHORA_PENDING_DELETE, failover_requested=True, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    return bool(res.rowcount == 1)


def list_amphorae(env: Env, ctx: RequestContext, params: listing.Params) -> listing.Page:
    with read(env) as session:
        stmt = listing.table_of(Amphora).outerjoin(
            LoadBalancer, Amphora.load_balancer_id == LoadBalancer.id
        )
        return listing.run(session, stmt, SCOPE, params, ctx.as_admin(), listing.each(view))


def show_amphora(env: Env, amphora_id: str) -> dict[str, Any]:
    with read(env) as session:
        return view(_get(session, amphora_id))


def amphora_stats(env: Env, amphora_id: str) -> list[dict[str, Any]]:
    with read(env) as session:
        amp = _get(session, amphora_id)
        return [
            {
                "id": e.amphora_id,
                "listener_id": e.listener_id,
                "loadbalancer_id": e.load_balancer_id,
                **asdict(e.totals),
            }
            for e in stats.amphora_stats(session, amp)
        ]


def failover(env: Env, amphora_id: str) -> None:
    with write(env) as unit:
        amp = _get(unit.session, amphora_id)
        if amp.load_balancer_id is None:
            if not _retire(unit.session, amp, *SPARE):
                raise Conflict(f"Amphora {amphora_id} was just taken into service; try again.")
        else:
            _lock_lb(unit, amp)
            amp.failover_requested = True
            amp.updated_at = utcnow()
    log.info("event=amphora_failover_requested amphora=%s lb=%s", amphora_id, amp.load_balancer_id)


def configure(env: Env, amphora_id: str) -> None:
    with write(env) as unit:
        amp = _get(unit.session, amphora_id)
        if amp.load_balancer_id is not None:
            _lock_lb(unit, amp)


def delete(env: Env, amphora_id: str) -> None:
    with write(env) as unit:
        amp = _get(unit.session, amphora_id)
        lb_id = amp.load_balancer_id
        if not _retire(unit.session, amp, *DELETABLE):
            raise ImmutableObject.of("Amphora", amphora_id)
        if lb_id is not None:
            unit.touch(lb_id)
    log.info("event=amphora_delete_requested amphora=%s lb=%s", amphora_id, lb_id)
