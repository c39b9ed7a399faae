"""The Octavia v2 API as a FastAPI application.

``create_app(db, notifier, settings)`` wires everything once: services go on
``app.state`` (handlers get them through ``hydria.api.deps``), every resource
router is mounted under both ``/v2`` and ``/v2.0`` (Octavia serves both), the
Neutron-compatible read API sits under ``/v2.0`` (and ``/v2``) next to it,
Keystone's project look-ups are refused (``routes/identity.py``, for the CLI),
and ``hydria.api.errors`` turns every failure into Octavia's fault body
(``hydria.api.requestline`` refuses a NUL in the URL before routing;
``hydria.api.request_metrics`` counts every request for ``GET /metrics``).
"""

from __future__ import annotations

from fastapi import FastAPI

from hydria.api import errors
from hydria.api.request_metrics import RequestMetrics
from hydria.api.requestline import RefuseNul
from hydria.api.routes import (
    alarms,
    amphorae,
    catalog,
    healthmonitors,
    identity,
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
)
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.notify import Notifier
from hydria.services.unit import Env

PREFIXES = ("/v2", "/v2.0")
RESOURCE_ROUTERS = (loadbalancers.router, listeners.router, pools.router, members.router,
                    healthmonitors.router, neutron.router, lb_actions.router,
                    amphorae.router, alarms.router, providers.router, quotas.router,
                    catalog.flavors, catalog.availability_zones)


def create_app(db: Database, notifier: Notifier, settings: Settings) -> FastAPI:
    app = FastAPI(title="Hydria", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.env = Env(db=db, notifier=notifier, settings=settings)
    errors.install(app)
    app.add_middleware(RefuseNul)
    app.add_middleware(RequestMetrics)  # added last: outermost, so it sees every answer
    app.include_router(root.router)
    app.include_router(metrics.router)
    app.include_router(identity.router)
    for prefix in PREFIXES:
        for router in RESOURCE_ROUTERS:
            app.include_router(router, prefix=prefix)
    return app
