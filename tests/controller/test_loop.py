"""The controller loop's claiming, on real SQLite and PostgreSQL, with a stand-in reconciler.

The reconciler itself is tested elsewhere; here only the order and the number of
leases matter, so it records what it was asked and does nothing else.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from sqlalchemy import func, select

from hydria.controller.loop import ControllerLoop, backoff
from hydria.controller.reconciler import Outcome
from hydria.core import constants as c
from hydria.db.models import LoadBalancer
from hydria.db.notify import InProcessNotifier
from hydria.db.settle import SettleBoard
from tests.support.factories import make_lb
from tests.support.wait import wait_for


class Recorder:
    """Answers "retry" for pending ones (so nothing is marked) and counts leases held."""

    def __init__(self, db) -> None:  # type: ignore[no-untyped-def]
        self.db = db
        self.seen: list[str] = []
        self.most_leases = 0
        self.lock = threading.Lock()

    def reconcile(self, lb_id: str, checkpoint, owner: str) -> Outcome:  # type: ignore[no-untyped-def]
        with self.db.session() as s:
            held = s.scalar(
                select(func.count())
                .select_from(LoadBalancer)
                .where(LoadBalancer.lease_owner == owner)
            )
        with self.lock:
            self.seen.append(lb_id)
            self.most_leases = max(self.most_leases, held or 0)
        time.sleep(0.01)
        return Outcome("superseded", "test")  # releases the lease, changes nothing


@contextlib.contextmanager
def running(
    db,
    recorder: Recorder,
    *,
    workers: int = 1,  # type: ignore[no-untyped-def]
    lease_seconds: float = 30,
    max_attempts: int = 5,
    settle: SettleBoard | None = None,
) -> Iterator[ControllerLoop]:
    loop = ControllerLoop(
        db,
        recorder,
        notifier=InProcessNotifier(),
        settle=settle,
        workers=workers,
        lease_seconds=lease_seconds,
        poll_interval=0.05,
        max_attempts=max_attempts,
    )  # type: ignore[arg-type]
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        yield loop
    finally:
        stop.set()
        runner.join(30)
        assert not runner.is_alive(), "the loop did not stop"


def _wait_seen(recorder: Recorder, ids: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ids <= set(recorder.seen):
        assert time.monotonic() < deadline, f"not reconciled: {ids - set(recorder.seen)}"
        time.sleep(0.02)


def test_startup_resync_is_paced_and_pending_work_goes_first(any_db):
    settled = [make_lb(any_db, status=c.ACTIVE) for _ in range(40)]
    pending = make_lb(any_db)  # the newest: a resync ordered by age would reach it last
    recorder = Recorder(any_db)
    with running(any_db, recorder):  # one worker: the order is the claim order
        _wait_seen(recorder, {pending, *settled})
    assert recorder.seen[0] == pending
    # never more than the loop's own slots (1 worker x 2), not the whole fleet
    assert recorder.most_leases <= 2
    with any_db.session() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(LoadBalancer)
                .where(LoadBalancer.lease_owner.is_not(None))
            )
            == 0
        )


def test_a_database_error_during_the_resync_skips_nothing(any_db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from hydria.db import leases

    settled = {make_lb(any_db, status=c.ACTIVE) for _ in range(12)}
    real = leases.claim_batch
    failures = {"left": 6}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs.get("include_settled") and failures["left"]:
            failures["left"] -= 1
            raise OperationalError("claim", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(leases, "claim_batch", flaky)
    recorder = Recorder(any_db)
    with running(any_db, recorder, workers=2):
        _wait_seen(recorder, settled)
    assert failures["left"] == 0


def test_one_held_elsewhere_is_tried_again_after_a_lease(any_db):
    """E.g. this controller's own previous run, killed: its lease runs out, then
    the resync checks the load balancer after all."""
    from hydria.db import leases

    held = make_lb(any_db, status=c.ACTIVE)
    assert leases.claim_batch(
        any_db, "dead-run", lease_seconds=0.5, only=[held], include_settled=True
    ) == [held]
    recorder = Recorder(any_db)
    with running(any_db, recorder, lease_seconds=0.5):
        _wait_seen(recorder, {held})


def test_resync_skips_what_another_controller_holds(any_db):
    from hydria.db import leases

    mine, theirs = make_lb(any_db, status=c.ACTIVE), make_lb(any_db, status=c.ACTIVE)
    assert leases.claim_batch(
        any_db, "other", lease_seconds=60, only=[theirs], include_settled=True
    ) == [theirs]
    recorder = Recorder(any_db)
    with running(any_db, recorder) as loop:
        _wait_seen(recorder, {mine})
        # the resync has tried the held one and put it off for a lease
        wait_for(lambda: theirs in loop._resync_retried, what="the resync tried the held one")
    assert theirs not in recorder.seen


class StuckAgent(Recorder):
    """An amphora that claims a newer configuration than the load balancer ever had:
    every attempt ends "superseded" at the generation it worked on."""

    def __init__(self, db) -> None:  # type: ignore[no-untyped-def]
        super().__init__(db)
        self.times: list[float] = []

    def reconcile(self, lb_id: str, checkpoint, owner: str) -> Outcome:  # type: ignore[no-untyped-def]
        with self.db.read() as s:
            lb = s.get(LoadBalancer, lb_id)
            generation = lb.generation
        with self.lock:
            self.seen.append(lb_id)
            self.times.append(time.monotonic())
        return Outcome("superseded", "amphora runs a newer configuration", generation=generation)


def test_superseded_with_no_newer_generation_backs_off_then_fails(any_db):
    """No outcome may turn into a hot loop: a "superseded" whose load balancer is
    still at the same generation is retried with backoff and ends in ERROR with
    the reason (it used to be claimed again at once, tens of thousands of times)."""
    lb_id = make_lb(any_db)
    agent = StuckAgent(any_db)

    def failed() -> bool:
        with any_db.session() as s:
            lb = s.get(LoadBalancer, lb_id)
            return lb is not None and lb.provisioning_status == c.ERROR

    with running(any_db, agent, max_attempts=3) as loop:
        wait_for(failed, what="the load balancer ends in ERROR", timeout=120)
        assert loop.drain(60)
    assert agent.seen == [lb_id] * 3
    gaps = [b - a for a, b in zip(agent.times, agent.times[1:], strict=False)]
    assert gaps[0] >= backoff(1) * 0.9 and gaps[1] >= backoff(2) * 0.9, gaps
    with any_db.session() as s:
        lb = s.get(LoadBalancer, lb_id)
        assert lb is not None and "newer configuration" in (lb.error_reason or "")


def test_superseded_by_a_newer_generation_is_claimed_again_at_once(any_db):
    """A real supersession (the desired state moved on) is no failure: the new
    generation is worked on without waiting out a backoff."""
    lb_id = make_lb(any_db)

    class MovesOn(Recorder):
        def reconcile(self, lb_id: str, checkpoint, owner: str) -> Outcome:  # type: ignore[no-untyped-def]
            with self.db.session() as s:
                lb = s.get(LoadBalancer, lb_id)
                generation = lb.generation
                if len(self.seen) == 0:
                    lb.generation += 1  # an API write lands while this attempt works
            with self.lock:
                self.seen.append(lb_id)
            if len(self.seen) == 1:
                return Outcome("superseded", "newer", generation=generation)
            with self.db.session() as s:
                lb = s.get(LoadBalancer, lb_id)
                lb.provisioning_status = c.ACTIVE
                lb.applied_generation = lb.generation
                lb.lease_owner = None
                lb.lease_expires_at = None
            return Outcome("done")

    agent = MovesOn(any_db)
    with running(any_db, agent):
        _wait_seen(agent, {lb_id})
        wait_for(lambda: len(agent.seen) >= 2, what="the newer generation is claimed")
    with any_db.session() as s:
        lb = s.get(LoadBalancer, lb_id)
        assert lb is not None and lb.attempts == 0 and lb.next_attempt_at is None


def test_every_outcome_written_is_told_to_the_settle_board(any_db):
    """The API's readers of a pending object wait on the board: the loop tells it
    once the outcome of a reconcile is written (here a retry, released with backoff)."""
    lb_id = make_lb(any_db)
    board = SettleBoard()
    mark = board.mark()
    recorder = Recorder(any_db)
    with running(any_db, recorder, settle=board):
        _wait_seen(recorder, {lb_id})
        wait_for(lambda: board._last.get(lb_id, 0) > mark, what="the loop told the board")


def test_the_reconciler_is_warmed_up_before_the_first_claim(any_db):
    """The first change after a start does not pay for compiling the template and
    the snapshot's queries; a real reconciler's warm-up needs no rows."""
    lb_id = make_lb(any_db)

    class Warmed(Recorder):
        def warm_up(self) -> None:
            with self.lock:
                self.seen.append("warm-up")

    recorder = Warmed(any_db)
    with running(any_db, recorder):
        _wait_seen(recorder, {lb_id})
    assert recorder.seen[0] == "warm-up"


def test_a_real_reconciler_warms_up_on_an_empty_database(sqlite_db, tmp_path):
    from hydria.controller.reconciler import Reconciler, ReconcilerOptions
    from hydria.render import templates

    templates.template.cache_clear()
    opts = ReconcilerOptions(mgmt_start="127.43.0.10", mgmt_end="127.43.0.20")
    Reconciler(sqlite_db, None, None, None, None, opts).warm_up()  # type: ignore[arg-type]
    assert templates.template.cache_info().currsize == 1
