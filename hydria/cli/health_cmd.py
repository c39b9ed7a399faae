"""``hydria health``: the health manager on its own, for split deployments."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from hydria.cli import wiring
from hydria.cli.options import common_options, settings_from


@click.command()
@common_options
@click.option(
    "--bind",
    default=None,
    help="UDP address for heartbeats [default: 127.0.0.1:5555; env HYDRIA_HEALTH_BIND].",
)
def health(
    state_dir: Path | None, database_url: str | None, verbose: bool, bind: str | None
) -> None:
    """Receive amphora heartbeats, record status and statistics, detect failures."""
    settings = settings_from(state_dir, database_url, health_bind=bind)
    wiring.setup_logging(verbose)
    wiring.require_pki(settings, "health")
    db = wiring.database(settings)
    try:
        service = wiring.health_service(settings, db)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.health_bind}: {exc}") from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    wiring.start_metrics(settings)
    host, port = service.address
    click.echo(f"Hydria health manager listening on udp {host}:{port}")
    try:
        service.run(stop)
    finally:
        db.dispose()
