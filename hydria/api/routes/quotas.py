"""/lbaas/quotas: per-project limits, as Octavia's quota API.

- ``GET /lbaas/quotas``: the projects with a limit of their own (every limit
  shown, defaults filled in); a caller sees its own project unless it may
  act as an admin. Filters by ``project_id``, pages as every collection.
- ``GET /lbaas/quotas/defaults``: the configured defaults (``HYDRIA_QUOTA_*``).
- ``GET /lbaas/quotas/{project_id}``: the project's limits;
  ``.../{project_id}/default``: the defaults it would have. Reading another
  project's needs the quota admin (403 otherwise): the policy checks the path's
  project at the door (``hydria.api.auth.operations``).
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
from sqlalchemy import or_, select, update

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import DB, Ctx, JsonBody, get_settings
from hydria.api.listing import list_page
from hydria.api.lookup import read
from hydria.api.schemas import quota as schema
from hydria.api.validation import parse
from hydria.core.errors import InvalidInput, NotFound
from hydria.db import quotas
from hydria.db.models import Quota

router = APIRouter()
PATH = "/lbaas/quotas"
MAX_PROJECT_ID_LENGTH = 36


def _project(project_id: str) -> str:
    if len(project_id) > MAX_PROJECT_ID_LENGTH:
        raise InvalidInput(f"Invalid input for field/attribute project_id. Value: "
                           f"'{project_id[:100]}'. Value should have a maximum character "
                           f"requirement of {MAX_PROJECT_ID_LENGTH}")
    return project_id


def _any_set():  # type: ignore[no-untyped-def]
    """A project has a quota of its own while any limit is set (a reset clears them all)."""
    return or_(*[getattr(Quota, name).is_not(None) for name in quotas.NAMES])


@router.get(PATH)
def list_quotas(request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    defaults = get_settings(request).quota_defaults
    own = _any_set()
    with read(db) as session:
        page = list_page(request, session, select(Quota).where(own), Quota, ctx=ctx,
                         filters={}, with_status=False,
                         render=lambda row: schema.view(quotas.effective(row, defaults),
                                                        row.project_id))
    return {"quotas": page.items, "quotas_links": page.links}


@router.get(PATH + "/defaults")
def show_defaults(request: Request, ctx: Ctx) -> dict[str, Any]:
    return {"quota": schema.view(get_settings(request).quota_defaults)}


@router.get(PATH + "/{project_id}")
def show_quota(project_id: str, request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    _project(project_id)
    defaults = get_settings(request).quota_defaults
    with read(db) as session:
        row = session.get(Quota, project_id)
        return {"quota": schema.view(quotas.effective(row, defaults), project_id)}


@router.get(PATH + "/{project_id}/default")
def show_project_defaults(project_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    _project(project_id)
    return {"quota": schema.view(get_settings(request).quota_defaults, project_id)}


@router.put(PATH + "/{project_id}", status_code=202)
def set_quota(project_id: str, body: JsonBody, request: Request, ctx: AdminCtx,
              db: DB) -> dict[str, Any]:
    _project(project_id)
    changes = schema.changes(parse(body, "quota", schema.QuotaPUT, nulls_are_unset=False))
    defaults = get_settings(request).quota_defaults
    with db.session() as session:
        if changes:
            quotas.ensure_row(session, project_id)
            session.execute(update(Quota).where(Quota.project_id == project_id)
                            .values(**changes))
        row = session.get(Quota, project_id, populate_existing=True)
        return {"quota": schema.view(quotas.effective(row, defaults), project_id)}


@router.delete(PATH + "/{project_id}", status_code=202)
def reset_quota(project_id: str, ctx: AdminCtx, db: DB) -> Response:
    _project(project_id)
    with db.session() as session:
        # The row stays (creates in the project lock it); every limit is the default again.
        reset = session.execute(update(Quota).where(Quota.project_id == project_id, _any_set())
                                .values(**dict.fromkeys(quotas.NAMES))).rowcount
    if not reset:  # never set, or reset already: Octavia has nothing to delete either
        raise NotFound.of("Quotas", project_id)
    return Response(status_code=202)
