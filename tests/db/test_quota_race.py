"""Quota checks under concurrency: creates racing for the last slot, on real databases.

Each racer is a transaction of its own (as two API processes would run):
check_and_reserve, insert the load balancer, commit. Exactly as many win as
there are slots, however the transactions interleave.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, select

from hydria.core import constants as c
from hydria.core.errors import QuotaExceeded
from hydria.db import quotas
from hydria.db.engine import Database
from hydria.db.models import LoadBalancer, Quota

pytestmark = pytest.mark.postgres

DEFAULTS = dict.fromkeys(quotas.NAMES, quotas.UNLIMITED)
PROJECT = "racer"


def _set_limit(db: Database, limit: int) -> None:
    with db.session() as s:
        s.add(Quota(project_id=PROJECT, load_balancer=limit))


def _lb(status: str = c.PENDING_CREATE) -> LoadBalancer:
    return LoadBalancer(
        id=str(uuid.uuid4()),
        project_id=PROJECT,
        provisioning_status=status,
        operating_status=c.OFFLINE,
    )


def _live(db: Database) -> int:
    with db.session() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(LoadBalancer)
                .where(
                    LoadBalancer.project_id == PROJECT,
                    LoadBalancer.provisioning_status != c.DELETED,
                )
            )
            or 0
        )


def test_the_second_waits_for_the_first_and_is_refused(pg_db: Database):
    """A holds the last slot, uncommitted; B must wait on it, then see A's row."""
    _set_limit(pg_db, 1)
    a_checked, b_started, a_commit = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def racer_a() -> None:
        with pg_db.session() as s:
            quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=DEFAULTS)
            s.add(_lb())
            s.flush()
            a_checked.set()
            a_commit.wait(10)
        outcome["a"] = "created"

    def racer_b() -> None:
        a_checked.wait(10)
        b_started.set()
        try:
            with pg_db.session() as s:
                quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=DEFAULTS)
                s.add(_lb())
            outcome["b"] = "created"
        except QuotaExceeded as exc:
            outcome["b"] = exc.message

    ta, tb = threading.Thread(target=racer_a), threading.Thread(target=racer_b)
    ta.start()
    tb.start()
    b_started.wait(10)
    tb.join(0.5)
    assert tb.is_alive(), "B must wait for A's lock on the quota row"
    a_commit.set()
    ta.join(10)
    tb.join(10)
    assert outcome == {"a": "created", "b": "Quota has been met for resources: Load Balancer"}
    assert _live(pg_db) == 1


@pytest.mark.parametrize("slots", [1, 3])
def test_a_stampede_fills_exactly_the_free_slots(any_db: Database, slots: int):
    """Eight creates at once in a project with ``slots`` free: ``slots`` win."""
    with any_db.session() as s:
        s.add(_lb(status=c.DELETED))  # DELETED rows never count
        s.add(_lb(status=c.ACTIVE))
    _set_limit(any_db, slots + 1)
    start = threading.Barrier(8)
    results: list[str] = []
    lock = threading.Lock()

    def racer() -> None:
        start.wait(10)
        try:
            with any_db.session() as s:
                quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=DEFAULTS)
                s.add(_lb())
            result = "created"
        except QuotaExceeded:
            result = "refused"
        with lock:
            results.append(result)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["created"] * slots + ["refused"] * (8 - slots)
    assert _live(any_db) == slots + 1


def test_a_project_without_limits_gets_no_row(any_db: Database):
    with any_db.session() as s:
        quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=DEFAULTS)
        s.add(_lb())
    with any_db.session() as s:
        assert s.get(Quota, PROJECT) is None


def test_a_default_limit_locks_through_a_new_row(any_db: Database):
    limited = {**DEFAULTS, quotas.LOAD_BALANCER: 1}
    with any_db.session() as s:
        quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=limited)
        s.add(_lb())
    with any_db.session() as s:
        row = s.get(Quota, PROJECT)
        assert row is not None and row.load_balancer is None  # still "the default"
    with pytest.raises(QuotaExceeded), any_db.session() as s:
        quotas.check_and_reserve(s, PROJECT, quotas.LOAD_BALANCER, defaults=limited)


def test_unknown_resource_is_a_programming_error(sqlite_db: Database):
    with pytest.raises(ValueError), sqlite_db.session() as s:
        quotas.check_and_reserve(s, PROJECT, "amphora", defaults=DEFAULTS)
