"""The five handlers of an Octavia collection, made once for every resource.

``add_crud(router, path, key, resource, ops)`` adds ``GET path``, ``POST path``,
``GET/PUT/DELETE path/{key}``: each parses (bodies from the resource's
description, ``hydria.api.schemas.bodies``), calls one service function and
shapes the answer (envelope, ``fields``, page links). Path parameters keep
their names (``{pool_id}``), which the request metrics use as labels; their
values reach the service in path order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api import openapi
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.listing import envelope, fields_param, params, select_fields
from hydria.api.settle import settled_answer
from hydria.api.validation import parse
from hydria.core.errors import APIError
from hydria.core.resources.field import Resource
from hydria.services.lookup import require_parent
from hydria.services.unit import Env

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
    # ``show`` is one ``Database.lone_read``: where that waits on nothing (SQLite) it
    # runs on the event loop (``hydria.api.settle``)
    show_is_lone_read: bool = False


def _ids(request: Request) -> list[str]:
    return list(request.path_params.values())


@contextmanager
def parent_first(env: Env, parent: str | None, request: Request) -> Iterator[None]:
    """A refusal under a path whose parent (``parent``: its kind, its id the path's
    first) is missing becomes that parent's ``ParentNotFound``, as Octavia, which
    looks the parent up while routing, answers before parsing or checking anything.
    Only a refusal pays the look-up: the answers that succeed cost nothing more."""
    try:
        yield
    except APIError:
        if parent is not None:
            require_parent(env, parent, _ids(request)[0])
        raise


def add_crud(
    router: APIRouter,
    path: str,
    key: str,
    resource: Resource,
    ops: Ops,
    *,
    parent: str | None = None,
) -> None:
    """``parent``: Octavia's name of the object ``path`` goes through (``"Pool"``)."""
    one = f"{path}/{{{key}}}"
    root = resource.root

    def list_all(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        with parent_first(env, parent, request):
            page = ops.list(env, ctx, *_ids(request), params(request))
        return envelope(request, page, resource.collection, resource.links_key)

    async def show(request: Request, ctx: Ctx, env: Services) -> dict[str, Any]:
        ids = _ids(request)

        def once() -> dict[str, Any]:
            with parent_first(env, parent, request):
                found: dict[str, Any] = ops.show(env, ctx, *ids)
                return found

        # a pending object is answered once its load balancer settled (api/settle.py)
        inline = ops.show_is_lone_read and not env.db.lone_reads_may_wait
        found = await settled_answer(env, root, ids, once, inline=inline)
        return {root: select_fields(found, fields_param(request))}

    def create(request: Request, body: JsonBody, ctx: Ctx, env: Services) -> dict[str, Any]:
        with parent_first(env, parent, request):
            req = parse(body, root, ops.create_body, nulls_are_unset=True)
            return {root: ops.create(env, ctx, *_ids(request), req)}

    def update(request: Request, body: JsonBody, ctx: Ctx, env: Services) -> dict[str, Any]:
        with parent_first(env, parent, request):
            req = parse(body, root, ops.update_body, nulls_are_unset=False)
            return {root: ops.update(env, ctx, *_ids(request), req)}

    def delete(request: Request, ctx: Ctx, env: Services) -> Response:
        assert ops.delete is not None
        with parent_first(env, parent, request):
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
