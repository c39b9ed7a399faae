"""Refusing NUL characters in the path and query, before any handler runs.

PostgreSQL cannot compare or store a text value that contains NUL (psycopg
raises DataError, which would surface as a 500), while SQLite takes it, so
``GET /lbaas/loadbalancers/%00`` or ``?name=%00`` would answer 404 or 200 on
one database and 500 on the other. As ``hydria.core.jsonbody`` does for bodies,
this middleware answers the same on every database: 404 for a path (no id or
name holds a NUL, so nothing there can be found) and 400 for a query.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hydria.api.errors import fault


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "\x00" in scope.get("path", ""):
                await fault(
                    404, "Client", "Resource not found: the path contains a NUL character."
                )(scope, receive, send)
                return
            if b"%00" in scope.get("query_string", b""):
                await fault(
                    400,
                    "Client",
                    "The query string contains a NUL character, which is not allowed.",
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)
