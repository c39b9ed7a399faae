"""/lbaas/listeners: a protocol and port on a load balancer's VIP (``hydria.services.listeners``)."""

from __future__ import annotations

from fastapi import APIRouter

from hydria.api.crud import Ops, add_crud
from hydria.api.schemas.bodies import ListenerPOST, ListenerPUT
from hydria.core.resources import LISTENER
from hydria.services import listeners as service

router = APIRouter()
PATH = "/lbaas/listeners"

add_crud(
    router,
    PATH,
    "listener_id",
    LISTENER,
    Ops(
        service.READS.list,
        service.READS.show,
        service.create_listener,
        service.update_listener,
        service.delete_listener,
        ListenerPOST,
        ListenerPUT,
    ),
)
