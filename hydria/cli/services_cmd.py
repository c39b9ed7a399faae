"""One command per service, for split deployments against one database."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from hydria.cli import wiring
from hydria.cli.options import api_options, common_options, settings_from


@click.command()
@common_options
@api_options
def api(
    state_dir: Path | None, database_url: str | None, verbose: bool, api_overrides: dict[str, Any]
) -> None:
    """Serve the Octavia v2 API."""
    import uvicorn

    from hydria.db.notify import notifier_for
    from hydria.db.settle import settle_feed_for

    settings = settings_from(state_dir, database_url, **api_overrides)
    wiring.setup_logging(verbose)
    wiring.check_api_settings(settings)
    db = wiring.database(settings)
    # on PostgreSQL, NOTIFY wakes the controllers at once (otherwise they poll), and
    # their NOTIFY hydria_settled answers a GET waiting on a pending object
    app = wiring.api_app(
        settings, db, notifier_for(settings.db_url), settle=settle_feed_for(settings.db_url)
    )
    uvicorn.run(app, **wiring.uvicorn_options(settings))


@click.command()
@common_options
def controller(state_dir: Path | None, database_url: str | None, verbose: bool) -> None:
    """Converge load balancers: claim PENDING work, build amphorae, push configs."""
    settings = settings_from(state_dir, database_url)
    wiring.setup_logging(verbose)
    wiring.require_pki(settings, "controller")
    db = wiring.database(settings)
    notifier = None
    if settings.db_url.startswith("postgresql"):
        from hydria.db.notify import PostgresListener

        notifier = PostgresListener(settings.db_url)
    from hydria.db.settle import settle_signal_for

    loop = wiring.controller_loop(
        settings, db, notifier=notifier, settle=settle_signal_for(settings.db_url)
    )
    wiring.start_metrics(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    loop.run(stop)
