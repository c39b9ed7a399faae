"""Claims and leases on real SQLite and PostgreSQL."""

import datetime as dt
import threading

from sqlalchemy import update

from hydria.core import constants as c
from hydria.db import leases
from hydria.db.models import LoadBalancer, utcnow
from tests.support.factories import make_lb


def test_only_pending_work_is_claimed(any_db):
    pending = make_lb(any_db)
    make_lb(any_db, status=c.ACTIVE)
    make_lb(any_db, status=c.ERROR)
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == [pending]
    # already leased: nobody else gets it
    assert leases.claim_batch(any_db, "b", lease_seconds=30) == []


def test_resync_claims_live_but_not_error_or_deleted(any_db):
    active = make_lb(any_db, status=c.ACTIVE)
    make_lb(any_db, status=c.ERROR)
    make_lb(any_db, status=c.DELETED)
    assert leases.claim_batch(any_db, "a", lease_seconds=30, include_settled=True) == [active]


def test_expired_lease_is_taken_over(any_db):
    lb = make_lb(any_db)
    assert leases.claim_batch(any_db, "dead", lease_seconds=30) == [lb]
    with any_db.session() as s:
        s.execute(update(LoadBalancer).values(lease_expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert leases.claim_batch(any_db, "alive", lease_seconds=30) == [lb]
    assert not leases.renew(any_db, lb, "dead", lease_seconds=30)
    assert leases.renew(any_db, lb, "alive", lease_seconds=30)


def test_release_schedules_retry(any_db):
    lb = make_lb(any_db)
    leases.claim_batch(any_db, "a", lease_seconds=30)
    leases.release(any_db, lb, "a", retry_at=utcnow() + dt.timedelta(hours=1), attempts=1)
    assert leases.claim_batch(any_db, "a", lease_seconds=30) == []
    leases.release(any_db, lb, "nobody")  # not the owner: no effect, no error


def test_targeted_claim(any_db):
    a, b = make_lb(any_db), make_lb(any_db)
    assert leases.claim_batch(any_db, "x", lease_seconds=30, only=[b]) == [b]
    assert leases.claim_batch(any_db, "x", lease_seconds=30, only=[b]) == []
    assert leases.claim_batch(any_db, "x", lease_seconds=30) == [a]


def test_concurrent_claimers_never_share(any_db):
    ids = {make_lb(any_db) for _ in range(30)}
    got: dict[str, list[str]] = {}

    def claimer(name: str) -> None:
        mine: list[str] = []
        for _ in range(20):
            mine += leases.claim_batch(any_db, name, lease_seconds=60, limit=3)
        got[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for v in got.values() for i in v]
    assert len(claimed) == len(set(claimed))
    assert set(claimed) == ids


def test_excluded_ids_are_not_claimed(any_db):
    """A controller's own in-flight ids: released a moment before they leave its
    books, they must not be claimed by it a second time."""
    a, b = make_lb(any_db), make_lb(any_db)
    assert leases.claim_batch(any_db, "x", lease_seconds=30, exclude=[a]) == [b]
    assert leases.claim_batch(any_db, "x", lease_seconds=30, exclude=[a]) == []


def test_a_resync_leaves_a_retry_to_its_backoff(any_db):
    lb = make_lb(any_db)
    leases.claim_batch(any_db, "a", lease_seconds=30)
    leases.release(any_db, lb, "a", retry_at=utcnow() + dt.timedelta(hours=1), attempts=1)
    assert leases.claim_batch(any_db, "a", lease_seconds=30, include_settled=True) == []
