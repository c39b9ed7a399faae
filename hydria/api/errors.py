"""The one place where failures become HTTP answers.

Every error answer has Octavia's body::

    {"faultcode": "Client" | "Server", "faultstring": "...", "debuginfo": null}

Mapping, in order of precedence:

- ``hydria.core.errors.APIError`` and its subclasses: their own status code
  (400 InvalidInput, 403 NotAuthorized, 404 NotFound, 409 Conflict /
  ImmutableObject, 413 PayloadTooLarge, 503 ServiceUnavailable with
  ``Retry-After``).
- Starlette's own HTTP errors (unknown path 404, wrong method 405).
- Two answers have pecan's body instead, ``{"code", "title", "description"}``,
  because Octavia gives them while routing, before any of its WSME controllers
  runs: an unknown path (``{"code": 404, "title": "Not Found", "description":
  ""}``), a method a path does not have (405, the same), a child of a missing parent (``ParentNotFound``: a pool's members, an
  L7 policy's rules) and a bad ``limit`` or sort direction (``InvalidPaging``),
  each as Octavia 19 answers it (checked against a running one).
- ``sqlalchemy.exc.OperationalError`` (the database is gone or locked for
  too long): 503 with ``Retry-After``, so clients retry instead of failing.
- Under ``/v1``, ``/secrets`` and ``/containers`` (the embedded secret store,
  Barbican's API) the same failures get Barbican's body instead, ``{"code":
  404, "title": "Not Found", "description": "..."}``, which its clients read.
- Anything else is a bug: the traceback is logged and the caller gets a
  ``Server`` fault with 500. Tests assert this never happens.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hydria.core.errors import APIError, ServiceUnavailable
from hydria.core.secrets import SecretStoreUnavailable

log = logging.getLogger(__name__)

DB_RETRY_AFTER = 5


def fault(
    status: int, faultcode: str, faultstring: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"faultcode": faultcode, "faultstring": faultstring, "debuginfo": None}
    return JSONResponse(body, status_code=status, headers=headers)


def code_title_fault(
    status: int,
    description: str | None,
    headers: dict[str, str] | None = None,
    *,
    title: str | None = None,
) -> JSONResponse:
    """The ``{"code", "title", "description"}`` body (pecan's, and Barbican's)."""
    if title is None:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
    body = {"code": status, "title": title, "description": description}
    return JSONResponse(body, status_code=status, headers=headers)


def barbican_fault(
    status: int, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return code_title_fault(status, description, headers)


def is_barbican(request: Request) -> bool:
    """A request to the embedded secret store (Barbican's ``/v1``)."""
    path = request.url.path
    return path == "/v1" or path.startswith(("/v1/", "/secrets", "/containers"))


def answer(
    request: Request, status: int, faultcode: str, text: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    if is_barbican(request):
        return barbican_fault(status, text, headers)
    return fault(status, faultcode, text, headers)


def api_error_response(exc: APIError, request: Request | None = None) -> JSONResponse:
    headers = None
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
    if request is not None:
        if exc.before_controllers and not is_barbican(request):
            # Octavia's API exceptions all keep webob's client-error title
            return code_title_fault(exc.status_code, exc.message, title="Bad Request")
        return answer(request, exc.status_code, exc.faultcode, exc.message, headers)
    return fault(exc.status_code, exc.faultcode, exc.message, headers)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    log.info(
        "event=api_refused method=%s path=%r status=%s reason=%r",
        request.method,
        request.url.path,
        exc.status_code,
        exc.message,
    )
    return api_error_response(exc, request)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (404, 405) and not is_barbican(request):
        # pecan's answer for a path it cannot route, or a method it has no handler for
        return code_title_fault(exc.status_code, "", dict(exc.headers or {}) or None)
    if exc.status_code == 404:
        text = "The resource could not be found."
    elif exc.status_code == 405:
        text = f"The method {request.method} is not allowed for this resource."
    else:
        text = str(exc.detail)
    code = "Client" if exc.status_code < 500 else "Server"
    return answer(request, exc.status_code, code, text, dict(exc.headers or {}) or None)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    # Only path or query parameters reach this: bodies are validated by hand.
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
        parts.append(f"{loc}: {err.get('msg')}")
    return answer(request, 400, "Client", "Invalid input: " + "; ".join(parts))


async def _on_db_gone(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "event=db_unavailable method=%s path=%r error=%s", request.method, request.url.path, exc
    )
    return api_error_response(
        ServiceUnavailable(
            "The database is unavailable; try again shortly.", retry_after=DB_RETRY_AFTER
        ),
        request,
    )


async def _on_store_gone(request: Request, exc: Exception) -> JSONResponse:
    # a Barbican that does not answer, or a payload this deployment's key cannot open:
    # nothing the caller did wrong, and nothing to show of the material
    log.error(
        "event=secret_store_unavailable method=%s path=%r error=%s",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return api_error_response(
        ServiceUnavailable(
            "The secret store is unavailable; try again shortly.", retry_after=DB_RETRY_AFTER
        ),
        request,
    )


async def _on_bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("event=api_internal_error method=%s path=%r", request.method, request.url.path)
    return answer(request, 500, "Server", "Internal server error. The failure was logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(OperationalError, _on_db_gone)
    app.add_exception_handler(SecretStoreUnavailable, _on_store_gone)
    app.add_exception_handler(Exception, _on_bug)
