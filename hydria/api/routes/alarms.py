"""``GET /v2/hydria/alarms``: conditions an operator must see now.

Octavia has no such resource, so it lives under Hydria's own name. Today the
one alarm is ``failover_storm``: the health manager saw too many amphorae go
silent at once and is holding failovers back (a fault on the health side must
not fail over the whole fleet). Admin only, like the amphora API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Services
from hydria.services.alarms import list_alarms as alarms

router = APIRouter()


@router.get("/hydria/alarms")
def list_alarms(env: Services, _ctx: AdminCtx) -> dict[str, Any]:
    return {"alarms": alarms(env)}
