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
from hydria.api.deps import DB
from hydria.db.alarms import alarms

router = APIRouter()


@router.get("/hydria/alarms")
def list_alarms(db: DB, _ctx: AdminCtx) -> dict[str, Any]:
    with db.session() as session:
        rows = alarms(session)
        return {"alarms": [{
            "name": row.name,
            "raised_at": row.raised_at.isoformat(timespec="seconds"),
            "updated_at": row.updated_at.isoformat(timespec="seconds"),
            "detail": row.detail,
        } for row in rows]}
