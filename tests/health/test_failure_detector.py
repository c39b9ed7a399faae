"""The failure detector on real SQLite and PostgreSQL: what it marks, once."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from hydria.core import constants as c
from hydria.db import amphorae as amp_db
from hydria.db import leases
from hydria.db import models as m
from hydria.db.alarms import alarms
from hydria.db.models import utcnow
from hydria.health import failure_detector as fd
from tests.support.factories import make_lb
from tests.support.wait import wait_for

TIMEOUT = 3.0
LONG_AGO = dt.timedelta(minutes=10)


def _amphora(
    db, *, heard: float | None, lb_status: str = c.ACTIVE, status: str = c.AMPHORA_ALLOCATED
) -> tuple[str, str]:
    """An amphora booted long ago, last heard ``heard`` seconds ago (None: never)."""
    lb_id = make_lb(db, status=lb_status)
    now = utcnow()
    with db.session() as s:
        amp = amp_db.new_amphora(
            s, lb_id, c.ROLE_STANDALONE, mgmt_start="127.43.252.10", mgmt_end="127.43.252.250"
        )
        amp.status = status
        amp.created_at = amp.updated_at = now - LONG_AGO
        if heard is not None:
            s.add(
                m.AmphoraHealth(
                    amphora_id=amp.id, seq=1, last_update=now - dt.timedelta(seconds=heard)
                )
            )
        return amp.id, lb_id


def _marked(db) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(m.Amphora.id).where(m.Amphora.failover_requested)))


def _detector(db, **kw) -> fd.FailureDetector:
    det = fd.FailureDetector(db, fd.DetectorOptions(heartbeat_timeout=TIMEOUT), **kw)
    det.watching_since = utcnow() - LONG_AGO  # as if it had been watching for a while
    return det


@pytest.fixture(autouse=True)
def _no_alarm_left():
    yield
    fd._set_alarm(None)


def test_marks_only_silent_live_configured_amphorae(any_db):
    silent, silent_lb = _amphora(any_db, heard=10)
    never, _ = _amphora(any_db, heard=None)
    _amphora(any_db, heard=0.1)  # healthy
    _amphora(any_db, heard=10, status=c.AMPHORA_BOOTING)  # not configured yet
    _amphora(any_db, heard=10, status=c.DELETED)
    _amphora(any_db, heard=10, lb_status=c.PENDING_DELETE)
    _amphora(any_db, heard=10, lb_status=c.DELETED)
    woken: list[str] = []
    d = _detector(any_db, notify=woken.append).check_once()
    assert set(d.failover) == {silent, never} and not d.storm and d.fleet == 3
    assert _marked(any_db) == {silent, never}
    assert silent_lb in woken and len(woken) == 2
    # the controller now has work: the (ACTIVE) load balancer of a marked amphora
    assert leases.claim_batch(any_db, "ctl", lease_seconds=30, only=[silent_lb]) == [silent_lb]


def test_marking_keeps_updated_at_and_is_idempotent(any_db):
    amp, _ = _amphora(any_db, heard=10)
    with any_db.session() as s:
        before = s.get(m.Amphora, amp).updated_at
    a, b = _detector(any_db), _detector(any_db)
    cutoff = utcnow() - dt.timedelta(seconds=TIMEOUT)
    assert [i for i, _ in fd.mark_for_failover(any_db, [amp], silent_since=cutoff)] == [amp]
    assert fd.mark_for_failover(any_db, [amp], silent_since=cutoff) == []
    assert a.check_once().failover == () and b.check_once().failover == ()
    with any_db.session() as s:
        assert s.get(m.Amphora, amp).updated_at == before


def test_two_detectors_racing_mark_each_amphora_once(any_db):
    amps = {_amphora(any_db, heard=10)[0] for _ in range(6)}
    got: list[list[tuple[str, str | None]]] = []
    cutoff = utcnow() - dt.timedelta(seconds=TIMEOUT)
    barrier = threading.Barrier(3)

    def mark() -> None:
        barrier.wait()
        got.append(fd.mark_for_failover(any_db, sorted(amps), silent_since=cutoff))

    threads = [threading.Thread(target=mark) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for batch in got for i, _ in batch]
    assert sorted(ids) == sorted(amps)  # every one marked, none twice


def test_a_heartbeat_between_look_and_mark_wins(any_db):
    amp, _ = _amphora(any_db, heard=10)
    cutoff = utcnow() - dt.timedelta(seconds=TIMEOUT)
    with any_db.session() as s:
        s.get(m.AmphoraHealth, amp).last_update = utcnow()
    assert fd.mark_for_failover(any_db, [amp], silent_since=cutoff) == []
    assert _marked(any_db) == set()


def test_a_restarted_detector_gives_everyone_a_timeout(any_db):
    _amphora(any_db, heard=600)
    det = fd.FailureDetector(any_db, fd.DetectorOptions(heartbeat_timeout=TIMEOUT))
    assert det.check_once().failover == ()
    later = utcnow() + dt.timedelta(seconds=TIMEOUT + 1)
    assert len(det.check_once(now=later).failover) == 1


def test_storm_marks_none_and_raises_then_clears_the_alarm(any_db, caplog):
    silent = [_amphora(any_db, heard=10)[0] for _ in range(3)]
    healthy, _ = _amphora(any_db, heard=0.1)
    det = _detector(any_db)
    with caplog.at_level(logging.WARNING, logger="hydria.health.failure_detector"):
        d = det.check_once()
        assert d.storm and d.failover == () and sorted(d.silent) == sorted(silent)
        assert _marked(any_db) == set()
        alarm = fd.current_storm()
        assert alarm is not None and alarm.fleet == 4 and sorted(alarm.silent) == sorted(silent)
        assert det.storm == alarm
        assert "event=failover_storm " in caplog.text
        # every API process shows it: it is in the database too
        with any_db.session() as s:
            rows = alarms(s)
            assert [r.name for r in rows] == ["failover_storm"]
            assert sorted(rows[0].detail["silent_amphorae"]) == sorted(silent)
        # it persists as long as the condition holds, logged once per change
        caplog.clear()
        assert det.check_once().storm and "failover_storm" not in caplog.text
        assert fd.current_storm() is not None and fd.current_storm().since == alarm.since
        # the amphorae come back (the fault was on the health side)
        with any_db.session() as s:
            for amp in silent:
                s.get(m.AmphoraHealth, amp).last_update = utcnow()
        d = det.check_once()
        assert not d.storm and d.failover == ()
        assert fd.current_storm() is None and "event=failover_storm_cleared" in caplog.text
        with any_db.session() as s:
            assert alarms(s) == []
    assert _marked(any_db) == set()
    assert healthy not in d.silent


@contextmanager
def _flaky(db, failures: int):
    """The database is away for the first ``failures`` sessions."""
    real = db.session
    count = {"n": 0}

    @contextmanager
    def session():
        count["n"] += 1
        if count["n"] <= failures:
            raise ConnectionError("database is away")
        with real() as s:
            yield s

    db.session = session
    try:
        yield count
    finally:
        db.session = real


def test_run_survives_database_errors_and_stops(sqlite_db, caplog):
    amp, _ = _amphora(sqlite_db, heard=10)
    det = fd.FailureDetector(
        sqlite_db, fd.DetectorOptions(heartbeat_timeout=TIMEOUT, check_interval=0.01)
    )
    stop = threading.Event()
    with _flaky(sqlite_db, failures=3), caplog.at_level(logging.INFO):
        thread = threading.Thread(target=det.run, args=(stop,))
        thread.start()
        # the database is away for its first checks; once they recover, run() has been
        # watching since it started: give it the timeout by moving its start back
        wait_for(
            lambda: "event=failure_check_recovered" in caplog.text,
            what="the detector's checks failed, then recovered",
        )
        det.watching_since = utcnow() - LONG_AGO
        deadline = time.monotonic() + 10
        while amp not in _marked(sqlite_db) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert amp in _marked(sqlite_db)
    assert "event=failure_check_failed" in caplog.text
    assert "event=failure_check_recovered" in caplog.text
    assert "event=failure_detector_stop" in caplog.text


def test_it_looks_again_right_when_an_amphora_is_due(sqlite_db):
    det = fd.FailureDetector(
        sqlite_db, fd.DetectorOptions(heartbeat_timeout=TIMEOUT, check_interval=1.0)
    )
    now = utcnow()
    none_due = det.check_once(now)
    assert none_due.next_silence is None and det.next_wait(none_due, now) == 1.0
    due = fd.Decision((), (), (), False, 1, next_silence=now + dt.timedelta(seconds=0.3))
    assert 0.3 < det.next_wait(due, now) < 0.4
    late = fd.Decision((), (), (), False, 1, next_silence=now + dt.timedelta(seconds=30))
    assert det.next_wait(late, now) == 1.0
    past = fd.Decision((), (), (), False, 1, next_silence=now - dt.timedelta(seconds=3))
    assert 0 < det.next_wait(past, now) < 0.1
