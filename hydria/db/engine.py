"""Engines and sessions for the embedded SQLite and for PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the API threads and the
controller can share one file; foreign keys are switched on as PostgreSQL has
them. Everything else is dialect-neutral SQLAlchemy. The SQLite file is
created 0600 (tightened if it was looser).

On SQLite every transaction takes the file's write lock at ``BEGIN
IMMEDIATE``, so transactions run one at a time anyway. Left to SQLite, the
threads of one process that wait for it poll: its busy handler sleeps 1, 2, 5
... up to 100 ms between tries, so under a burst a waiter sleeps past many
free moments and a short, periodic transaction (a lease renewal) can lose the
race again and again. ``Database.session`` therefore queues the threads of
this process on a lock of their own first: a waiter is woken the moment the
lock is free, and SQLite's busy timeout is left for other processes.

Reads do not queue. ``Database.read`` opens a read-only unit: on SQLite a
deferred ``BEGIN``, which in WAL mode reads a snapshot and takes no lock a
writer waits for, outside the turn lock; so an API answering GETs (a client
polling for ACTIVE, a list of 500) neither waits behind the controller's
writes nor makes them wait. A flush inside it is a bug and raises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hydria.core.private_files import create_private

_READ_ONLY = "hydria_read_only"


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only session (Database.read) was asked to write")


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None and path.parent.is_dir():
            # created 0600 before SQLite opens it: its -wal, -shm and -journal
            # files take the database's mode
            create_private(path)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite would begin transactions itself; SQLAlchemy's BEGIN IMMEDIATE does.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # Take the write lock at BEGIN, not at the first write: otherwise two
        # read-then-write transactions deadlock into "database is locked".
        # A read-only unit (``Database.read``) begins deferred: a WAL snapshot, no lock.
        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read_only = conn.get_execution_options().get(_READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


class Database:
    """The one handle services get: an engine and a session factory."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )
        event.listen(self._reads, "before_flush", _refuse_flush)
        # SQLite: this process's threads take turns here rather than in SQLite's
        # sleeping busy handler (see the module docstring); re-entrant, since a
        # nested session in one thread must fail as it would without it
        self._turn = threading.RLock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        if self._turn is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        with self._turn, self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work: one snapshot, no write lock, no turn (SQLite)."""
        with self._reads() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def rows_matched(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows its WHERE matched.

    Conditional updates are how Hydria claims and moves things (a lease, a
    status transition), and the count says who won. ``Session.execute`` is typed
    to return a plain ``Result``; for these statements it is the
    ``CursorResult`` that counts.
    """
    result = session.execute(statement)
    assert isinstance(result, CursorResult), "rows_matched runs UPDATE or DELETE statements"
    return result.rowcount
