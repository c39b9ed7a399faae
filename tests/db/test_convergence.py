"""Writing back convergence outcomes: conditional on the generation."""

import pytest
from sqlalchemy import func, select

from hydria.core import constants as c
from hydria.db import addresses, convergence
from hydria.db import models as m
from tests.support.factories import make_lb, make_subnet


def _count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_converged_marks_everything_active(any_db):
    lb = make_lb(any_db, with_children=True)
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 1)
    with any_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        assert (row.provisioning_status, row.operating_status) == (c.ACTIVE, c.ONLINE)
        assert row.applied_generation == 1 and row.lease_owner is None
        for model in (m.Listener, m.Pool, m.Member, m.HealthMonitor):
            assert {r.provisioning_status for r in s.scalars(select(model))} == {c.ACTIVE}


def test_a_newer_generation_is_not_marked(any_db):
    lb = make_lb(any_db)
    with any_db.session() as s:
        s.get(m.LoadBalancer, lb).generation = 2
    with any_db.session() as s:
        assert not convergence.mark_converged(s, lb, 1)
        assert not convergence.mark_failed(s, lb, 1, "boom")
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.PENDING_CREATE


def test_pending_delete_children_are_removed(any_db):
    lb = make_lb(any_db, with_children=True)
    with any_db.session() as s:
        pool = s.scalars(select(m.Pool)).one()
        pool.provisioning_status = c.PENDING_DELETE
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 1)
    assert _count(any_db, m.Pool) == _count(any_db, m.Member) == 0
    assert _count(any_db, m.HealthMonitor) == 0
    with any_db.session() as s:
        assert s.scalars(select(m.Listener)).one().default_pool_id is None


def test_deleted_lb_frees_its_vip(any_db):
    subnet = make_subnet(any_db)
    lb = make_lb(any_db, status=c.PENDING_DELETE, subnet_id=subnet, with_children=True)
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 1)
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, lb).provisioning_status == c.DELETED
    assert _count(any_db, m.AddressAllocation) == 0
    assert _count(any_db, m.Listener) == 0


def test_failed_leaves_nothing_pending(any_db):
    lb = make_lb(any_db, with_children=True)
    with any_db.session() as s:
        assert convergence.mark_failed(s, lb, 1, "haproxy said no")
    with any_db.session() as s:
        assert s.get(m.LoadBalancer, lb).error_reason == "haproxy said no"
        for model in (m.LoadBalancer, m.Listener, m.Pool, m.Member, m.HealthMonitor):
            assert {r.provisioning_status for r in s.scalars(select(model))} == {c.ERROR}


def test_addresses_are_never_handed_out_twice(any_db):
    import threading

    got: list[str] = []
    lock = threading.Lock()

    def grab(i: int) -> None:
        for j in range(5):
            with any_db.session() as s:
                addr = addresses.allocate(s, "pool-x", "10.0.0.1", "10.0.0.100", f"o{i}-{j}")
            with lock:
                got.append(addr)

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 20 and len(set(got)) == 20
    with any_db.session() as s, pytest.raises(Exception, match="already allocated"):
        addresses.allocate(s, "pool-x", "10.0.0.1", "10.0.0.100", "z", address=got[0])


def test_a_controller_that_lost_its_lease_writes_nothing_back(any_db):
    from hydria.db import leases

    lb = make_lb(any_db, with_children=True)
    assert leases.claim_batch(any_db, "successor", lease_seconds=30) == [lb]
    with any_db.session() as s:
        assert not convergence.mark_converged(s, lb, 1, owner="stale")
        assert not convergence.mark_failed(s, lb, 1, "late", owner="stale")
    with any_db.session() as s:
        row = s.get(m.LoadBalancer, lb)
        assert (row.provisioning_status, row.lease_owner) == (c.PENDING_CREATE, "successor")
        assert convergence.mark_converged(s, lb, 1, owner="successor")


def test_converging_leaves_untouched_siblings_alone(any_db):
    """A sibling's create converges; an ACTIVE listener keeps its operating status
    (the heartbeats' word) and its updated_at, as in Octavia."""
    import datetime as dt

    lb = make_lb(any_db, with_children=True)
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 1)
    then = dt.datetime(2026, 1, 1)
    with any_db.session() as s:
        listener = s.scalars(select(m.Listener)).one()
        listener.operating_status = c.DEGRADED  # as the health manager found it
        listener.updated_at = then
        s.get(m.LoadBalancer, lb).generation = 2
        s.get(m.LoadBalancer, lb).provisioning_status = c.PENDING_UPDATE
    with any_db.session() as s:
        assert convergence.mark_converged(s, lb, 2)
    with any_db.session() as s:
        listener = s.scalars(select(m.Listener)).one()
        assert (listener.operating_status, listener.updated_at) == (c.DEGRADED, then)
