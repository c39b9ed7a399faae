"""Which database errors a starting service waits out, and which stop it at once,
with real connection attempts."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hydria.db.availability import database_away


def _error(url: str) -> DBAPIError:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except DBAPIError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{url} connected")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_does_not_answer_is_waited_for():
    assert database_away(_error(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x"))


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_not():
    assert not database_away(
        _error("postgresql+psycopg://postgres@127.0.0.1:5432/hydria_no_such_database")
    )


def test_an_unopenable_sqlite_file_is_not(tmp_path):
    assert not database_away(_error(f"sqlite:///{tmp_path}/missing/folder/hydria.db"))


@pytest.mark.postgres
def test_a_server_shutting_down_is_waited_for(pg_url: str):
    """57P01 (admin_shutdown) as a live session sees it when its backend is ended."""
    url = pg_url.replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            with pytest.raises(DBAPIError) as info:
                conn.execute(sa.text("SELECT 1"))
        assert database_away(info.value)
    finally:
        engine.dispose()
        admin.dispose()


@pytest.mark.parametrize(
    ("sqlstate", "away"),
    [
        ("57P01", True),  # admin_shutdown: the server is stopping
        ("57P03", True),  # cannot_connect_now: starting up or in recovery
        ("08006", True),  # connection_failure
        ("3D000", False),  # invalid_catalog_name: no such database
        ("28000", False),  # invalid_authorization_specification
        ("42P01", False),  # undefined_table: a bug, not an outage
    ],
)
def test_sqlstates_of_a_live_session(sqlstate: str, away: bool):
    import psycopg.errors

    orig = psycopg.errors.lookup(sqlstate)("from the server")
    assert orig.sqlstate == sqlstate
    exc = sa.exc.OperationalError("SELECT 1", {}, orig)
    assert not exc.connection_invalidated
    assert database_away(exc) is away


@pytest.mark.parametrize(
    ("fatal", "away"),
    [
        ("the database system is starting up", True),
        ("the database system is not accepting connections", True),
        ("the database system is shutting down", True),
        ("sorry, too many clients already", True),
        ('database "x" does not exist', False),
        ('role "x" does not exist', False),
    ],
)
def test_fatals_at_connect(fatal: str, away: bool):
    import psycopg

    orig = psycopg.OperationalError(
        f'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  {fatal}'
    )
    assert database_away(sa.exc.OperationalError("connect", {}, orig)) is away
