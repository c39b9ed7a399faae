"""/lbaas/quotas: per-project limits, as Octavia's quota API.

- ``GET /lbaas/quotas``: the projects with a limit of their own (every limit
  shown, defaults filled in); a caller sees its own project unless it may
  act as an admin. Filters by ``project_id``, pages as every collection.
- ``GET /lbaas/quotas/defaults``: the configured defaults (``HYDRIA_QUOTA_*``).
- ``GET /lbaas/quotas/{project_id}``: the project's limits;
  ``.../{project_id}/default``: the defaults it would have. Reading another
  project's needs an admin (403 otherwise, as Octavia's policy).
- ``PUT /lbaas/quotas/{project_id}`` (202): set some limits (``-1``:
  unlimited; ``null``: back to the default); ``DELETE`` (202): every limit back
  to the default. Admins only (Octavia's ``load-balancer:write-quota``).

Enforcement is ``hydria.db.quotas.check_and_reserve``, called by every create.
Octavia skips quotas altogether under ``noauth``; Hydria enforces them
there too, since ``hydria up`` is noauth and an operator who sets a quota
expects it to hold.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.listing import envelope, params
from hydria.api.schemas import quota as schema
from hydria.api.validation import parse
from hydria.core.errors import InvalidInput
from hydria.services import quotas as service

router = APIRouter()
PATH = "/lbaas/quotas"
MAX_PROJECT_ID_LENGTH = 36


def _project(project_id: str) -> str:
    if len(project_id) > MAX_PROJECT_ID_LENGTH:
        raise InvalidInput(
            f"Invalid input for field/attribute project_id. Value: "
            f"'{project_id[:100]}'. Value should have a maximum character "
            f"requirement of {MAX_PROJECT_ID_LENGTH}"
        )
    return project_id


@router.get(PATH)
def list_quotas(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
    page = service.list_quotas(env, ctx, params(request), schema.view)
    return envelope(request, page, "quotas", "quotas_links")


@router.get(PATH + "/defaults")
def show_defaults(ctx: Ctx, env: Services) -> dict[str, Any]:
    return {"quota": schema.view(env.quota_defaults)}


@router.get(PATH + "/{project_id}")
def show_quota(project_id: str, request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
    _project(project_id)
    return {"quota": schema.view(service.limits(env, project_id), project_id)}


@router.get(PATH + "/{project_id}/default")
def show_project_defaults(
    project_id: str, request: Request, ctx: Ctx, env: Services
) -> dict[str, Any]:
    _project(project_id)
    return {"quota": schema.view(env.quota_defaults, project_id)}


@router.put(PATH + "/{project_id}", status_code=202)
def set_quota(project_id: str, body: JsonBody, ctx: AdminCtx, env: Services) -> dict[str, Any]:
    _project(project_id)
    changes = schema.changes(parse(body, "quota", schema.QuotaPUT, nulls_are_unset=False))
    return {"quota": schema.view(service.set_limits(env, project_id, changes), project_id)}


@router.delete(PATH + "/{project_id}", status_code=202)
def reset_quota(project_id: str, ctx: AdminCtx, env: Services) -> Response:
    service.reset(env, _project(project_id))
    return Response(status_code=202)
