"""/lbaas/l7policies and /lbaas/l7policies/{l7policy_id}/rules (``hydria.services.l7policies``)."""

from __future__ import annotations

from fastapi import APIRouter

from hydria.api.crud import Ops, add_crud
from hydria.api.schemas.bodies import L7PolicyPOST, L7PolicyPUT, L7RulePOST, L7RulePUT
from hydria.core.resources import L7POLICY, L7RULE
from hydria.services import l7policies as service

router = APIRouter()
PATH = "/lbaas/l7policies"

add_crud(
    router,
    PATH,
    "l7policy_id",
    L7POLICY,
    Ops(
        service.POLICY_READS.list,
        service.POLICY_READS.show,
        service.create_l7policy,
        service.update_l7policy,
        service.delete_l7policy,
        L7PolicyPOST,
        L7PolicyPUT,
    ),
)
add_crud(
    router,
    f"{PATH}/{{l7policy_id}}/rules",
    "l7rule_id",
    L7RULE,
    Ops(
        service.RULE_READS.list,
        service.RULE_READS.show,
        service.create_l7rule,
        service.update_l7rule,
        service.delete_l7rule,
        L7RulePOST,
        L7RulePUT,
    ),
    parent="L7Policy",
)
