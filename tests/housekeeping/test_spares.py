"""The spare pool's bookkeeping on real databases (compute is a stand-in here;
tests/e2e/test_spares.py runs real spare amphorae)."""

from __future__ import annotations

import threading

from hydria.core import constants as c
from hydria.db import amphorae as amp_db
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.db.settle import SettleBoard
from hydria.housekeeping.spares import SparePool
from tests.support.factories import make_lb
from tests.support.wait import wait_for


class FakeCompute:
    def __init__(self) -> None:
        self.running: set[str] = set()
        self.deleted: list[str] = []

    def is_running(self, amphora_id: str) -> bool:
        return amphora_id in self.running

    def delete(self, amphora_id: str) -> None:
        self.running.discard(amphora_id)
        self.deleted.append(amphora_id)


def _pool(db: Database, size: int) -> tuple[SparePool, FakeCompute]:
    compute = FakeCompute()

    def boot() -> str:
        with db.session() as s:
            amp = amp_db.new_spare(s, mgmt_start="127.43.7.10", mgmt_end="127.43.7.250")
            amp.status = c.AMPHORA_READY
        compute.running.add(amp.id)
        return amp.id

    return SparePool(db, compute, boot, size=size), compute  # type: ignore[arg-type]


def test_pool_fills_replaces_dead_and_deleted_and_shrinks(any_db: Database):
    pool, compute = _pool(any_db, 2)
    assert pool.maintain() == {"booted": 2, "removed": 0}
    assert pool.maintain() == {"booted": 0, "removed": 0}
    with any_db.session() as s:
        first, second = (a.id for a in amp_db.spares(s))
        s.get(m.Amphora, second).status = c.AMPHORA_PENDING_DELETE  # an operator's delete
    compute.running.discard(first)  # and the other one's agent died
    assert pool.maintain() == {"booted": 2, "removed": 2}
    assert sorted(compute.deleted) == sorted([first, second])
    with any_db.session() as s:
        assert len([a for a in amp_db.spares(s) if a.status == c.AMPHORA_READY]) == 2
        gone = s.get(m.Amphora, first)
        assert gone is not None and gone.status == c.DELETED
    pool.size = 1
    assert pool.maintain() == {"booted": 0, "removed": 1}


