"""/lbaas/flavorprofiles, /lbaas/flavors, /lbaas/availabilityzoneprofiles and
/lbaas/availabilityzones, as Octavia's (``hydria.services.catalog``).

Flavors and zones are one pattern twice, so one factory makes both routers:
profiles for admins only; items listed and shown to every caller, written by
admins. A zone is keyed by its name in paths, a flavor by its id. Octavia's
list envelope of profiles is ``flavorprofiles`` with ``flavorprofile_links``
(singular); Hydria answers the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.listing import envelope, fields_param, params, select_fields
from hydria.api.schemas import bodies
from hydria.api.validation import given, parse
from hydria.core.resources.catalog import FLAVORS, ZONES, CatalogKind
from hydria.services import catalog as service


@dataclass(frozen=True)
class _Half:
    kind: CatalogKind
    view: Any  # the half's names: root, collection, links_key


def _key(request: Request) -> str:
    return str(next(iter(request.path_params.values())))


def _add_routes(
    router: APIRouter,
    path: str,
    key: str,
    resource: Any,
    bodies_: tuple[type[Any], type[Any]],
    ops: tuple[Callable[..., Any], ...],
) -> None:
    """One half of a catalogue (its profiles or its items): five routes on ``path``.

    ``ops`` are the service's list, show, create, update and delete of that half;
    whether a caller may use a route is decided at the door (``hydria.api.auth``).
    """
    post, put = bodies_
    list_, show, create, update, delete = ops
    kind = resource.kind

    def lister(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        page = list_(env, ctx, kind, params(request))
        return envelope(request, page, resource.view.collection, resource.view.links_key)

    def shower(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        shown = select_fields(show(env, kind, _key(request)), fields_param(request))
        return {resource.view.root: shown}

    def creator(body: JsonBody, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        req = parse(body, resource.view.root, post, nulls_are_unset=True)
        return {resource.view.root: create(env, kind, req)}

    def updater(request: Request, body: JsonBody, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        req = parse(body, resource.view.root, put, nulls_are_unset=False)
        return {resource.view.root: update(env, kind, _key(request), given(req))}

    def deleter(request: Request, ctx: AdminCtx, env: Services) -> Response:
        delete(env, kind, _key(request))
        return Response(status_code=204)

    one = f"{path}/{{{key}}}"
    router.add_api_route(path, lister, methods=["GET"])
    router.add_api_route(one, shower, methods=["GET"])
    router.add_api_route(path, creator, methods=["POST"], status_code=201)
    router.add_api_route(one, updater, methods=["PUT"])
    router.add_api_route(one, deleter, methods=["DELETE"], status_code=204)


def catalog_router(
    kind: CatalogKind, key_param: str, *, models: tuple[type[Any], type[Any], type[Any], type[Any]]
) -> APIRouter:
    """The routes of one catalogue; ``models``: profile POST/PUT, item POST/PUT bodies."""
    router = APIRouter()
    profile_ops = (
        service.list_profiles,
        service.show_profile,
        service.create_profile,
        service.update_profile,
        service.delete_profile,
    )
    item_ops = (
        service.list_items,
        service.show_item,
        service.create_item,
        service.update_item,
        service.delete_item,
    )
    _add_routes(
        router, kind.profile_path, "profile_id", _Half(kind, kind.profile), models[:2], profile_ops
    )
    _add_routes(router, kind.item_path, key_param, _Half(kind, kind.item), models[2:], item_ops)
    return router


flavors = catalog_router(
    FLAVORS,
    "flavor_id",
    models=(bodies.FlavorProfilePOST, bodies.FlavorProfilePUT, bodies.FlavorPOST, bodies.FlavorPUT),
)
availability_zones = catalog_router(
    ZONES,
    "name",
    models=(bodies.ZoneProfilePOST, bodies.ZoneProfilePUT, bodies.ZonePOST, bodies.ZonePUT),
)
