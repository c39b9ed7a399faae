"""The operator catalogue: flavors, availability zones, and their profiles.

A flavor and an availability zone are one pattern twice (``CatalogKind`` in
``hydria.core.resources.catalog`` says what differs), so every function here
takes the kind and serves both:

- profiles (admins): ``name``, ``provider_name`` (an enabled provider) and
  the data (a JSON object as a string, ``provider.check_profile_data``:
  unknown settings are a 400 that lists the supported ones). The provider and
  the data cannot change while an item uses the profile, nor can the profile
  be deleted (409).
- items: every caller lists and shows them; admins create (the name unique,
  409 otherwise), update and delete them (409 while a load balancer that is
  not DELETED uses one). A zone is keyed by its name, a flavor by its id.

Something in use cannot go away (Octavia's ``ObjectInUse``, 409); a DELETED
load balancer keeps showing the flavor or zone it was created with.

A load balancer create reads its flavor or zone with ``FOR SHARE``
(``check_lb_choices``) and a delete removes the row *before* it looks for
users, so on PostgreSQL one of the two waits for the other and a load balancer
is never created on a flavor deleted in the same instant; on SQLite every
write transaction is serialised anyway.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import Conflict, InvalidInput, NotFound, ProviderUnsupported
from hydria.core.resources.catalog import FLAVORS, ZONES, CatalogKind
from hydria.db.models import (
    AvailabilityZone,
    AvailabilityZoneProfile,
    Flavor,
    FlavorProfile,
    LoadBalancer,
    Network,
)
from hydria.services import listing, provider
from hydria.services.context import RequestContext
from hydria.services.provider import TOPOLOGY, check_buildable, check_flavor_data, zone_networks
from hydria.services.shape import shape
from hydria.services.unit import Env, read

MODELS: dict[str, tuple[Any, Any]] = {  # kind's item root -> (item model, profile model)
    FLAVORS.item.root: (Flavor, FlavorProfile),
    ZONES.item.root: (AvailabilityZone, AvailabilityZoneProfile),
}
# How "in use" names a profile in its 409 (Octavia's wording differs between the two).
PROFILE_IN_USE = {FLAVORS.item.root: "Flavor profile", ZONES.item.root: ZONES.profile.kind}


def _models(kind: CatalogKind) -> tuple[Any, Any]:
    return MODELS[kind.item.root]


def in_use(label: str, key: str) -> Conflict:
    return Conflict(f"{label} {key} is in use and cannot be modified.")


def _get(session: Session, model: Any, key: str, label: str) -> Any:
    row = session.get(model, key)
    if row is None:
        raise NotFound.of(label, key)
    return row


def _users_of_profile(session: Session, kind: CatalogKind, profile_id: str) -> int:
    item = _models(kind)[0]
    return (
        session.scalar(
            select(func.count())
            .select_from(item)
            .where(getattr(item, kind.profile_key) == profile_id)
        )
        or 0
    )


def _load_balancers_using(session: Session, kind: CatalogKind, key: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(LoadBalancer)
            .where(
                getattr(LoadBalancer, kind.lb_column) == key,
                LoadBalancer.provisioning_status != c.DELETED,
            )
        )
        or 0
    )


def _list(
    env: Env, ctx: RequestContext, params: listing.Params, model: Any, resource: Any, key: str
) -> listing.Page:
    scope = listing.Scope(
        model,
        resource.filters(),
        resource.sorts(),
        key=key,
        default_sort=(("id", "asc"),) if key == "id" else listing.DEFAULT_SORT,
    )
    with read(env) as session:
        return listing.run(
            session,
            listing.table_of(model),
            scope,
            params,
            ctx,
            listing.each(lambda row: shape(resource, row)),
        )


# -- profiles -------------------------------------------------------------------------


def list_profiles(
    env: Env, ctx: RequestContext, kind: CatalogKind, params: listing.Params
) -> listing.Page:
    return _list(env, ctx, params, _models(kind)[1], kind.profile, "id")


def show_profile(env: Env, kind: CatalogKind, profile_id: str) -> dict[str, Any]:
    with read(env) as session:
        return shape(kind.profile, _get(session, _models(kind)[1], profile_id, kind.profile.kind))


def create_profile(env: Env, kind: CatalogKind, req: Any) -> dict[str, Any]:
    data = provider.check_profile_data(kind.data, getattr(req, kind.data))
    provider.require_provider(req.provider_name)
    with env.db.session() as session:
        _check_networks(env, session, kind, data)
        row = _models(kind)[1](
            id=str(uuid.uuid4()),
            name=req.name,
            provider_name=req.provider_name,
            **{kind.data: getattr(req, kind.data)},
        )
        session.add(row)
        session.flush()
        return shape(kind.profile, row)


def update_profile(
    env: Env, kind: CatalogKind, profile_id: str, given: dict[str, Any]
) -> dict[str, Any]:
    changes = kind.profile.update_changes(given)
    data: dict[str, Any] = {}
    if kind.data in changes:
        data = provider.check_profile_data(kind.data, changes[kind.data])
    if "provider_name" in changes:
        provider.require_provider(changes["provider_name"])
    label = PROFILE_IN_USE[kind.item.root]
    with env.db.session() as session:
        _check_networks(env, session, kind, data)
        row = _get(session, _models(kind)[1], profile_id, kind.profile.kind)
        if {kind.data, "provider_name"} & set(changes) and _users_of_profile(session, kind, row.id):
            raise in_use(label, row.id)
        for name, value in changes.items():
            setattr(row, name, value)
        session.flush()
        return shape(kind.profile, row)


def _check_networks(env: Env, session: Session, kind: CatalogKind, data: dict[str, Any]) -> None:
    """The networks a zone profile names are ones the networking API lists.

    Octavia's amphora provider looks them up through its network driver and
    answers a missing one with its unsupported-option fault (501); with the
    ``noop`` network driver, as with Octavia's, every network exists.
    """
    if kind.data != "availability_zone_data" or env.settings.network_driver == "noop":
        return
    for network_id in zone_networks(data):
        if session.get(Network, network_id) is None:
            raise ProviderUnsupported.of(f"Network {network_id} could not be found.")


def delete_profile(env: Env, kind: CatalogKind, profile_id: str) -> None:
    label = PROFILE_IN_USE[kind.item.root]
    with env.db.session() as session:
        row = _get(session, _models(kind)[1], profile_id, kind.profile.kind)
        if _users_of_profile(session, kind, row.id):
            raise in_use(label, row.id)
        session.delete(row)
        try:
            session.flush()
        except IntegrityError:  # an item pointed to it in the meantime
            raise in_use(label, profile_id) from None


# -- flavors and zones ----------------------------------------------------------------


def list_items(
    env: Env, ctx: RequestContext, kind: CatalogKind, params: listing.Params
) -> listing.Page:
    return _list(env, ctx, params, _models(kind)[0], kind.item, kind.key)


def show_item(env: Env, kind: CatalogKind, key: str) -> dict[str, Any]:
    with read(env) as session:
        return shape(kind.item, _get(session, _models(kind)[0], key, kind.item.kind))


def _duplicate(kind: CatalogKind, name: str) -> Conflict:
    return Conflict(f"A {kind.item.kind.lower()} of {name} already exists.")


def _name_taken(session: Session, kind: CatalogKind, name: str) -> bool:
    item = _models(kind)[0]
    return session.scalar(select(func.count()).select_from(item).where(item.name == name)) != 0


def create_item(env: Env, kind: CatalogKind, req: Any) -> dict[str, Any]:
    item, profile = _models(kind)
    profile_id = getattr(req, kind.profile_key)
    with env.db.session() as session:
        if session.get(profile, profile_id) is None:
            raise InvalidInput(f"{kind.profile.kind} {profile_id} not found.")
        if _name_taken(session, kind, req.name):
            raise _duplicate(kind, req.name)
        row = item(**kind.item.create_columns(req.model_dump()))
        if kind.key == "id":
            row.id = str(uuid.uuid4())
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise _duplicate(kind, req.name) from None
        return shape(kind.item, row)


def update_item(env: Env, kind: CatalogKind, key: str, given: dict[str, Any]) -> dict[str, Any]:
    changes = kind.item.update_changes(given)
    with env.db.session() as session:
        row = _get(session, _models(kind)[0], key, kind.item.kind)
        if (
            "name" in changes
            and changes["name"] != row.name
            and _name_taken(session, kind, changes["name"])
        ):
            raise _duplicate(kind, changes["name"])
        for name, value in changes.items():
            setattr(row, name, value)
        try:
            session.flush()
        except IntegrityError:
            raise _duplicate(kind, str(changes.get("name"))) from None
        return shape(kind.item, row)


def delete_item(env: Env, kind: CatalogKind, key: str) -> None:
    with env.db.session() as session:
        row = _get(session, _models(kind)[0], key, kind.item.kind)
        session.delete(row)
        session.flush()  # the row is locked from here: a create using it waits
        if _load_balancers_using(session, kind, key):
            raise in_use(kind.item.kind, key)


# -- what a load balancer create asks for ---------------------------------------------


def _live(
    session: Session, model: Any, key_column: Any, key: str, *, unknown: str, disabled: str
) -> Any:
    """The enabled row a new load balancer names, read ``FOR SHARE``; Octavia's 400s."""
    row = session.scalar(select(model).where(key_column == key).with_for_update(read=True))
    if row is None:
        raise InvalidInput(unknown)
    if not row.enabled:
        raise InvalidInput(disabled)
    return row


