"""``Database.read``: on SQLite a read takes no write lock, so a GET never waits
behind a writer's transaction, and a read-only unit refuses to write."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from hydria.db.engine import Database
from hydria.db.models import Base, Subnet


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'h.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_a_read_does_not_wait_for_an_open_write(db: Database) -> None:
    with db.session() as session:
        session.execute(text("CREATE TABLE t (a INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as session:  # BEGIN IMMEDIATE: holds the write lock
            session.execute(text("INSERT INTO t VALUES (2)"))
            writing.set()
            done.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(30)
        # the writer holds the file's write lock and this process's turn: a read
        # still answers, from the last committed snapshot
        with db.read() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        done.set()
        thread.join(30)
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_read_only_unit_refuses_to_write(db: Database) -> None:
    with pytest.raises(RuntimeError, match="read-only"), db.read() as session:
        session.add(Subnet(id="s1", name="s", cidr="10.0.0.0/24"))
    with db.read() as session:
        assert session.get(Subnet, "s1") is None


def test_a_lone_read_opens_no_transaction_and_does_not_wait_for_a_write(db: Database) -> None:
    with db.session() as session:
        session.execute(text("CREATE TABLE t (a INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    sent: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            writing.set()
            done.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(30)
        sent.clear()
        count = text("SELECT count(*) FROM t")
        assert [tuple(r) for r in db.lone_read(count, {})] == [(1,)]
        assert [tuple(r) for r in db.lone_read(count, {})] == [(1,)]
        assert sent == ["SELECT count(*) FROM t"] * 2  # no BEGIN, no COMMIT
    finally:
        done.set()
        thread.join(30)
    assert [tuple(r) for r in db.lone_read(count, {})] == [(2,)]
    assert not db.lone_reads_may_wait  # SQLite: the API may read it on its event loop
