"""/lbaas/flavorprofiles and /lbaas/flavors, as Octavia's.

- Flavor profiles (admins only): ``name``, ``provider_name`` (an enabled
  provider), ``flavor_data`` (a JSON object as a string, checked by
  ``hydria.api.provider.check_flavor_data``: unknown settings are a 400 that
  lists the supported ones). ``provider_name`` and ``flavor_data`` cannot
  change while a flavor uses the profile, nor can the profile be deleted (409).
- Flavors: every caller lists and shows them; admins create (``name`` unique,
  409 otherwise), update (``name``, ``description``, ``enabled``) and delete
  them (409 while a load balancer that is not DELETED uses it).
- A load balancer create names a flavor by ``flavor_id``: unknown is Octavia's
  400 "Invalid flavor_id.", disabled its 400 "The selected flavor is not
  allowed in this deployment".

Octavia's list envelope of profiles is ``flavorprofiles`` with
``flavorprofile_links`` (singular); Hydria answers the same.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hydria.api import catalog, provider
from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import DB, Ctx, JsonBody
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import read
from hydria.api.schemas import catalog as schema
from hydria.api.validation import given, parse
from hydria.core.errors import Conflict, InvalidInput
from hydria.db.models import Flavor, FlavorProfile, LoadBalancer

router = APIRouter()
PROFILES = "/lbaas/flavorprofiles"
FLAVORS = "/lbaas/flavors"
PROFILE = "Flavor Profile"

PROFILE_FILTERS = {name: getattr(FlavorProfile, name) for name in (
    "id", "name", "provider_name", "flavor_data")}
FLAVOR_FILTERS = {name: getattr(Flavor, name) for name in (
    "id", "name", "description", "enabled", "flavor_profile_id")}


def _flavors_of(session: Any, profile_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Flavor).where(
        Flavor.flavor_profile_id == profile_id)) or 0


# -- flavor profiles ------------------------------------------------------------

@router.get(PROFILES)
def list_flavor_profiles(request: Request, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(FlavorProfile), FlavorProfile, ctx=ctx,
                         filters=PROFILE_FILTERS, render=schema.flavor_profile_view,
                         per_project=False, with_status=False)
    return {"flavorprofiles": page.items, "flavorprofile_links": page.links}


@router.get(PROFILES + "/{profile_id}")
def show_flavor_profile(profile_id: str, request: Request, ctx: AdminCtx,
                        db: DB) -> dict[str, Any]:
    with read(db) as session:
        row = catalog.get_or_404(session, FlavorProfile, profile_id, PROFILE)
        return {"flavorprofile": select_fields(schema.flavor_profile_view(row),
                                               fields_param(request))}


@router.post(PROFILES, status_code=201)
def create_flavor_profile(body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "flavorprofile", schema.FlavorProfilePOST, nulls_are_unset=True)
    provider.check_flavor_data(req.flavor_data)
    provider.require_provider(req.provider_name)
    with db.session() as session:
        row = FlavorProfile(id=str(uuid.uuid4()), name=req.name,
                            provider_name=req.provider_name, flavor_data=req.flavor_data)
        session.add(row)
        session.flush()
        return {"flavorprofile": schema.flavor_profile_view(row)}


@router.put(PROFILES + "/{profile_id}")
def update_flavor_profile(profile_id: str, body: JsonBody, ctx: AdminCtx,
                          db: DB) -> dict[str, Any]:
    req = parse(body, "flavorprofile", schema.FlavorProfilePUT, nulls_are_unset=False)
    changes = given(req)
    catalog.no_nulls(changes, "name", "provider_name", "flavor_data")
    if "flavor_data" in changes:
        provider.check_flavor_data(changes["flavor_data"])
    if "provider_name" in changes:
        provider.require_provider(changes["provider_name"])
    with db.session() as session:
        row = catalog.get_or_404(session, FlavorProfile, profile_id, PROFILE)
        if {"flavor_data", "provider_name"} & set(changes) and _flavors_of(session, row.id):
            raise catalog.in_use("Flavor profile", row.id)
        for name, value in changes.items():
            setattr(row, name, value)
        session.flush()
        return {"flavorprofile": schema.flavor_profile_view(row)}


@router.delete(PROFILES + "/{profile_id}", status_code=204)
def delete_flavor_profile(profile_id: str, ctx: AdminCtx, db: DB) -> Response:
    with db.session() as session:
        row = catalog.get_or_404(session, FlavorProfile, profile_id, PROFILE)
        if _flavors_of(session, row.id):
            raise catalog.in_use("Flavor profile", row.id)
        session.delete(row)
        try:
            session.flush()
        except IntegrityError:  # a flavor pointed to it in the meantime
            raise catalog.in_use("Flavor profile", profile_id) from None
    return Response(status_code=204)


# -- flavors --------------------------------------------------------------------

@router.get(FLAVORS)
def list_flavors(request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(Flavor), Flavor, ctx=ctx,
                         filters=FLAVOR_FILTERS, render=schema.flavor_view,
                         per_project=False, with_status=False)
    return {"flavors": page.items, "flavors_links": page.links}


@router.get(FLAVORS + "/{flavor_id}")
def show_flavor(flavor_id: str, request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        row = catalog.get_or_404(session, Flavor, flavor_id, "Flavor")
        return {"flavor": select_fields(schema.flavor_view(row), fields_param(request))}


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A flavor of {name} already exists.")


@router.post(FLAVORS, status_code=201)
def create_flavor(body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "flavor", schema.FlavorPOST, nulls_are_unset=True)
    with db.session() as session:
        if session.get(FlavorProfile, req.flavor_profile_id) is None:
            raise InvalidInput(f"{PROFILE} {req.flavor_profile_id} not found.")
        if session.scalar(select(Flavor.id).where(Flavor.name == req.name)) is not None:
            raise _duplicate(req.name)
        row = Flavor(id=str(uuid.uuid4()), name=req.name, description=req.description,
                     enabled=req.enabled, flavor_profile_id=req.flavor_profile_id)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise _duplicate(req.name) from None
        return {"flavor": schema.flavor_view(row)}


@router.put(FLAVORS + "/{flavor_id}")
def update_flavor(flavor_id: str, body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "flavor", schema.FlavorPUT, nulls_are_unset=False)
    changes = given(req)
    catalog.no_nulls(changes, "name", "enabled")
    with db.session() as session:
        row = catalog.get_or_404(session, Flavor, flavor_id, "Flavor")
        if "name" in changes and changes["name"] != row.name and session.scalar(
                select(Flavor.id).where(Flavor.name == changes["name"])) is not None:
            raise _duplicate(changes["name"])
        for name, value in changes.items():
            setattr(row, name, value)
        try:
            session.flush()
        except IntegrityError:
            raise _duplicate(str(changes.get("name"))) from None
        return {"flavor": schema.flavor_view(row)}


@router.delete(FLAVORS + "/{flavor_id}", status_code=204)
def delete_flavor(flavor_id: str, ctx: AdminCtx, db: DB) -> Response:
    with db.session() as session:
        row = catalog.get_or_404(session, Flavor, flavor_id, "Flavor")
        session.delete(row)
        session.flush()  # the row is locked from here: a create using it waits
        if catalog.load_balancers_using(session, LoadBalancer.flavor_id, flavor_id):
            raise catalog.in_use("Flavor", flavor_id)
    return Response(status_code=204)
