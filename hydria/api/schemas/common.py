"""Small pieces every response view shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from hydria.core import constants as c


def iso(value: dt.datetime | None) -> str | None:
    """Octavia prints naive UTC times to the second: ``2024-05-01T12:00:00``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat()


def ids(rows: Iterable[Any]) -> list[dict[str, str]]:
    """``[{"id": ...}]`` of the rows that are not DELETED, as Octavia's IdOnlyType."""
    return [{"id": r.id} for r in rows if r.provisioning_status != c.DELETED]


def owned(project_id: str) -> dict[str, str]:
    return {"project_id": project_id, "tenant_id": project_id}


def text(value: str | None) -> str:
    """Octavia shows a missing name or description as ``""``, never null."""
    return value if value is not None else ""
