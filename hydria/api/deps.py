"""What every handler needs, injected once: services, caller and body.

``create_app`` stores the services' ``Env`` (database, notifier, settings)
on ``app.state``;
handlers reach them through these small dependencies, never through globals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from hydria.api.auth.door import admit
from hydria.config import Settings
from hydria.core.errors import APIError, InvalidInput, PayloadTooLarge
from hydria.core.jsonbody import decode
from hydria.services.context import RequestContext
from hydria.services.unit import Env


class UnsupportedMediaType(APIError):
    status_code = 415
    faultcode = "Client"


async def get_env(request: Request) -> Env:
    """What the services need: made once per app (``create_app``). A coroutine, so
    FastAPI does not hop to its thread pool and back for an attribute read."""
    return _env(request)


def _env(request: Request) -> Env:
    env: Env = request.app.state.env
    return env


def get_settings(request: Request) -> Settings:
    return _env(request).settings


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


async def read_json_body(request: Request) -> Any:
    """The request body parsed as JSON, refusing oversized or non-JSON input."""
    limit = get_settings(request).max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )
    if not raw.strip():
        raise InvalidInput("The request body is empty; a JSON object is required.")
    return decode(raw)


# Parameter types for handlers: ``def handler(env: Services, ctx: Ctx, ...)``.
Ctx = Annotated[RequestContext, Depends(admit)]
JsonBody = Annotated[Any, Depends(read_json_body)]
Services = Annotated[Env, Depends(get_env)]
