"""What every handler needs, injected once: services, caller and body.

``create_app`` stores the Database, Notifier and Settings on ``app.state``;
handlers reach them through these small dependencies, never through globals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from hydria.api.auth.context import RequestContext
from hydria.api.auth.door import admit
from hydria.api.jsonbody import decode
from hydria.config import Settings
from hydria.core.errors import APIError, InvalidInput, PayloadTooLarge
from hydria.db.engine import Database
from hydria.db.notify import Notifier


class UnsupportedMediaType(APIError):
    status_code = 415
    faultcode = "Client"


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_notifier(request: Request) -> Notifier:
    notifier: Notifier = request.app.state.notifier
    return notifier


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


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
            "The request body must be JSON (Content-Type: application/json).")
    if not raw.strip():
        raise InvalidInput("The request body is empty; a JSON object is required.")
    return decode(raw)


# Parameter types for handlers: ``def handler(db: DB, ctx: Ctx, ...)``.
DB = Annotated[Database, Depends(get_db)]
Notify = Annotated[Notifier, Depends(get_notifier)]
Ctx = Annotated[RequestContext, Depends(admit)]
Config = Annotated[Settings, Depends(get_settings)]
JsonBody = Annotated[Any, Depends(read_json_body)]
