"""Lease renewal: a controller keeps the leases of its work in flight however busy it is,
and calls a lease lost only when another controller holds it.

Under a burst of 500 creates one ``hydria up`` used to log ``event=lease_lost``
dozens of times (bench/burst.py): the renewer snapshotted the ids in flight,
then renewed them one transaction at a time, each waiting for SQLite's write
lock; by the time it reached one, that work had finished and given its lease
back, so the renewal matched no row and the lease was called lost (and the
flag could fall on the load balancer's next claim). Real SQLite and
PostgreSQL here, with a stand-in reconciler.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy import select, update

from hydria.controller.loop import ControllerLoop
from hydria.controller.reconciler import Outcome
from hydria.core import constants as c
from hydria.db import leases
from hydria.db.engine import Database
from hydria.db.models import LoadBalancer
from hydria.db.notify import InProcessNotifier
from tests.support.factories import make_lb

pytestmark = pytest.mark.postgres


def _loop(db: Database, reconciler: object = None, **kw: object) -> ControllerLoop:
    return ControllerLoop(
        db,
        reconciler,
        notifier=InProcessNotifier(),  # type: ignore[arg-type]
        poll_interval=0.05,
        **kw,
    )  # type: ignore[arg-type]


def _hold(db: Database, loop: ControllerLoop, lb_id: str) -> Future[None]:
    """Claim ``lb_id`` as the loop would and record it in flight."""
    assert leases.claim_batch(db, loop.owner, lease_seconds=30, only=[lb_id]) == [lb_id]
    fut: Future[None] = Future()
    loop._inflight[lb_id] = fut
    return fut


def test_a_lease_given_back_by_finished_work_is_not_lost(any_db: Database) -> None:
    loop = _loop(any_db)
    lb_id = make_lb(any_db)
    _hold(any_db, loop, lb_id)
    leases.release(any_db, lb_id, loop.owner)  # what mark_converged does at the end
    assert loop.renew_once() == []
    assert not loop._lost


def test_a_lease_another_controller_took_is_lost(any_db: Database) -> None:
    loop = _loop(any_db, lease_seconds=30)
    lb_id, kept = make_lb(any_db), make_lb(any_db)
    _hold(any_db, loop, lb_id)
    _hold(any_db, loop, kept)
    with any_db.session() as s:
        s.execute(update(LoadBalancer).where(LoadBalancer.id == lb_id).values(lease_owner="other"))
        before = s.scalar(select(LoadBalancer.lease_expires_at).where(LoadBalancer.id == kept))
    assert loop.renew_once() == [lb_id]
    assert loop._lost == {lb_id}
    with any_db.session() as s:
        after = s.scalar(select(LoadBalancer.lease_expires_at).where(LoadBalancer.id == kept))
    assert after is not None and before is not None and after >= before


def test_a_lost_flag_never_falls_on_a_newer_claim(
    any_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work finishes and the load balancer is claimed again while the renewal
    runs: the miss belongs to the old claim, so the new one is not flagged."""
    loop = _loop(any_db)
    lb_id = make_lb(any_db)
    _hold(any_db, loop, lb_id)
    real = leases.renew_all

    def racing(*args: object, **kwargs: object) -> dict[str, str | None]:
        loop._inflight[lb_id] = Future()  # finished and claimed again meanwhile
        missed = real(*args, **kwargs)  # type: ignore[arg-type]
        return {**missed, lb_id: "other"}

    monkeypatch.setattr(leases, "renew_all", racing)
    assert loop.renew_once() == []
    assert not loop._lost


class Busy:
    """Holds every worker until released, like reconciles stuck on slow amphorae."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: set[str] = set()
        self.lock = threading.Lock()

    def reconcile(self, lb_id: str, checkpoint: object, owner: str) -> Outcome:
        with self.lock:
            self.started.add(lb_id)
        self.release.wait(120)
        checkpoint()  # type: ignore[operator]
        return Outcome("superseded", "test")


@contextlib.contextmanager
def _writes_hammering(db: Database) -> Iterator[list[int]]:
    """Short write transactions back to back from several threads (an API burst)."""
    stop = threading.Event()
    done = [0]
    victim = make_lb(db, status=c.ACTIVE)

    def hammer() -> None:
        while not stop.is_set():
            with db.session() as s:
                s.execute(
                    update(LoadBalancer).where(LoadBalancer.id == victim).values(name=f"n{done[0]}")
                )
            done[0] += 1

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        yield done
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def test_busy_workers_keep_their_leases_under_write_pressure(any_db: Database) -> None:
    """Every worker busy and the database hammered: the leases in flight are
    still renewed, again and again, and none is called lost. A renewer that
    queued behind the work (or starved behind the writers) would never move
    ``lease_expires_at`` and this test would run into its deadline."""
    busy = Busy()
    ids = {make_lb(any_db) for _ in range(4)}
    loop = _loop(any_db, busy, workers=2, lease_seconds=1.5)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run, args=(stop,))
    runner.start()
    try:
        with _writes_hammering(any_db) as done:
            deadline = time.monotonic() + 120
            while len(busy.started) < 2:
                assert time.monotonic() < deadline, "the workers never started"
                time.sleep(0.02)
            held = set(busy.started)
            seen: dict[str, set[object]] = {i: set() for i in held}
            while min(len(v) for v in seen.values()) < 4:
                assert time.monotonic() < deadline, f"leases not renewed: {seen}"
                with any_db.session() as s:
                    for row in s.execute(
                        select(
                            LoadBalancer.id, LoadBalancer.lease_owner, LoadBalancer.lease_expires_at
                        ).where(LoadBalancer.id.in_(held))
                    ):
                        assert row.lease_owner == loop.owner
                        seen[row.id].add(row.lease_expires_at)
                time.sleep(0.05)
            assert done[0] > 0
        assert not loop._lost
    finally:
        busy.release.set()
        stop.set()
        runner.join(60)
    assert not runner.is_alive()
    assert ids >= held
