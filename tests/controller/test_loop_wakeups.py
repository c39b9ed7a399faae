"""What the loop claims on a wake-up, after a reconcile, and on the poll tick.

A wake-up claims only the load balancer it names; the general claim runs on the
poll tick, or at once when work waits for a slot that just freed. A reconcile
that converged wakes nobody, unless a wake-up named its load balancer while it
ran. These tests take a long poll interval where the tick must not be what
finds the work, and a short one where it must be.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

from sqlalchemy import update

from hydria.controller.loop import ControllerLoop
from hydria.controller.reconciler import Outcome
from hydria.core import constants as c
from hydria.db import leases
from hydria.db.engine import Database
from hydria.db.models import LoadBalancer, utcnow
from hydria.db.notify import InProcessNotifier
from tests.support.factories import make_lb
from tests.support.wait import wait_for

NEVER = 3600.0  # a poll interval no test waits out: only wake-ups find the work


class Converger:
    """Marks the load balancer ACTIVE, gives the lease back and answers "done", as
    a converged reconcile does; ``hold`` (when set) keeps it from returning after
    that until it is released: a change then lands after the reconcile's own
    write, where only the wake-up it sent can bring it back."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.hold: threading.Event | None = None
        self.started = threading.Event()

    def reconcile(self, lb_id: str, checkpoint, owner: str) -> Outcome:  # type: ignore[no-untyped-def]
        with self.lock:
            self.seen.append(lb_id)
        with self.db.session() as s:
            s.execute(
                update(LoadBalancer)
                .where(LoadBalancer.id == lb_id)
                .values(provisioning_status=c.ACTIVE, lease_owner=None, lease_expires_at=None)
            )
        self.started.set()
        if self.hold is not None:
            self.hold.wait(60)
        return Outcome("done")

    def count(self, lb_id: str) -> int:
        with self.lock:
            return self.seen.count(lb_id)


@contextlib.contextmanager
def running(
    db: Database, reconciler: Converger, *, poll_interval: float, workers: int = 1
) -> Iterator[tuple[ControllerLoop, InProcessNotifier]]:
    notifier = InProcessNotifier()
    loop = ControllerLoop(
        db,
        reconciler,  # type: ignore[arg-type]  # a stand-in: only reconcile() is called
        notifier=notifier,
        workers=workers,
        poll_interval=poll_interval,
        lease_seconds=30,
    )
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        # the start-up resync has looked at nothing yet made: what follows is new
        wait_for(lambda: loop._resync is not None and not loop._resync, what="resync loaded")
        yield loop, notifier
    finally:
        stop.set()
        notifier.wake()
        runner.join(30)
        assert not runner.is_alive(), "the loop did not stop"


def _lease(db: Database, lb_id: str, owner: str | None, seconds: float = 30) -> None:
    with db.session() as s:
        s.execute(
            update(LoadBalancer)
            .where(LoadBalancer.id == lb_id)
            .values(
                lease_owner=owner,
                lease_expires_at=None
                if owner is None
                else utcnow() + dt.timedelta(seconds=seconds),
            )
        )


def _bump(db: Database, lb_id: str) -> None:
    with db.session() as s:
        s.execute(
            update(LoadBalancer)
            .where(LoadBalancer.id == lb_id)
            .values(generation=LoadBalancer.generation + 1, provisioning_status=c.PENDING_UPDATE)
        )


def test_a_wake_up_for_one_leased_elsewhere_is_picked_up_on_the_tick(any_db):
    recorder = Converger(any_db)
    with running(any_db, recorder, poll_interval=0.2) as (_, notifier):
        lb_id = make_lb(any_db)
        _lease(any_db, lb_id, "another-controller")
        notifier.notify(lb_id)  # its claim finds the lease held: nothing claimed
        # the other controller gives it back and its own wake-up never arrives here
        _lease(any_db, lb_id, None)
        wait_for(lambda: recorder.count(lb_id) == 1, what="claimed by the poll tick")


def test_a_converged_reconcile_wakes_nobody(any_db, monkeypatch):
    claims: list[list[str] | None] = []
    real = leases.claim_batch

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        claims.append(kwargs.get("only"))
        return real(*args, **kwargs)

    monkeypatch.setattr(leases, "claim_batch", counted)
    recorder = Converger(any_db)
    with running(any_db, recorder, poll_interval=NEVER) as (loop, notifier):
        before = len(claims)
        lb_id = make_lb(any_db)
        notifier.notify(lb_id)
        wait_for(lambda: recorder.count(lb_id) == 1 and not loop._inflight, what="converged")
        # another wake-up for something else goes through: had the finished
        # reconcile woken the loop, its claim would come before this one
        other = make_lb(any_db)
        notifier.notify(other)
        wait_for(lambda: recorder.count(other) == 1 and not loop._inflight, what="converged")
        assert claims[before:] == [[lb_id], [other]]


def test_a_change_while_its_reconcile_runs_is_claimed_after_it(any_db):
    recorder = Converger(any_db)
    recorder.hold = threading.Event()
    with running(any_db, recorder, poll_interval=NEVER) as (_, notifier):
        lb_id = make_lb(any_db)
        notifier.notify(lb_id)
        wait_for(recorder.started.is_set, what="first reconcile running")
        _bump(any_db, lb_id)  # the API's write, after the reconcile wrote ACTIVE
        notifier.notify(lb_id)  # ... and its wake-up, while the reconcile runs
        wait_for(lambda: not notifier._pending, what="wake-up taken by the loop")
        recorder.hold.set()
        wait_for(lambda: recorder.count(lb_id) == 2, what="claimed again after the first")


def test_work_left_for_want_of_a_slot_is_claimed_when_one_frees(any_db):
    recorder = Converger(any_db)
    with running(any_db, recorder, poll_interval=NEVER, workers=1) as (_, notifier):
        ids = [make_lb(any_db) for _ in range(6)]  # 2 slots: 4 wait
        notifier.notify("")  # as a listener says after a reconnect: look at everything
        wait_for(lambda: all(recorder.count(i) == 1 for i in ids), what="all claimed, no poll tick")
