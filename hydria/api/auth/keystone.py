"""Keystone tokens, validated by keystonemiddleware's ``auth_token`` as Octavia does.

``auth_token.AuthProtocol`` is WSGI middleware; Hydria's API is ASGI. Rather
than re-implement token validation, ``KeystoneAuth`` (ASGI middleware) hands
each request's headers to a real ``AuthProtocol`` in a worker thread (it may
call Keystone, so it never runs on the event loop), in a WSGI environ built
from the ASGI scope. ``AuthProtocol`` either answers itself (401 with
``WWW-Authenticate: Keystone uri='...'`` for a missing, bad, expired or
revoked token: that answer goes back to the client unchanged, as from
Octavia) or calls the tiny WSGI app behind it with the identity headers it
set from the validated token (it strips any the client sent). Those become an
``Identity`` in the ASGI scope (``scope["hydria.identity"]``), which the
policy door (``hydria.api.auth.door``) turns into the request context.

What ``auth_token`` concluded of a token (accepted: the identity; refused:
its 401) is remembered for ``HYDRIA_KEYSTONE_TOKEN_CACHE_SECONDS`` by
``hydria.api.auth.token_memo`` in place of ``auth_token``'s own cache (whose
hits cost milliseconds), so a warm token costs neither a call to Keystone nor a
pass through ``auth_token``; a token revoked in Keystone is refused once its
entry lapses (as in Octavia with the same ``token_cache_time``), an expired
one at once. Version documents (``/``), ``/healthcheck`` and ``/metrics`` need no
token, as Octavia skips ``/`` and its health check.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from keystoneauth1 import loading
from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_context import context as oslo_context
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hydria.api.auth.token_memo import TokenMemo, token_expiry
from hydria.config import Settings

log = logging.getLogger(__name__)

GROUP = "keystone_authtoken"
SCOPE_KEY = "hydria.identity"
NO_TOKEN_PATHS = frozenset({"/", "/healthcheck", "/metrics"})


@dataclass(frozen=True)
class Identity:
    """Who a validated token says the caller is, as oslo.policy reads it."""

    project_id: str | None
    user_id: str | None
    roles: tuple[str, ...]
    system_scope: str | None
    domain_id: str | None
    credentials: Mapping[str, Any] = field(repr=False)


def identity_from_environ(environ: dict[str, Any]) -> Identity:
    """The identity ``auth_token`` put in the environ (oslo.context, as Octavia reads it)."""
    ctx = oslo_context.RequestContext.from_environ(environ)
    creds = ctx.to_policy_values()
    return Identity(
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        roles=tuple(ctx.roles or ()),
        system_scope=ctx.system_scope,
        domain_id=ctx.domain_id,
        credentials=dict(creds),
    )


def auth_protocol(settings: Settings, app: Callable[..., Iterable[bytes]]) -> Any:
    """A real ``auth_token.AuthProtocol`` configured from Hydria's settings."""
    conf = cfg.ConfigOpts()
    conf([], project="hydria", default_config_files=[], default_config_dirs=[])
    loading.register_auth_conf_options(conf, GROUP)
    conf.register_opts(loading.get_auth_plugin_conf_options("password"), group=GROUP)
    for name, value in {"auth_type": "password", **settings.service_user.password_auth()}.items():
        conf.set_override(name, value, group=GROUP)
    return auth_token.AuthProtocol(
        app,
        {
            "oslo_config_config": conf,
            "www_authenticate_uri": settings.keystone_url,
            # off: KeystoneAuth's TokenMemo is the one cache (same lifetime)
            "token_cache_time": -1,
            "service_type": "load-balancer",
            "interface": "public",
            "include_service_catalog": False,
        },
    )


class _Outcome:
    """What one pass through ``AuthProtocol`` ended with."""

    def __init__(self) -> None:
        self.environ: dict[str, Any] | None = None  # set when the token was accepted
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""


def _accepted(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    environ["hydria.outcome"].environ = environ
    start_response("204 No Content", [])
    return []


def wsgi_environ(scope: Scope) -> dict[str, Any]:
    """Enough of a WSGI environ for ``auth_token``: method, path, headers, no body."""
    server = scope.get("server") or ("127.0.0.1", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
            continue
        key = "HTTP_" + name
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _token_of(scope: Scope) -> str | None:
    """The request's one ``X-Auth-Token``; None when there is none, several, or a
    service token too (those always go through ``auth_token``)."""
    tokens = []
    for name, value in scope.get("headers", ()):
        lowered = name.lower()
        if lowered == b"x-service-token":
            return None
        if lowered == b"x-auth-token":
            tokens.append(bytes(value))
    if len(tokens) != 1 or not tokens[0]:
        return None
    return tokens[0].decode("latin-1")


class KeystoneAuth:
    """ASGI middleware: a request goes on only with a token Keystone validated."""

    def __init__(self, app: ASGIApp, settings: Settings, *, protocol: Any | None = None) -> None:
        self.app = app
        self._protocol = protocol if protocol is not None else auth_protocol(settings, _accepted)
        self._memo: TokenMemo[Identity | _Outcome] = TokenMemo(
            settings.keystone_token_cache_seconds
        )

    def _validate(self, environ: dict[str, Any]) -> _Outcome:
        outcome = _Outcome()
        environ["hydria.outcome"] = outcome

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            outcome.status = int(status.split(" ", 1)[0])
            outcome.headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
            ]

        body = self._protocol(environ, start_response)
        try:
            outcome.body = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        return outcome

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in NO_TOKEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = _token_of(scope)
        known = None if token is None else self._memo.get(token)
        if isinstance(known, Identity):
            scope[SCOPE_KEY] = known
            await self.app(scope, receive, send)
            return
        if isinstance(known, _Outcome):
            await self._refuse(scope, send, known)
            return
        outcome = await anyio.to_thread.run_sync(self._validate, wsgi_environ(scope))
        if outcome.environ is not None:
            identity = identity_from_environ(outcome.environ)
            if token is not None:
                self._memo.put(token, identity, expires_at=token_expiry(outcome.environ))
            scope[SCOPE_KEY] = identity
            await self.app(scope, receive, send)
            return
        if token is not None and outcome.status == 401:  # not a Keystone outage (503)
            self._memo.put(token, outcome)
        await self._refuse(scope, send, outcome)

    async def _refuse(self, scope: Scope, send: Send, outcome: _Outcome) -> None:
        """``auth_token``'s own answer (401 and its ``WWW-Authenticate``), unchanged."""
        # %r: a path is the caller's text (decoded %0d%0a would start a forged log line)
        log.info(
            "event=api_unauthenticated method=%s path=%r status=%s",
            scope["method"],
            scope["path"],
            outcome.status,
        )
        headers = [h for h in outcome.headers if h[0] != b"content-length"]
        headers.append((b"content-length", str(len(outcome.body)).encode()))
        start: Message = {
            "type": "http.response.start",
            "status": outcome.status,
            "headers": headers,
        }
        await send(start)
        await send({"type": "http.response.body", "body": outcome.body})
