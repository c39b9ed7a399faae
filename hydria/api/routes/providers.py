"""/lbaas/providers: the enabled provider drivers and what their flavors and zones can set.

- ``GET /lbaas/providers``: every caller (Octavia's ``load-balancer:read``).
- ``GET /lbaas/providers/{name}/flavor_capabilities`` and
  ``.../availability_zone_capabilities``: admins (Octavia's default policy),
  ``name`` and ``description`` filter by equality, ``fields`` selects; an
  unknown provider is Octavia's 400 "Provider 'x' is not enabled.".

What the capabilities say is ``hydria.services.provider``: only the settings
Hydria applies.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Ctx, Services
from hydria.api.listing import fields_param, select_fields
from hydria.services import provider

router = APIRouter()
PATH = "/lbaas/providers"


def _entries(request: Request, pairs: dict[str, str]) -> list[dict[str, Any]]:
    name = request.query_params.get("name")
    description = request.query_params.get("description")
    fields = fields_param(request)
    return [
        select_fields({"name": key, "description": text}, fields)
        for key, text in pairs.items()
        if (not name or key == name) and (not description or text == description)
    ]


@router.get(PATH)
def list_providers(request: Request, env: Services, ctx: Ctx) -> dict[str, Any]:
    fields = fields_param(request)
    return {
        "providers": [
            select_fields({"name": key, "description": text}, fields)
            for key, text in provider.providers(env.settings.compute_driver).items()
        ]
    }


@router.get(PATH + "/{name}/flavor_capabilities")
def flavor_capabilities(name: str, request: Request, ctx: AdminCtx) -> dict[str, Any]:
    provider.require_provider(name)
    return {"flavor_capabilities": _entries(request, provider.flavor_capabilities())}


@router.get(PATH + "/{name}/availability_zone_capabilities")
def availability_zone_capabilities(name: str, request: Request, ctx: AdminCtx) -> dict[str, Any]:
    provider.require_provider(name)
    return {
        "availability_zone_capabilities": _entries(request, provider.AVAILABILITY_ZONE_CAPABILITIES)
    }
