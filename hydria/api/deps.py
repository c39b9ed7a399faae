"""What every handler needs, injected once: services, caller and body.

``create_app`` stores the services' ``Env`` (database, notifier, settings)
on ``app.state``;
handlers reach them through these small dependencies, never through globals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

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
    FastAPI does not hop to its thread pool for an attribute read (``admit``)."""
    env: Env = request.app.state.env
    return env


def get_settings(request: Request) -> Settings:
    env: Env = request.app.state.env
    return env.settings


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


T = TypeVar("T")


async def answer_read(env: Env, answer: Callable[[], T]) -> T:
    """``answer()``, a read-only service call, on the event loop when it cannot block.

    A plain handler runs in FastAPI's thread pool: a hop to a worker thread and
    back, which on a busy machine means waiting to be scheduled twice and costs
    more than the read itself (GET one load balancer: three queries on SQLite).
    On SQLite a read is a WAL snapshot that no writer holds up
    (``Database.read``), in this process's file, so it runs here and the answer
    goes out without a hop. On PostgreSQL a read waits on the network: it keeps
    its worker thread, so one slow query never stalls the other requests.
    """
    if env.db.is_sqlite:
        return answer()
    return await run_in_threadpool(answer)


def json_answer(content: dict[str, Any], status_code: int = 200) -> JSONResponse:
    """An answer made of JSON values already (the services shape every field as
    Octavia prints it: text, numbers, booleans, lists, ``None``), sent as it is.

    A handler that returns a ``dict`` is answered through its return annotation:
    FastAPI validates the value against ``dict[str, Any]``, serialises it and walks
    it with ``jsonable_encoder`` before ``json.dumps``; on a list of 500 load
    balancers that walk is a good part of the answer's time, for nothing."""
    return JSONResponse(content, status_code)


# Parameter types for handlers: ``def handler(env: Services, ctx: Ctx, ...)``.
Ctx = Annotated[RequestContext, Depends(admit)]
JsonBody = Annotated[Any, Depends(read_json_body)]
Services = Annotated[Env, Depends(get_env)]
