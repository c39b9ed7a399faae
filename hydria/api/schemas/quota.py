"""Quota bodies and view (Octavia's QuotaPUT/QuotaResponse).

Octavia's first names were ``load_balancer`` and ``health_monitor``; since
Rocky it also takes and shows ``loadbalancer`` and ``healthmonitor``. Both
spellings are accepted and both are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from hydria.api.validation import Body
from hydria.core.errors import InvalidInput
from hydria.core.resources.types import WsmeInt
from hydria.db.quotas import MAX_QUOTA, NAMES, UNLIMITED

Limit = Annotated[WsmeInt, Field(ge=UNLIMITED, le=MAX_QUOTA)]
# the spelling clients may use -> the quota it names
ALIASES = {"loadbalancer": "load_balancer", "healthmonitor": "health_monitor"}


class QuotaPUT(Body):
    loadbalancer: Limit | None = None
    load_balancer: Limit | None = None
    listener: Limit | None = None
    member: Limit | None = None
    pool: Limit | None = None
    healthmonitor: Limit | None = None
    health_monitor: Limit | None = None
    l7policy: Limit | None = None
    l7rule: Limit | None = None


def changes(req: QuotaPUT) -> dict[str, int | None]:
    """The quotas the caller set (``null``: back to the default), by quota name."""
    out: dict[str, int | None] = {}
    for field in sorted(req.model_fields_set):
        name = ALIASES.get(field, field)
        value = getattr(req, field)
        if name in out and out[name] != value:
            raise InvalidInput(
                f"Validation failure: {field} and {name} are the same quota "
                "and were given different values."
            )
        out[name] = value
    return out


def view(limits: Mapping[str, int], project_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {} if project_id is None else {"project_id": project_id}
    for name in NAMES:
        body[name] = limits[name]
    body["loadbalancer"] = limits["load_balancer"]
    body["healthmonitor"] = limits["health_monitor"]
    return body