def test_a_spare_goes_to_exactly_one_load_balancer(any_db: Database):
    pool, _ = _pool(any_db, 1)
    pool.maintain()
    lbs = [make_lb(any_db, status=c.PENDING_CREATE) for _ in range(4)]
    won: list[str] = []

    def claim(lb_id: str) -> None:
        with any_db.session() as s:
            amp = amp_db.claim_spare(s, lb_id, c.ROLE_STANDALONE)
            if amp is not None:
                won.append(lb_id)

    threads = [threading.Thread(target=claim, args=(lb,)) for lb in lbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with any_db.session() as s:
        amp = s.scalars(amp_db.select(m.Amphora).where(m.Amphora.load_balancer_id == won[0])).one()
        assert (amp.status, amp.role) == (c.AMPHORA_ALLOCATED, c.ROLE_STANDALONE)
        assert amp_db.spares(s) == []


def test_a_spare_claimed_while_being_removed_is_left_alone(any_db: Database):
    pool, compute = _pool(any_db, 1)
    pool.maintain()
    with any_db.session() as s:
        spare_id = amp_db.spares(s)[0].id
    lb = make_lb(any_db, status=c.PENDING_CREATE)
    with any_db.session() as s:  # a controller takes it just before the removal
        assert amp_db.claim_spare(s, lb, c.ROLE_STANDALONE) is not None
    pool._remove(spare_id, "agent_gone")
    assert compute.deleted == []
    with any_db.session() as s:
        row = s.get(m.Amphora, spare_id)
        assert row is not None and (row.status, row.load_balancer_id) == (c.AMPHORA_ALLOCATED, lb)


def test_refills_wait_for_changes_in_flight_but_not_forever(any_db: Database, monkeypatch):
    """A boot takes its CPU from the create that claimed the spare: the refill waits
    while a load balancer converges, for ``defer_limit`` at most."""
    from hydria.housekeeping import spares

    clock = [1000.0]
    monkeypatch.setattr(spares.time, "monotonic", lambda: clock[0])
    pool, _ = _pool(any_db, 1)
    pool.defer_limit = 10.0
    lb = make_lb(any_db, status=c.PENDING_CREATE)
    assert pool.maintain() == {"booted": 0, "removed": 0}
    clock[0] += 9.0
    assert pool.maintain() == {"booted": 0, "removed": 0}  # still waiting
    with any_db.session() as s:
        s.get(m.LoadBalancer, lb).provisioning_status = c.ACTIVE
    assert pool.maintain() == {"booted": 1, "removed": 0}  # converged: refilled at once

    pool.size = 2
    make_lb(any_db, status=c.PENDING_UPDATE)
    assert pool.maintain() == {"booted": 0, "removed": 0}
    clock[0] += 10.0
    assert pool.maintain() == {"booted": 1, "removed": 0}  # a stream of changes never starves it


def _run(pool: SparePool) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=pool.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def _ready(db: Database) -> int:
    with db.read() as s:
        return len([a for a in amp_db.spares(s) if a.status == c.AMPHORA_READY])


def test_a_deferred_refill_wakes_at_the_settle_not_by_polling(any_db: Database, monkeypatch):
    """With a settle board the deferred refill looks again when a load balancer
    settles: it neither polls the database meanwhile nor waits out its limit."""
    from hydria.housekeeping import spares

    board = SettleBoard()
    pool, _ = _pool(any_db, 1)
    # polling, a timer or the limit would never fire within the test
    pool.interval = pool.defer_poll = pool.defer_limit = 3600.0
    pool.settle = board
    looks = []
    real = spares.amp_db.changes_in_flight
    monkeypatch.setattr(spares.amp_db, "changes_in_flight", lambda s: looks.append(1) or real(s))
    lb = make_lb(any_db, status=c.PENDING_CREATE)
    pool.interval = 0.01  # the first pass comes at once; the deferral waits on the board
    stop, thread = _run(pool)
    try:
        wait_for(lambda: pool._deferred_since is not None, what="the refill is deferred")
        pool.interval = 3600.0
        seen = len(looks)
        board.settled("another-lb")  # a settle while the create is still in flight
        wait_for(lambda: len(looks) > seen, what="a look after the settle")
        assert _ready(any_db) == 0
        looks_before = len(looks)
        with any_db.session() as s:
            s.get(m.LoadBalancer, lb).provisioning_status = c.ACTIVE
        board.settled(lb)
        wait_for(lambda: _ready(any_db) == 1, what="the refill after the create settled")
        assert len(looks) == looks_before + 1  # one look per settle, no polling between
    finally:
        stop.set()
        thread.join()


def test_a_deferred_refill_with_a_board_still_ends_at_its_limit(any_db: Database):
    """A stream of changes that never settles does not starve the pool."""
    pool, _ = _pool(any_db, 1)
    pool.interval = 0.01
    pool.defer_poll = 3600.0  # the board is used, not polling
    pool.defer_limit = 0.2
    pool.settle = SettleBoard()
    make_lb(any_db, status=c.PENDING_CREATE)
    stop, thread = _run(pool)
    try:
        wait_for(lambda: _ready(any_db) == 1, what="the refill once the limit passed")
    finally:
        stop.set()
        thread.join()


def test_without_a_settle_signal_a_deferred_refill_polls(any_db: Database):
    """Split processes on SQLite have no signal: the refill polls every ``defer_poll``."""
    pool, _ = _pool(any_db, 1)
    pool.interval = 0.01
    pool.defer_poll = 0.01
    lb = make_lb(any_db, status=c.PENDING_CREATE)
    stop, thread = _run(pool)
    try:
        wait_for(lambda: pool._deferred_since is not None, what="the refill is deferred")
        pool.interval = 3600.0  # only the poll can bring the next look now
        with any_db.session() as s:
            s.get(m.LoadBalancer, lb).provisioning_status = c.ACTIVE
        wait_for(lambda: _ready(any_db) == 1, what="the refill seen by polling")
    finally:
        stop.set()
        thread.join()
