"""``hydria db``: schema management."""

from __future__ import annotations

from pathlib import Path

import click

from hydria.cli import wiring
from hydria.cli.options import common_options, settings_from


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@common_options
def upgrade(state_dir: Path | None, database_url: str | None, verbose: bool) -> None:
    """Bring the schema to the newest revision (SQLite or PostgreSQL)."""
    from hydria.db.migrate import current

    settings = settings_from(state_dir, database_url)
    database = wiring.database(settings, migrate=True)
    click.echo(f"schema at revision {current(database)}")
