"""Prometheus counters for the API: requests by method, route template and status,
and how long they took.

The route is the template (``/v2/lbaas/loadbalancers/{lb_id}``), never the path
itself, and a method outside HTTP's usual ones is ``OTHER``, so a scan of random
ids or invented methods cannot grow the label set without bound. A plain
ASGI middleware: it sees the status as the response starts and the route the
router chose, and adds no work to the request beyond two metric updates.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "hydria_api_requests", "API requests by method, route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "hydria_api_request_seconds",
    "Time the API took to answer, by method and route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)


# any other token is one label: a client inventing methods must not grow the set
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else "OTHER"


def route_template(scope: Scope) -> str:
    """``/lbaas/loadbalancers/{lb_id}``: one label for ``/v2`` and ``/v2.0`` alike
    (whether the router's template carries the mount prefix varies by FastAPI)."""
    route: Any = scope.get("route")
    template = str(getattr(route, "path", None) or "unmatched")
    for prefix in ("/v2.0/", "/v2/"):
        if template.startswith(prefix):
            return template[len(prefix) - 1 :]
    return template


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]  # what a client sees if the app raises before it answers

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method, route = method_label(scope), route_template(scope)
            REQUESTS.labels(method, route, str(status[0])).inc()
            REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)
