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

from typing import Any

from fastapi import APIRouter, Response

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Ctx, Services
from hydria.services import loadbalancers as service

router = APIRouter()
LB_PATH = "/lbaas/loadbalancers/{lb_id}"
LISTENER_PATH = "/lbaas/listeners/{listener_id}"


@router.put(LB_PATH + "/failover", status_code=202)
def failover_loadbalancer(lb_id: str, ctx: AdminCtx, env: Services) -> Response:
    service.failover(env, ctx, lb_id)
    return Response(status_code=202)


@router.get(LB_PATH + "/stats")
def loadbalancer_stats(lb_id: str, ctx: Ctx, env: Services) -> dict[str, Any]:
    return {"stats": service.loadbalancer_stats(env, ctx, lb_id)}


@router.get(LB_PATH + "/status")
@router.get(LB_PATH + "/statuses", include_in_schema=False)
def loadbalancer_status(lb_id: str, ctx: Ctx, env: Services) -> dict[str, Any]:
    return {"statuses": service.status(env, ctx, lb_id)}


@router.get(LISTENER_PATH + "/stats")
def listener_stats(listener_id: str, ctx: Ctx, env: Services) -> dict[str, Any]:
    return {"stats": service.listener_stats(env, ctx, listener_id)}
