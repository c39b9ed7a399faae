"""/lbaas/loadbalancers: create (with its VIP, and maybe its children), show, list,
update, delete (``hydria.services.loadbalancers``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from hydria.api.crud import Ops, add_crud
from hydria.api.deps import Ctx, Services
from hydria.api.schemas.bodies import LoadBalancerPOST, LoadBalancerPUT
from hydria.api.validation import truthy
from hydria.core.resources import LOADBALANCER
from hydria.services import loadbalancers as service

router = APIRouter()
PATH = "/lbaas/loadbalancers"

add_crud(
    router,
    PATH,
    "lb_id",
    LOADBALANCER,
    Ops(
        service.READS.list,
        service.show_loadbalancer,
        service.create_loadbalancer,
        service.update_loadbalancer,
        None,
        LoadBalancerPOST,
        LoadBalancerPUT,
        show_is_lone_read=True,
    ),
)


@router.delete(PATH + "/{lb_id}", status_code=204)
def delete_loadbalancer(lb_id: str, request: Request, ctx: Ctx, env: Services) -> Response:
    service.delete_loadbalancer(
        env, ctx, lb_id, cascade=truthy(request.query_params.get("cascade"))
    )
    return Response(status_code=204)
