"""Alembic migrations on both databases: from empty, and from the first
schema with data in it, which every later revision must carry over."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hydria.db.engine import Database
from hydria.db.migrate import current, upgrade
from hydria.db.models import Base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path):
    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    db = Database(url)
    yield db
    db.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from hydria.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def test_upgrade_from_empty_matches_the_models(empty_db: Database):
    upgrade(empty_db)
    assert current(empty_db) == _head()
    tables = set(sa.inspect(empty_db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    upgrade(empty_db)  # again: nothing to do
    assert current(empty_db) == _head()


def test_upgrade_from_the_first_schema_keeps_the_data(empty_db: Database):
    upgrade(empty_db, "0001")
    with empty_db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO load_balancers (id, project_id, name, admin_state_up, "
                "provisioning_status, operating_status, topology, provider, tags, generation, "
                "applied_generation, attempts, created_at) VALUES ('lb-1', 'p', 'kept', true, "
                "'ACTIVE', 'ONLINE', 'SINGLE', 'amphora', '[]', 3, 3, 0, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO amphora_health (amphora_id, last_update, seq, busy) "
                "VALUES ('amp-1', CURRENT_TIMESTAMP, 7, false)"
            )
        )
    upgrade(empty_db)
    assert current(empty_db) == _head()
    with empty_db.engine.connect() as conn:
        lb = conn.execute(
            sa.text("SELECT name, generation FROM load_balancers WHERE id = 'lb-1'")
        ).one()
        seq = conn.execute(
            sa.text("SELECT seq FROM amphora_health WHERE amphora_id = 'amp-1'")
        ).scalar()
        # tables of later revisions are there and usable
        conn.execute(sa.text("SELECT count(*) FROM listener_statistics")).scalar()
        conn.execute(sa.text("SELECT count(*) FROM alarms")).scalar()
        for table in (
            "quotas",
            "flavor_profiles",
            "flavors",
            "availability_zone_profiles",
            "availability_zones",
        ):
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
    assert tuple(lb) == ("kept", 3) and seq == 7


def test_migrations_and_models_agree(empty_db: Database):
    """A model change without its migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
