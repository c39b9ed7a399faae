"""The five handlers of an Octavia collection, made once for every resource.

``add_crud(router, path, key, resource, ops)`` adds ``GET path``, ``POST path``,
``GET/PUT/DELETE path/{key}``: each parses (bodies from the resource's
description, ``hydria.api.schemas.bodies``), calls one service function and
shapes the answer (envelope, ``fields``, page links). Path parameters keep
their names (``{pool_id}``), which the request metrics use as labels; their
values reach the service in path order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api import openapi
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.listing import envelope, fields_param, params, select_fields
from hydria.api.validation import parse
from hydria.core.resources.field import Resource

Op = Callable[..., Any]


@dataclass(frozen=True)
class Ops:
    """The service functions behind a collection: ``op(env, ctx, *path values, ...)``."""

    list: Op
    show: Op
    create: Op
    update: Op
    delete: Op | None  # None: the caller adds its own DELETE
    create_body: type[Any]
    update_body: type[Any]


def _ids(request: Request) -> list[str]:
    return list(request.path_params.values())


def add_crud(router: APIRouter, path: str, key: str, resource: Resource, ops: Ops) -> None:
    one = f"{path}/{{{key}}}"
    root = resource.root

    def list_all(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        page = ops.list(env, ctx, *_ids(request), params(request))
        return envelope(request, page, resource.collection, resource.links_key)

    def show(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        return {root: select_fields(ops.show(env, ctx, *_ids(request)), fields_param(request))}

    def create(request: Request, body: JsonBody, ctx: Ctx, env: Services) -> dict[str, Any]:
        req = parse(body, root, ops.create_body, nulls_are_unset=True)
        return {root: ops.create(env, ctx, *_ids(request), req)}

    def update(request: Request, body: JsonBody, ctx: Ctx, env: Services) -> dict[str, Any]:
        req = parse(body, root, ops.update_body, nulls_are_unset=False)
        return {root: ops.update(env, ctx, *_ids(request), req)}

    def delete(request: Request, ctx: Ctx, env: Services) -> Response:
        assert ops.delete is not None
        ops.delete(env, ctx, *_ids(request))
        return Response(status_code=204)

    name = resource.collection
    router.add_api_route(path, list_all, methods=["GET"], name=f"list_{name}")
    router.add_api_route(one, show, methods=["GET"], name=f"show_{name}")
    router.add_api_route(
        path,
        create,
        methods=["POST"],
        status_code=201,
        name=f"create_{name}",
        openapi_extra=openapi.body(root, ops.create_body),
    )
    router.add_api_route(
        one,
        update,
        methods=["PUT"],
        name=f"update_{name}",
        openapi_extra=openapi.body(root, ops.update_body),
    )
    if ops.delete is not None:
        router.add_api_route(
            one, delete, methods=["DELETE"], status_code=204, name=f"delete_{name}"
        )
