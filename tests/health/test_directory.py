"""The amphora directory reloads only when the amphora table moved (a fingerprint
query), a new amphora is known within a refresh, a deleted one is forgotten, and a
flood of unknown ids costs no reloads."""

from __future__ import annotations

import threading

from sqlalchemy import update

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.health.directory import AmphoraDirectory
from hydria.health.seqs import SeqTracker
from tests.health.conftest import MGMT_IP, make_fleet, wait_until


def test_reloads_only_when_the_table_moved(sqlite_db: Database) -> None:
    first = make_fleet(sqlite_db)
    directory = AmphoraDirectory(sqlite_db, SeqTracker())
    assert directory.refresh_if_changed()  # never loaded: loads
    assert directory.address(first.amphora) == MGMT_IP
    for _ in range(5):
        assert not directory.refresh_if_changed()
    assert directory.reloads == 1
    second = make_fleet(sqlite_db)  # a new amphora row
    assert directory.refresh_if_changed()
    assert directory.address(second.amphora) == MGMT_IP
    with sqlite_db.session() as s:  # an amphora deleted: its row changes
        s.execute(update(m.Amphora).where(m.Amphora.id == first.amphora).values(status=c.DELETED))
    assert directory.refresh_if_changed()
    assert directory.address(first.amphora) is None
    with sqlite_db.session() as s:  # a purged row: the count moves
        s.query(m.AmphoraHealth).filter_by(amphora_id=first.amphora).delete()
        s.query(m.Amphora).filter_by(id=first.amphora).delete()
    assert directory.refresh_if_changed()
    assert not directory.refresh_if_changed()


def test_the_thread_finds_new_amphorae_and_ignores_made_up_ids(sqlite_db: Database) -> None:
    directory = AmphoraDirectory(sqlite_db, SeqTracker(), refresh_interval=0.05, min_gap=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=directory.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: directory.reloads >= 1, what="first load")
        fleet = make_fleet(sqlite_db)
        directory.wake()
        wait_until(lambda: directory.address(fleet.amphora) == MGMT_IP, what="new amphora")
        reloads = directory.reloads
        for _ in range(200):  # packets with made-up ids wake it: nothing moved
            directory.wake()
            threading.Event().wait(0.001)
        assert directory.reloads == reloads
    finally:
        stop.set()
        directory.wake()
        thread.join(timeout=10)
    assert not thread.is_alive()
