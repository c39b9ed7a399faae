"""Schema upgrades with Alembic, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hydria.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# any constant: every Hydria process that starts against one PostgreSQL takes it
_MIGRATION_LOCK = 0x4879647269610001


def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade in one transaction; on PostgreSQL under an advisory lock, so several
    processes starting at once on an empty database migrate it exactly once."""
    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
