"""``hydria housekeeping``: orphan amphorae, leaked addresses, expired rows."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from hydria.cli import wiring
from hydria.cli.options import common_options, settings_from


@click.command()
@common_options
@click.option("--once", is_flag=True, help="Sweep once and print what was removed.")
def housekeeping(
    state_dir: Path | None, database_url: str | None, verbose: bool, once: bool
) -> None:
    """Collect orphan amphorae and leaked addresses; purge expired DELETED rows."""
    from hydria.db.settle import settle_feed_for

    settings = settings_from(state_dir, database_url)
    wiring.setup_logging(verbose)
    wiring.require_pki(settings, "housekeeping")
    db = wiring.database(settings)
    if once:
        keeper = wiring.housekeeper(settings, db)
        click.echo(" ".join(f"{k}={v}" for k, v in keeper.sweep_once().items()))
        return
    # on PostgreSQL a deferred spare refill wakes at the controllers' NOTIFY
    # hydria_settled; on SQLite (no signal across processes) it polls
    feed = settle_feed_for(settings.db_url) if settings.spare_amphora_pool_size > 0 else None
    keeper = wiring.housekeeper(settings, db, settle=feed)
    wiring.start_metrics(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        keeper.run(stop)
    finally:
        if feed is not None:
            feed.close()
