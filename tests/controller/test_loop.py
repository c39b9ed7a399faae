"""The controller loop's claiming, on real SQLite and PostgreSQL, with a stand-in reconciler.

The reconciler itself is tested elsewhere; here only the order and the number of
leases matter, so it records what it was asked and does nothing else.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from hydria.controller.loop import ControllerLoop
from hydria.controller.reconciler import Outcome
from hydria.core import constants as c
from hydria.db.models import LoadBalancer
from hydria.db.notify import InProcessNotifier
from tests.support.factories import make_lb

pytestmark = pytest.mark.postgres


class Recorder:
    """Answers "retry" for pending ones (so nothing is marked) and counts leases held."""

    def __init__(self, db) -> None:  # type: ignore[no-untyped-def]
        self.db = db
        self.seen: list[str] = []
        self.most_leases = 0
        self.lock = threading.Lock()

    def reconcile(self, lb_id: str, checkpoint, owner: str) -> Outcome:  # type: ignore[no-untyped-def]
        with self.db.session() as s:
            held = s.scalar(select(func.count()).select_from(LoadBalancer)
                            .where(LoadBalancer.lease_owner == owner))
        with self.lock:
            self.seen.append(lb_id)
            self.most_leases = max(self.most_leases, held or 0)
        time.sleep(0.01)
        return Outcome("superseded", "test")  # releases the lease, changes nothing


@contextlib.contextmanager
def running(db, recorder: Recorder) -> Iterator[None]:  # type: ignore[no-untyped-def]
    loop = ControllerLoop(db, recorder, notifier=InProcessNotifier(), workers=2,
                          lease_seconds=30, poll_interval=0.05)  # type: ignore[arg-type]
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(30)


def test_startup_resync_is_paced_and_pending_work_goes_first(any_db):
    settled = [make_lb(any_db, status=c.ACTIVE) for _ in range(40)]
    pending = make_lb(any_db)  # the newest: a resync ordered by age would reach it last
    recorder = Recorder(any_db)
    with running(any_db, recorder):
        deadline = time.monotonic() + 60
        while len(set(recorder.seen)) < 41:
            assert time.monotonic() < deadline, f"resync stalled at {len(recorder.seen)}"
            time.sleep(0.02)
    assert recorder.seen[0] == pending
    assert set(recorder.seen) == {pending, *settled}
    # never more than the loop's own slots (2 workers x 2), not the whole fleet
    assert recorder.most_leases <= 4
    with any_db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoadBalancer)
                        .where(LoadBalancer.lease_owner.is_not(None))) == 0


def test_resync_skips_what_another_controller_holds(any_db):
    from hydria.db import leases

    mine, theirs = make_lb(any_db, status=c.ACTIVE), make_lb(any_db, status=c.ACTIVE)
    assert leases.claim_batch(any_db, "other", lease_seconds=60, only=[theirs],
                              include_settled=True) == [theirs]
    recorder = Recorder(any_db)
    with running(any_db, recorder):
        deadline = time.monotonic() + 30
        while mine not in recorder.seen:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.3)  # a few more polls: the held one must stay untouched
    assert theirs not in recorder.seen
