"""The API app for one test, with the routes built once per test process.

``create_app`` is cheap, but the app's first request is not: FastAPI builds
every included route's handler (its dependency graph, from the signatures)
lazily, about 50 ms of CPU per app, a quarter of an average API test. So
``lend`` still runs ``create_app`` for every test, as production does, and
then hands out an app of the same shape that has already served, with the new
app's state (the test's database, notifier, settings, guard) moved into it.
Handlers reach that state only through ``request.app.state``
(``hydria.api.deps``), never through the routes, so the test sees what a
fresh app would show it.

Two apps are of the same shape when their routes, middleware and error
handlers are the same objects; an app with middleware options (Keystone's
authenticator takes the settings) is never shared. An app is lent to one test
at a time and given back at its end.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

_idle: dict[tuple[Any, ...], list[FastAPI]] = {}
_lent: dict[int, tuple[tuple[Any, ...], FastAPI]] = {}


def _shape(app: FastAPI) -> tuple[Any, ...] | None:
    if app.dependency_overrides or any(m.args or m.kwargs for m in app.user_middleware):
        return None
    routes = tuple(
        (
            type(route).__name__,
            getattr(route, "path", None),
            id(getattr(route, "original_router", None)),
            getattr(getattr(route, "include_context", None), "prefix", None),
            getattr(getattr(route, "include_context", None), "include_in_schema", None),
        )
        for route in app.router.routes
    )
    middleware = tuple(m.cls for m in app.user_middleware)
    handlers = tuple(app.exception_handlers.items())
    return (routes, middleware, handlers, tuple(app.router.dependencies))


def lend(fresh: FastAPI) -> FastAPI:
    """An app that has already served, with ``fresh``'s state; ``fresh`` if none is idle."""
    shape = _shape(fresh)
    if shape is None:
        return fresh
    idle = _idle.setdefault(shape, [])
    app = idle.pop() if idle else fresh
    app.state = fresh.state
    _lent[id(app)] = (shape, app)
    return app


def give_back(app: FastAPI) -> None:
    """The test is over: ``app`` may serve the next one."""
    entry = _lent.pop(id(app), None)
    if entry is not None:
        shape, app = entry
        _idle[shape].append(app)
