"""Actions and read-outs on a load balancer: failover, statistics, status tree.

- ``PUT /lbaas/loadbalancers/{id}/failover`` (202): in one transaction the
  load balancer goes to PENDING_UPDATE (a new generation) and every live
  amphora of it is marked for failover; after the commit the controller is
  woken and replaces them one role at a time, then the load balancer is
  ACTIVE again. Refused with 409 while the load balancer is PENDING_*.
  Octavia keeps this for admins (see ``hydria.api.auth.policy``).
- ``GET /lbaas/loadbalancers/{id}/stats`` and ``/lbaas/listeners/{id}/stats``:
  counters summed by ``hydria.db.stats``.
- ``GET /lbaas/loadbalancers/{id}/status`` (or ``/statuses``, Octavia's alias
  from neutron-lbaas): the status tree.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import update

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import DB, Ctx, Notify
from hydria.api.lookup import get_lb, get_listener, lb_state_conflict, read, write
from hydria.api.schemas import status as status_schema
from hydria.core import constants as c
from hydria.core.errors import ImmutableObject
from hydria.db import stats, status_tree
from hydria.db.models import Amphora

router = APIRouter()
LB_PATH = "/lbaas/loadbalancers/{lb_id}"
LISTENER_PATH = "/lbaas/listeners/{listener_id}"


@router.put(LB_PATH + "/failover", status_code=202)
def failover_loadbalancer(lb_id: str, ctx: AdminCtx, db: DB, notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        lb = get_lb(unit.session, lb_id, ctx)
        try:
            unit.change(lb, c.PENDING_UPDATE)
        except ImmutableObject:
            unit.session.refresh(lb)
            raise lb_state_conflict(lb) from None
        unit.session.execute(
            update(Amphora)
            .where(Amphora.load_balancer_id == lb.id, Amphora.status != c.DELETED)
            .values(failover_requested=True)
            .execution_options(synchronize_session=False))
    return Response(status_code=202)


@router.get(LB_PATH + "/stats")
def loadbalancer_stats(lb_id: str, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        lb = get_lb(session, lb_id, ctx)
        return {"stats": asdict(stats.loadbalancer_totals(session, lb.id))}


@router.get(LB_PATH + "/status")
@router.get(LB_PATH + "/statuses", include_in_schema=False)
def loadbalancer_status(lb_id: str, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        lb = get_lb(session, lb_id, ctx)
        return {"statuses": status_schema.view(status_tree.load(session, lb))}


@router.get(LISTENER_PATH + "/stats")
def listener_stats(listener_id: str, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        listener = get_listener(session, listener_id, ctx)
        totals = stats.listener_totals(session, [listener.id])[listener.id]
        return {"stats": asdict(totals)}