def check_lb_choices(
    session: Session,
    *,
    flavor_id: str | None,
    availability_zone: str | None,
    provider: str | None,
    vrrp: bool = False,
) -> str | None:
    """A new load balancer's flavor and zone exist and are enabled (Octavia's 400s
    otherwise); a provider named with a flavor must be the flavor profile's.
    The flavor's ``loadbalancer_topology``, if it sets one."""
    topology = None
    if flavor_id is not None:
        flavor = _live(
            session,
            Flavor,
            Flavor.id,
            flavor_id,
            unknown="Validation failure: Invalid flavor_id.",
            disabled=f"The selected flavor is not allowed in this deployment: {flavor_id}",
        )
        profile = session.get(FlavorProfile, flavor.flavor_profile_id)
        if provider is not None and profile is not None and profile.provider_name != provider:
            raise InvalidInput(f"Flavor '{flavor_id}' is not compatible with provider '{provider}'")
        if profile is not None:  # a valid profile this deployment cannot build: 501
            data = check_flavor_data(profile.flavor_data)
            check_buildable(data, vrrp=vrrp)
            topology = data.get(TOPOLOGY)
    if availability_zone is not None:
        _live(
            session,
            AvailabilityZone,
            AvailabilityZone.name,
            availability_zone,
            unknown="Validation failure: Invalid availability zone.",
            disabled=f"The selected availability_zone is not allowed in this "
            f"deployment: {availability_zone}",
        )
    return str(topology) if topology else None
