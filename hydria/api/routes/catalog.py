"""/lbaas/flavorprofiles, /lbaas/flavors, /lbaas/availabilityzoneprofiles and
/lbaas/availabilityzones, as Octavia's (``hydria.services.catalog``).

Flavors and zones are one pattern twice, so one factory makes both routers:
profiles for admins only; items listed and shown to every caller, written by
admins. A zone is keyed by its name in paths, a flavor by its id. Octavia's
list envelope of profiles is ``flavorprofiles`` with ``flavorprofile_links``
(singular); Hydria answers the same.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.listing import envelope, fields_param, params, select_fields
from hydria.api.schemas import bodies
from hydria.api.validation import given, parse
from hydria.core.resources.catalog import FLAVORS, ZONES, CatalogKind
from hydria.services import catalog as service


def _key(request: Request) -> str:
    return str(next(iter(request.path_params.values())))


def catalog_router(
    kind: CatalogKind, key_param: str, *, models: tuple[type[Any], type[Any], type[Any], type[Any]]
) -> APIRouter:
    """The routes of one catalogue; ``models``: profile POST/PUT, item POST/PUT bodies."""
    router = APIRouter()
    profile, item = kind.profile, kind.item
    profile_post, profile_put, item_post, item_put = models

    def list_profiles(request: Request, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        page = service.list_profiles(env, ctx, kind, params(request))
        return envelope(request, page, profile.collection, profile.links_key)

    def show_profile(request: Request, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        return {
            profile.root: select_fields(
                service.show_profile(env, kind, _key(request)), fields_param(request)
            )
        }

    def create_profile(body: JsonBody, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        req = parse(body, profile.root, profile_post, nulls_are_unset=True)
        return {profile.root: service.create_profile(env, kind, req)}

    def update_profile(
        request: Request, body: JsonBody, ctx: AdminCtx, env: Services
    ) -> dict[str, Any]:
        req = parse(body, profile.root, profile_put, nulls_are_unset=False)
        return {profile.root: service.update_profile(env, kind, _key(request), given(req))}

    def delete_profile(request: Request, ctx: AdminCtx, env: Services) -> Response:
        service.delete_profile(env, kind, _key(request))
        return Response(status_code=204)

    def list_items(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        page = service.list_items(env, ctx, kind, params(request))
        return envelope(request, page, item.collection, item.links_key)

    def show_item(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        return {
            item.root: select_fields(
                service.show_item(env, kind, _key(request)), fields_param(request)
            )
        }

    def create_item(body: JsonBody, ctx: AdminCtx, env: Services) -> dict[str, Any]:
        req = parse(body, item.root, item_post, nulls_are_unset=True)
        return {item.root: service.create_item(env, kind, req)}

    def update_item(
        request: Request, body: JsonBody, ctx: AdminCtx, env: Services
    ) -> dict[str, Any]:
        req = parse(body, item.root, item_put, nulls_are_unset=False)
        return {item.root: service.update_item(env, kind, _key(request), given(req))}

    def delete_item(request: Request, ctx: AdminCtx, env: Services) -> Response:
        service.delete_item(env, kind, _key(request))
        return Response(status_code=204)

    routes = (
        (
            kind.profile_path,
            "profile_id",
            (list_profiles, show_profile, create_profile, update_profile, delete_profile),
        ),
        (kind.item_path, key_param, (list_items, show_item, create_item, update_item, delete_item)),
    )
    for path, key, (lister, shower, creator, updater, deleter) in routes:
        one = f"{path}/{{{key}}}"
        router.add_api_route(path, lister, methods=["GET"])
        router.add_api_route(one, shower, methods=["GET"])
        router.add_api_route(path, creator, methods=["POST"], status_code=201)
        router.add_api_route(one, updater, methods=["PUT"])
        router.add_api_route(one, deleter, methods=["DELETE"], status_code=204)
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
