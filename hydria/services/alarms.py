"""Conditions an operator must see now (``GET /v2/hydria/alarms``)."""

from __future__ import annotations

from typing import Any

from hydria.db.alarms import alarms
from hydria.services.unit import Env, read


def list_alarms(env: Env) -> list[dict[str, Any]]:
    with read(env) as session:
        return [
            {
                "name": row.name,
                "raised_at": row.raised_at.isoformat(timespec="seconds"),
                "updated_at": row.updated_at.isoformat(timespec="seconds"),
                "detail": row.detail,
            }
            for row in alarms(session)
        ]
