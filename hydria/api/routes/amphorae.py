"""/octavia/amphorae: Octavia's amphora admin API.

- ``GET`` list (filters, ``fields``, sorting, pages as every collection) and
  show, with Octavia's fields; DELETED amphorae are not shown, as in Octavia,
  unless the list asks for them (``status=DELETED``, a Hydria extension: a
  replaced amphora stays there for ``deleted_retention_days``).
- ``GET .../{id}/stats``: the amphora's counters, one entry per listener of
  its load balancer (zeros until a heartbeat reports them). Octavia answers
  404 while nothing is reported; an empty or zero answer is more useful.
- ``PUT .../{id}/failover`` (202): the amphora is marked for failover and its
  load balancer goes to PENDING_UPDATE (409 while it is PENDING_*); the
  controller builds a replacement and retires this one.
- ``PUT .../{id}/config`` (202): Octavia refreshes the amphora agent's
  settings; a Hydria agent takes its settings at boot, so here the
  controller pushes the configuration again: the load balancer goes to
  PENDING_UPDATE with a new generation (409 while it is PENDING_*). For a
  spare there is nothing to push and nothing changes.
- ``DELETE .../{id}`` (204): an ERROR amphora, as in Octavia, or a spare
  (READY, no load balancer), which Octavia refuses; 409 otherwise. It goes
  to PENDING_DELETE; one that belongs to a load balancer is also marked for
  failover, so the controller retires it and builds its replacement.

A spare has no load balancer to converge: failing it over retires it
(PENDING_DELETE), as Octavia does; whoever keeps the spare pool stops its
process and builds another.

Octavia keeps all of this for admins (see ``hydria.api.auth.policy``); once
allowed, the caller sees the whole fleet, whatever its project.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from hydria.api.auth.context import RequestContext
from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import DB, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import Unit, read, write
from hydria.api.schemas import amphora as schema
from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, NotFound
from hydria.db import stats
from hydria.db.models import Amphora, LoadBalancer, utcnow

log = logging.getLogger(__name__)
router = APIRouter()
PATH = "/octavia/amphorae"

FILTERS = {name: getattr(Amphora, name) for name in (
    "id", "compute_id", "lb_network_ip", "vrrp_ip", "ha_ip", "vrrp_port_id", "ha_port_id",
    "cert_busy", "role", "status", "vrrp_interface", "vrrp_id", "vrrp_priority",
    "cached_zone", "image_id", "compute_flavor")}
# Octavia accepts its API name and the database's for the load balancer.
FILTERS["loadbalancer_id"] = Amphora.load_balancer_id
FILTERS["load_balancer_id"] = Amphora.load_balancer_id


class _Listed:
    """What ``list_page`` asks of a model: amphorae keep their state in ``status``."""

    provisioning_status = Amphora.status


def _get_amphora(session: Session, amphora_id: str) -> Amphora:
    amp = session.get(Amphora, amphora_id)
    if amp is None or amp.status == c.DELETED:
        raise NotFound.of("Amphora", amphora_id)
    return amp


def _is_spare(amp: Amphora) -> bool:
    return amp.load_balancer_id is None


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
    res = session.execute(
        update(Amphora)
        .where(Amphora.id == amp.id, Amphora.status != c.DELETED, *allowed)
        .values(status=c.AMPHORA_PENDING_DELETE, failover_requested=True, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return res.rowcount == 1


SPARE = (Amphora.load_balancer_id.is_(None),)
DELETABLE = (or_(Amphora.status == c.AMPHORA_ERROR,
                 and_(Amphora.status == c.AMPHORA_READY, *SPARE)),)


@router.get(PATH)
def list_amphorae(request: Request, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    fleet = RequestContext(project_id=ctx.project_id, is_admin=True, roles=ctx.roles)
    with read(db) as session:
        stmt = select(Amphora).outerjoin(LoadBalancer, Amphora.load_balancer_id == LoadBalancer.id)
        # Octavia hides DELETED amphorae; asked for by status, Hydria lists them
        # (replaced ones are kept for deleted_retention_days, then purged)
        deleted = c.DELETED in request.query_params.getlist("status")
        page = list_page(request, session, stmt, _Listed, ctx=fleet, filters=FILTERS,
                         render=schema.view, project_column=LoadBalancer.project_id,
                         with_status=not deleted)
    return {"amphorae": page.items, "amphorae_links": page.links}


@router.get(PATH + "/{amphora_id}")
def show_amphora(amphora_id: str, request: Request, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        amp = _get_amphora(session, amphora_id)
        return {"amphora": select_fields(schema.view(amp), fields_param(request))}


@router.get(PATH + "/{amphora_id}/stats")
def amphora_stats(amphora_id: str, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        amp = _get_amphora(session, amphora_id)
        return {"amphora_stats": [schema.stats_view(e) for e in stats.amphora_stats(session, amp)]}


@router.put(PATH + "/{amphora_id}/failover", status_code=202)
def failover_amphora(amphora_id: str, ctx: AdminCtx, db: DB, notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        amp = _get_amphora(unit.session, amphora_id)
        if _is_spare(amp):
            if not _retire(unit.session, amp, *SPARE):
                raise Conflict(f"Amphora {amphora_id} was just taken into service; "
                               "try again.")
        else:
            _lock_lb(unit, amp)
            amp.failover_requested = True
            amp.updated_at = utcnow()
    log.info("event=amphora_failover_requested amphora=%s lb=%s", amphora_id,
             amp.load_balancer_id)
    return Response(status_code=202)


@router.put(PATH + "/{amphora_id}/config", status_code=202)
def configure_amphora(amphora_id: str, ctx: AdminCtx, db: DB, notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        amp = _get_amphora(unit.session, amphora_id)
        if not _is_spare(amp):
            _lock_lb(unit, amp)
    return Response(status_code=202)


@router.delete(PATH + "/{amphora_id}", status_code=204)
def delete_amphora(amphora_id: str, ctx: AdminCtx, db: DB, notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        amp = _get_amphora(unit.session, amphora_id)
        lb_id = amp.load_balancer_id
        if not _retire(unit.session, amp, *DELETABLE):
            raise ImmutableObject.of("Amphora", amphora_id)
        if lb_id is not None:
            unit.touched.append(lb_id)
    log.info("event=amphora_delete_requested amphora=%s lb=%s", amphora_id, lb_id)
    return Response(status_code=204)
