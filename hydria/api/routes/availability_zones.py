"""/lbaas/availabilityzoneprofiles and /lbaas/availabilityzones, as Octavia's.

The same pattern as flavors (``hydria.api.routes.flavors``), except that a
zone is named, not numbered: its ``name`` is its key in every path and what
a load balancer create gives as ``availability_zone``.

- Zone profiles (admins only): ``name``, ``provider_name``,
  ``availability_zone_data`` (a JSON object as a string). Hydria's compute
  driver has no zones, so no setting is supported and the data must be
  ``{}`` (``hydria.api.provider``); anything else is a 400 saying so.
- Zones: every caller lists and shows them; admins create, update
  (``description``, ``enabled``) and delete them (409 while a load balancer
  that is not DELETED uses it). A load balancer in a zone is recorded and
  shown with it; where its amphorae run does not change.
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
from hydria.db.models import AvailabilityZone, AvailabilityZoneProfile, LoadBalancer

router = APIRouter()
PROFILES = "/lbaas/availabilityzoneprofiles"
ZONES = "/lbaas/availabilityzones"
PROFILE = "Availability Zone Profile"
ZONE = "Availability Zone"

PROFILE_FILTERS = {name: getattr(AvailabilityZoneProfile, name) for name in (
    "id", "name", "provider_name", "availability_zone_data")}
ZONE_FILTERS = {name: getattr(AvailabilityZone, name) for name in (
    "name", "description", "enabled", "availability_zone_profile_id")}


def _zones_of(session: Any, profile_id: str) -> int:
    return session.scalar(select(func.count()).select_from(AvailabilityZone).where(
        AvailabilityZone.availability_zone_profile_id == profile_id)) or 0


# -- availability zone profiles -----------------------------------------------------

@router.get(PROFILES)
def list_zone_profiles(request: Request, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(AvailabilityZoneProfile),
                         AvailabilityZoneProfile, ctx=ctx, filters=PROFILE_FILTERS,
                         render=schema.zone_profile_view, per_project=False,
                         with_status=False)
    return {"availability_zone_profiles": page.items,
            "availability_zone_profile_links": page.links}


@router.get(PROFILES + "/{profile_id}")
def show_zone_profile(profile_id: str, request: Request, ctx: AdminCtx,
                      db: DB) -> dict[str, Any]:
    with read(db) as session:
        row = catalog.get_or_404(session, AvailabilityZoneProfile, profile_id, PROFILE)
        return {"availability_zone_profile": select_fields(schema.zone_profile_view(row),
                                                           fields_param(request))}


@router.post(PROFILES, status_code=201)
def create_zone_profile(body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "availability_zone_profile", schema.AvailabilityZoneProfilePOST,
                nulls_are_unset=True)
    data = provider.check_availability_zone_data(req.availability_zone_data)
    provider.require_provider(req.provider_name)
    with db.session() as session:
        catalog.check_zone_networks(session, provider.zone_networks(data))
        row = AvailabilityZoneProfile(
            id=str(uuid.uuid4()), name=req.name, provider_name=req.provider_name,
            availability_zone_data=req.availability_zone_data)
        session.add(row)
        session.flush()
        return {"availability_zone_profile": schema.zone_profile_view(row)}


@router.put(PROFILES + "/{profile_id}")
def update_zone_profile(profile_id: str, body: JsonBody, ctx: AdminCtx,
                        db: DB) -> dict[str, Any]:
    req = parse(body, "availability_zone_profile", schema.AvailabilityZoneProfilePUT,
                nulls_are_unset=False)
    changes = given(req)
    catalog.no_nulls(changes, "name", "provider_name", "availability_zone_data")
    data: dict[str, Any] = {}
    if "availability_zone_data" in changes:
        data = provider.check_availability_zone_data(changes["availability_zone_data"])
    if "provider_name" in changes:
        provider.require_provider(changes["provider_name"])
    with db.session() as session:
        catalog.check_zone_networks(session, provider.zone_networks(data))
        row = catalog.get_or_404(session, AvailabilityZoneProfile, profile_id, PROFILE)
        if ({"availability_zone_data", "provider_name"} & set(changes)
                and _zones_of(session, row.id)):
            raise catalog.in_use(PROFILE, row.id)
        for name, value in changes.items():
            setattr(row, name, value)
        session.flush()
        return {"availability_zone_profile": schema.zone_profile_view(row)}


@router.delete(PROFILES + "/{profile_id}", status_code=204)
def delete_zone_profile(profile_id: str, ctx: AdminCtx, db: DB) -> Response:
    with db.session() as session:
        row = catalog.get_or_404(session, AvailabilityZoneProfile, profile_id, PROFILE)
        if _zones_of(session, row.id):
            raise catalog.in_use(PROFILE, row.id)
        session.delete(row)
        try:
            session.flush()
        except IntegrityError:  # a zone pointed to it in the meantime
            raise catalog.in_use(PROFILE, profile_id) from None
    return Response(status_code=204)


# -- availability zones -------------------------------------------------------------

@router.get(ZONES)
def list_zones(request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(AvailabilityZone), AvailabilityZone,
                         ctx=ctx, filters=ZONE_FILTERS, render=schema.zone_view,
                         per_project=False, with_status=False)
    return {"availability_zones": page.items, "availability_zones_links": page.links}


@router.get(ZONES + "/{name}")
def show_zone(name: str, request: Request, ctx: Ctx, db: DB) -> dict[str, Any]:
    with read(db) as session:
        row = catalog.get_or_404(session, AvailabilityZone, name, ZONE)
        return {"availability_zone": select_fields(schema.zone_view(row),
                                                   fields_param(request))}


def _duplicate(name: str) -> Conflict:
    return Conflict(f"A availability zone of {name} already exists.")


@router.post(ZONES, status_code=201)
def create_zone(body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "availability_zone", schema.AvailabilityZonePOST, nulls_are_unset=True)
    with db.session() as session:
        if session.get(AvailabilityZoneProfile, req.availability_zone_profile_id) is None:
            raise InvalidInput(f"{PROFILE} {req.availability_zone_profile_id} not found.")
        if session.get(AvailabilityZone, req.name) is not None:
            raise _duplicate(req.name)
        row = AvailabilityZone(name=req.name, description=req.description,
                               enabled=req.enabled,
                               availability_zone_profile_id=req.availability_zone_profile_id)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise _duplicate(req.name) from None
        return {"availability_zone": schema.zone_view(row)}


@router.put(ZONES + "/{name}")
def update_zone(name: str, body: JsonBody, ctx: AdminCtx, db: DB) -> dict[str, Any]:
    req = parse(body, "availability_zone", schema.AvailabilityZonePUT, nulls_are_unset=False)
    changes = given(req)
    catalog.no_nulls(changes, "enabled")
    with db.session() as session:
        row = catalog.get_or_404(session, AvailabilityZone, name, ZONE)
        for key, value in changes.items():
            setattr(row, key, value)
        session.flush()
        return {"availability_zone": schema.zone_view(row)}


@router.delete(ZONES + "/{name}", status_code=204)
def delete_zone(name: str, ctx: AdminCtx, db: DB) -> Response:
    with db.session() as session:
        row = catalog.get_or_404(session, AvailabilityZone, name, ZONE)
        session.delete(row)
        session.flush()  # the row is locked from here: a create using it waits
        if catalog.load_balancers_using(session, LoadBalancer.availability_zone, name):
            raise catalog.in_use(ZONE, name)
    return Response(status_code=204)
