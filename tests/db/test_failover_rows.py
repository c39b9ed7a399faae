"""The database side of failover: marks, claims, status and clean-up of rows."""

import datetime as dt

from hydria.core import constants as c
from hydria.db import amphorae as amp_db
from hydria.db import convergence, leases
from hydria.db import models as m
from hydria.db.models import utcnow
from tests.support.factories import make_lb


def _amphora(db, lb_id: str, *, failover: bool = False, status: str = c.AMPHORA_ALLOCATED) -> str:
    with db.session() as s:
        amp = amp_db.new_amphora(
            s, lb_id, c.ROLE_STANDALONE, mgmt_start="127.43.251.10", mgmt_end="127.43.251.250"
        )
        amp.status = status
        amp.failover_requested = failover
        s.add(m.AmphoraHealth(amphora_id=amp.id, last_update=utcnow(), seq=1))
        return amp.id


def test_a_marked_amphora_makes_its_active_lb_claimable(any_db):
    lb = make_lb(any_db, status=c.ACTIVE)
    amp = _amphora(any_db, lb)
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == []
    with any_db.session() as s:
        assert not amp_db.failover_pending(s, lb)
        s.get(m.Amphora, amp).failover_requested = True
    with any_db.session() as s:
        assert amp_db.failover_pending(s, lb)
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == [lb]


def test_a_deleted_amphora_is_no_work(any_db):
    lb = make_lb(any_db, status=c.ACTIVE)
    amp = _amphora(any_db, lb, failover=True)
    with any_db.session() as s:
        amp_db.mark_amphora_deleted(s, amp)
    with any_db.session() as s:
        row = s.get(m.Amphora, amp)
        assert (row.status, row.failover_requested) == (c.DELETED, False)
        assert s.get(m.AmphoraHealth, amp) is None  # no health check looks at it again
        assert not amp_db.failover_pending(s, lb)
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == []


def test_begin_failover_moves_only_active_and_keeps_the_generation(any_db):
    active = make_lb(any_db, status=c.ACTIVE)
    others = {
        status: make_lb(any_db, status=status)
        for status in (c.ERROR, c.PENDING_UPDATE, c.PENDING_DELETE, c.DELETED)
    }
    with any_db.session() as s:
        assert convergence.begin_failover(s, active)
        assert not convergence.begin_failover(s, active)  # idempotent
        for lb_id in others.values():
            assert not convergence.begin_failover(s, lb_id)
    with any_db.session() as s:
        row = s.get(m.LoadBalancer, active)
        assert (row.provisioning_status, row.generation) == (c.PENDING_UPDATE, 1)
        for status, lb_id in others.items():
            assert s.get(m.LoadBalancer, lb_id).provisioning_status == status
    with any_db.session() as s:  # the same generation converges it back
        assert convergence.mark_converged(s, active, 1)
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, active).provisioning_status == c.ACTIVE


def test_failed_failover_schedules_a_later_round(any_db):
    lb = make_lb(any_db, status=c.PENDING_UPDATE)
    _amphora(any_db, lb, failover=True)
    later = utcnow() + dt.timedelta(seconds=30)
    with any_db.session() as s:
        s.get(m.LoadBalancer, lb).attempts = 4
        assert convergence.mark_failed(s, lb, 1, "no amphora would boot", retry_at=later)
    with any_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        assert (row.provisioning_status, row.operating_status) == (c.ERROR, c.ERROR)
        assert row.attempts == 0 and abs((row.next_attempt_at - later).total_seconds()) < 1
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == []
    # once it serves again it is ACTIVE (heartbeats set its operating status)
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 1)
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.ACTIVE
