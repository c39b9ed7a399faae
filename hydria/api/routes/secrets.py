"""The embedded secret store: the part of Barbican's v1 API users and clients need.

``/v1/secrets`` (create, list, show, payload, payload PUT, delete) and
``/v1/containers`` (create, list, show, delete), and the ``/v1`` version
document; ``GET /`` answers Barbican's version list to a client that asks for
``key-manager`` (``routes/root.py``). Routes parse and shape; the work and
the checks are ``hydria.services.secrets``. Both paths with and without a
trailing slash are served, as python-barbicanclient posts to ``secrets/``, and
both under ``/v1`` and at the root: the ``openstack`` CLI with keystoneauth's
``none`` plugin (``--os-endpoint``, the ``hydria`` cloud) sends its requests
to the endpoint as given, without Barbican's version path. References are
always written ``<endpoint>/v1/secrets/<id>``, as Barbican writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from hydria.api.deps import Ctx, JsonBody, Services, get_settings
from hydria.core.errors import PayloadTooLarge
from hydria.services import secrets
from hydria.services.context import RequestContext

# the secrets and containers, mounted under ``/v1`` and at the root (a client with
# keystoneauth's ``none`` plugin uses the endpoint as it is given, without ``/v1``)
router = APIRouter()
versions = APIRouter(prefix="/v1")
PREFIXES = ("/v1", "")

MIN_VERSION, MAX_VERSION = "1.0", "1.0"


def base_url(request: Request) -> str:
    base = str(request.base_url)
    return base if base.endswith("/") else base + "/"


def version_info(base: str, *, microversions: bool) -> dict[str, Any]:
    """Barbican's description of its v1 API (with or without microversion bounds)."""
    info: dict[str, Any] = {
        "id": "v1",
        "status": "CURRENT",
        "links": [
            {"rel": "self", "href": base + "v1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
    }
    if microversions:
        info.update(min_version=MIN_VERSION, max_version=MAX_VERSION)
    else:
        info["status"] = "stable"
        info["media-types"] = [
            {"base": "application/json", "type": "application/vnd.openstack.key-manager-v1+json"}
        ]
    return info


def _wants_microversions(request: Request) -> bool:
    header = request.headers.get("openstack-api-version", "")
    return header.lower().startswith("key-manager") and not header.strip().endswith(" 1.0")


@versions.get("")
@versions.get("/", include_in_schema=False)
def version(request: Request) -> dict[str, Any]:
    return {"version": version_info(base_url(request), microversions=_wants_microversions(request))}


def _query(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def _collection(
    name: str,
    ref_key: str,
    list_items: Callable[[Services, RequestContext, dict[str, str], str], dict[str, Any]],
    create: Callable[[Services, RequestContext, Any, str], str],
) -> None:
    """``GET`` (a page) and ``POST`` (a new item, answered with its reference as
    ``ref_key`` and in Location) on ``/<name>``, with and without the trailing
    slash python-barbicanclient sends."""

    def list_route(request: Request, env: Services, ctx: Ctx) -> dict[str, Any]:
        return list_items(env, ctx, _query(request), base_url(request))

    def create_route(request: Request, env: Services, ctx: Ctx, body: JsonBody) -> JSONResponse:
        ref = create(env, ctx, body, base_url(request))
        return JSONResponse({ref_key: ref}, status_code=201, headers={"Location": ref})

    for path, shown in ((f"/{name}", True), (f"/{name}/", False)):
        router.add_api_route(
            path, list_route, methods=["GET"], name=f"list_{name}", include_in_schema=shown
        )
        router.add_api_route(
            path,
            create_route,
            methods=["POST"],
            status_code=201,
            name=f"create_{name[:-1]}",
            include_in_schema=shown,
        )


_collection("secrets", "secret_ref", secrets.list_secrets, secrets.create_secret)
_collection("containers", "container_ref", secrets.list_containers, secrets.create_container)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").strip()
    media = [a.split(";", 1)[0].strip().lower() for a in accept.split(",")] if accept else []
    return not media or "application/json" in media or media == ["*/*"]


@router.get("/secrets/{secret_id}")
def get_secret(request: Request, env: Services, ctx: Ctx, secret_id: str) -> Response:
    if _wants_json(request):
        return JSONResponse(secrets.get_secret(env, ctx, secret_id, base_url(request)))
    return _payload(request, env, ctx, secret_id)  # Barbican's older way to read one


@router.get("/secrets/{secret_id}/payload")
def get_payload(request: Request, env: Services, ctx: Ctx, secret_id: str) -> Response:
    return _payload(request, env, ctx, secret_id)


def _payload(request: Request, env: Services, ctx: Ctx, secret_id: str) -> Response:
    data, media = secrets.get_payload(env, ctx, secret_id, request.headers.get("accept"))
    return Response(content=data, media_type=media)


@router.put("/secrets/{secret_id}", status_code=204)
async def put_payload(request: Request, env: Services, ctx: Ctx, secret_id: str) -> Response:
    limit = get_settings(request).max_body_bytes
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
    secrets.put_payload(
        env,
        ctx,
        secret_id,
        data,
        request.headers.get("content-type", ""),
        request.headers.get("content-encoding"),
    )
    return Response(status_code=204)


@router.delete("/secrets/{secret_id}", status_code=204)
def delete_secret(env: Services, ctx: Ctx, secret_id: str) -> Response:
    secrets.delete_secret(env, ctx, secret_id)
    return Response(status_code=204)


@router.get("/containers/{container_id}")
def get_container(request: Request, env: Services, ctx: Ctx, container_id: str) -> dict[str, Any]:
    return secrets.get_container(env, ctx, container_id, base_url(request))


@router.delete("/containers/{container_id}", status_code=204)
def delete_container(env: Services, ctx: Ctx, container_id: str) -> Response:
    secrets.delete_container(env, ctx, container_id)
    return Response(status_code=204)
