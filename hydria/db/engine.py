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

A read that is one statement needs no transaction at all: a statement reads
one snapshot by itself on SQLite and PostgreSQL alike. ``Database.lone_read``
runs it with no ``BEGIN`` and no ``COMMIT`` (no ORM session either). On SQLite
it uses a connection the calling thread keeps for it, outside the pool, so it
never waits for a pooled connection; a WAL read takes no lock a writer holds,
so such a read may run on the API's event loop (``lone_reads_may_wait``: not
on PostgreSQL, whose answer comes over the network). On PostgreSQL it takes a
pooled connection in autocommit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hydria.core.private_files import create_private

_READ_ONLY = "hydria_read_only"
_LONE = "hydria_lone_read"  # one statement, no transaction (``Database.lone_read``)


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
            options = conn.get_execution_options()
            if options.get(_LONE, False):
                return  # pysqlite left in autocommit: each statement is its own snapshot
            read_only = options.get(_READ_ONLY, False)
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
        # lone reads: on SQLite a connection per calling thread, kept (see ``lone_read``)
        self._lone = self.engine.execution_options(
            **({_LONE: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self._kept = threading.local()
        self._kept_all: list[Connection] = []
        self._kept_lock = threading.Lock()

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

    @property
    def lone_reads_may_wait(self) -> bool:
        """May ``lone_read`` wait on something else than the CPU (the network)?"""
        return not self.is_sqlite

    def lone_read(self, statement: Executable, params: dict[str, Any]) -> list[Row[Any]]:
        """The rows of one SELECT, read in no transaction (see the module docstring)."""
        if not self.is_sqlite:
            with self._lone.connect() as pooled:
                return list(pooled.execute(statement, params).all())
        conn: Connection | None = getattr(self._kept, "conn", None)
        if conn is None or conn.closed:
            conn = self._lone.connect()
            with self._kept_lock:
                self._kept_all.append(conn)
            self._kept.conn = conn
        # ``all`` reads to the end: the statement's snapshot ends with it
        return list(conn.execute(statement, params).all())

    def dispose(self) -> None:
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for conn in kept:
            conn.close()
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
