"""/lbaas/pools: a set of members behind a load balancer (and maybe a listener) (``hydria.services.pools``)."""

from __future__ import annotations

from fastapi import APIRouter

from hydria.api.crud import Ops, add_crud
from hydria.api.schemas.bodies import PoolPOST, PoolPUT
from hydria.core.resources import POOL
from hydria.services import pools as service

router = APIRouter()
PATH = "/lbaas/pools"

add_crud(
    router,
    PATH,
    "pool_id",
    POOL,
    Ops(
        service.READS.list,
        service.READS.show,
        service.create_pool,
        service.update_pool,
        service.delete_pool,
        PoolPOST,
        PoolPUT,
    ),
)
