"""Which database errors a starting service waits out, and which stop it at once,
with real connection attempts."""

from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hydria.db.availability import database_away

pytestmark = pytest.mark.postgres


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


def test_a_database_that_does_not_exist_is_not():
    assert not database_away(_error("postgresql+psycopg://postgres@127.0.0.1:5432/"
                                    "hydria_no_such_database"))


def test_an_unopenable_sqlite_file_is_not(tmp_path):
    assert not database_away(_error(f"sqlite:///{tmp_path}/missing/folder/hydria.db"))


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
