"""/lbaas/healthmonitors: how HAProxy checks a pool's members (one per pool) (``hydria.services.healthmonitors``)."""

from __future__ import annotations

from fastapi import APIRouter

from hydria.api.crud import Ops, add_crud
from hydria.api.schemas.bodies import HealthMonitorPOST, HealthMonitorPUT
from hydria.core.resources import HEALTHMONITOR
from hydria.services import healthmonitors as service

router = APIRouter()
PATH = "/lbaas/healthmonitors"

add_crud(
    router,
    PATH,
    "hm_id",
    HEALTHMONITOR,
    Ops(
        service.READS.list,
        service.READS.show,
        service.create_healthmonitor,
        service.update_healthmonitor,
        service.delete_healthmonitor,
        HealthMonitorPOST,
        HealthMonitorPUT,
    ),
)
