"""The Octavia v2 API as a FastAPI application.

``create_app(db, notifier, settings)`` wires everything once: services go on
``app.state`` (handlers get them through ``hydria.api.deps``), every resource
router is mounted under both ``/v2`` and ``/v2.0`` (Octavia serves both), the
Neutron-compatible read API sits under ``/v2.0`` (and ``/v2``) next to it,
Keystone's project look-ups are refused (``routes/identity.py``, for the CLI),
the embedded secret store serves Barbican's ``/v1`` (``routes/secrets.py``),
every route passes the policy door (``hydria.api.auth.door``: the caller, from
a Keystone token validated by ``hydria.api.auth.keystone`` or noauth's headers,
and Octavia's rule for the route),
and ``hydria.api.errors`` turns every failure into Octavia's fault body
(``hydria.api.requestline`` refuses a NUL in the URL before routing;
``hydria.api.request_metrics`` counts every request for ``GET /metrics``).
"""

from __future__ import annotations

from typing import Protocol

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from hydria.api import errors, openapi
from hydria.api.auth import safety
from hydria.api.auth.door import KEYSTONE, Guard, admit
from hydria.api.auth.keystone import KeystoneAuth
from hydria.api.request_metrics import RequestMetrics
from hydria.api.requestline import RefuseNul
from hydria.api.routes import (
    alarms,
    amphorae,
    catalog,
    healthmonitors,
    identity,
    l7policies,
    lb_actions,
    listeners,
    loadbalancers,
    members,
    metrics,
    neutron,
    pools,
    providers,
    quotas,
    root,
    secrets,
)
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.notify import Notifier
from hydria.db.settle import SettleWatch
from hydria.services.tls import SecretReader
from hydria.services.unit import Env

PREFIXES = ("/v2", "/v2.0")
RESOURCE_ROUTERS = (
    loadbalancers.router,
    listeners.router,
    pools.router,
    members.router,
    healthmonitors.router,
    l7policies.router,
    neutron.router,
    lb_actions.router,
    amphorae.router,
    alarms.router,
    providers.router,
    quotas.router,
    catalog.flavors,
    catalog.availability_zones,
)


class Authenticator(Protocol):
    """ASGI middleware that puts the caller's ``Identity`` in the scope."""

    def __call__(self, app: ASGIApp, /, settings: Settings) -> ASGIApp: ...


def create_app(
    db: Database,
    notifier: Notifier,
    settings: Settings,
    *,
    authenticator: Authenticator = KeystoneAuth,
    secret_store: SecretReader | None = None,
    settle: SettleWatch | None = None,
) -> FastAPI:
    """The API; under Keystone, ``authenticator`` (ASGI middleware taking ``settings``)
    puts the caller's ``Identity`` in the scope: ``KeystoneAuth`` but in tests.
    ``settle``: what a GET of a pending object waits on (``hydria.api.settle``)."""
    safety.check(settings)
    # Every route runs the policy door first (``hydria.api.auth.door``).
    # FastAPI's OpenAPI document at /openapi.json (bodies: hydria.api.openapi); no docs UI
    app = FastAPI(
        title="Hydria",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=openapi.operation_id,
        dependencies=[Depends(admit)],
    )
    app.state.env = Env(
        db=db, notifier=notifier, settings=settings, secrets=secret_store, settle=settle
    )
    app.state.guard = Guard(settings)
    errors.install(app)
    if settings.auth_strategy == KEYSTONE:
        app.add_middleware(authenticator, settings=settings)
    app.add_middleware(RefuseNul)
    app.add_middleware(RequestMetrics)  # added last: outermost, so it sees every answer
    app.include_router(root.router)
    app.include_router(metrics.router)
    app.include_router(identity.router)
    # Octavia's routes first: Starlette tries routes in order, and the Octavia API
    # is what is called most (no path of one is a path of the other)
    for prefix in PREFIXES:
        for router in RESOURCE_ROUTERS:
            app.include_router(router, prefix=prefix)
    app.include_router(secrets.versions)  # the embedded secret store, Barbican's /v1
    for prefix in secrets.PREFIXES:
        # one copy in the OpenAPI document: the /v1 one (the bare one is for clients
        # that take the endpoint as given)
        app.include_router(secrets.router, prefix=prefix, include_in_schema=prefix == "/v1")
    return app
