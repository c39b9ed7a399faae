"""Claiming load balancers for convergence, under leases that expire.

A controller owns a load balancer while ``lease_owner`` is its id and
``lease_expires_at`` is in the future; it renews the lease while it works. A
controller that dies simply stops renewing, and the next claim after expiry
takes the work over: nothing stays PENDING_* longer than a lease.

On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP LOCKED`` so controllers
never queue behind each other; on SQLite the transaction already holds the
write lock (``BEGIN IMMEDIATE``), and the ``UPDATE`` is conditional anyway.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, bindparam, exists, or_, select, update

from hydria.core import constants as c
from hydria.db.engine import Database, rows_matched
from hydria.db.models import Amphora, LoadBalancer, utcnow

_LB = cast(Table, LoadBalancer.__table__)
_NOW: Any = bindparam("now", type_=_LB.c.lease_expires_at.type)


def _lease_free(now: Any) -> ColumnElement[bool]:
    return or_(_LB.c.lease_expires_at.is_(None), _LB.c.lease_expires_at < now)


def _needs_work(now: Any) -> ColumnElement[bool]:
    failover = exists().where(
        and_(
            Amphora.load_balancer_id == _LB.c.id,
            Amphora.failover_requested.is_(True),
            Amphora.status != c.DELETED,
        )
    )
    return and_(
        or_(_LB.c.provisioning_status.in_(sorted(c.PENDING_STATUSES)), failover),
        or_(_LB.c.next_attempt_at.is_(None), _LB.c.next_attempt_at <= now),
    )


@functools.cache
def _candidates(
    *, include_settled: bool, only: bool, exclude: bool, skip_locked: bool
) -> Select[Any]:
    """The claim's look-up, built once for each of its shapes (its values are bound at
    execution: ``now``, ``limit``, and the ``only`` and ``exclude`` lists), so that
    SQLAlchemy neither builds nor keys it again at every claim."""
    cond = _lease_free(_NOW)
    if not include_settled:
        cond = and_(cond, _needs_work(_NOW))
    else:
        cond = and_(
            cond,
            _LB.c.provisioning_status.notin_([c.DELETED, c.ERROR]),
            or_(_LB.c.next_attempt_at.is_(None), _LB.c.next_attempt_at <= _NOW),
        )
    if only:
        cond = and_(cond, _LB.c.id.in_(bindparam("only", expanding=True)))
    if exclude:
        cond = and_(cond, _LB.c.id.notin_(bindparam("exclude", expanding=True)))
    query = select(_LB.c.id).where(cond).order_by(_LB.c.updated_at).limit(bindparam("limit"))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=_LB)
    return query


# one claim: taken only if the lease is still free (``updated_at`` kept as it is)
_TAKE = (
    update(_LB)
    .where(_LB.c.id == bindparam("lb_id"), _lease_free(_NOW))
    .values(
        lease_owner=bindparam("claim_owner"),
        lease_expires_at=bindparam("claim_expires", type_=_LB.c.lease_expires_at.type),
        updated_at=_LB.c.updated_at,
    )
)


def claim_batch(
    db: Database,
    owner: str,
    *,
    lease_seconds: float,
    limit: int = 8,
    only: list[str] | None = None,
    exclude: list[str] | None = None,
    include_settled: bool = False,
) -> list[str]:
    """Claim up to ``limit`` load balancers that need work; return their ids.

    ``only`` narrows the claim to given ids (a targeted wake-up); ``exclude``
    leaves out ids (the caller's own in flight); ``include_settled`` also claims
    live ones that need no work (a resync), but not one waiting out a retry's
    backoff; ERROR ones wait for their user. Core statements built once
    (``_candidates``, ``_TAKE``): a claim follows every change, and building
    and keying these statements had cost more than running them.
    """
    now = utcnow()
    expires = now + dt.timedelta(seconds=lease_seconds)
    query = _candidates(
        include_settled=include_settled,
        only=only is not None,
        exclude=bool(exclude),
        skip_locked=not db.is_sqlite,
    )
    params: dict[str, Any] = {"now": now, "limit": limit}
    if only is not None:
        params["only"] = only
    if exclude:
        params["exclude"] = exclude
    with db.session() as session:
        conn = session.connection()
        ids = list(conn.execute(query, params).scalars())
        claimed = []
        for lb_id in ids:
            taken = conn.execute(
                _TAKE, {"lb_id": lb_id, "now": now, "claim_owner": owner, "claim_expires": expires}
            )
            if taken.rowcount == 1:
                claimed.append(lb_id)
        return claimed


def live_ids(db: Database) -> list[str]:
    """Every load balancer a resync should look at, least recently touched first."""
    with db.session() as session:
        return list(
            session.scalars(
                select(LoadBalancer.id)
                .where(LoadBalancer.provisioning_status.notin_([c.DELETED, c.ERROR]))
                .order_by(LoadBalancer.updated_at)
            )
        )


def renew(db: Database, lb_id: str, owner: str, *, lease_seconds: float) -> bool:
    """Extend a lease this owner still holds; False means it was lost."""
    with db.session() as session:
        matched = rows_matched(
            session,
            update(LoadBalancer)
            .where(LoadBalancer.id == lb_id, LoadBalancer.lease_owner == owner)
            .values(
                lease_expires_at=utcnow() + dt.timedelta(seconds=lease_seconds),
                updated_at=LoadBalancer.updated_at,
            )
            .execution_options(synchronize_session=False),
        )
        return matched == 1


def renew_all(
    db: Database, lb_ids: list[str], owner: str, *, lease_seconds: float
) -> dict[str, str | None]:
    """Extend every lease of ``lb_ids`` this owner still holds, in one transaction.

    One write however many leases are held, so a renewal waits for the write
    lock once, not once per lease. Returns the ids *not* renewed, each with
    the owner its row names now (``None``: nobody holds it, e.g. released by
    the work that just finished); a missing row is left out.
    """
    if not lb_ids:
        return {}
    with db.session() as session:
        session.execute(
            update(LoadBalancer)
            .where(LoadBalancer.id.in_(lb_ids), LoadBalancer.lease_owner == owner)
            .values(
                lease_expires_at=utcnow() + dt.timedelta(seconds=lease_seconds),
                updated_at=LoadBalancer.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(LoadBalancer.id, LoadBalancer.lease_owner).where(LoadBalancer.id.in_(lb_ids))
        ).all()
    return {r.id: r.lease_owner for r in rows if r.lease_owner != owner}


def release(
    db: Database,
    lb_id: str,
    owner: str,
    *,
    retry_at: dt.datetime | None = None,
    attempts: int | None = None,
    error_reason: str | None = None,
) -> None:
    """Give a claim back, optionally scheduling the next attempt."""
    values: dict[str, object] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "next_attempt_at": retry_at,
        "updated_at": LoadBalancer.updated_at,
    }
    if attempts is not None:
        values["attempts"] = attempts
    if error_reason is not None:
        values["error_reason"] = error_reason
    with db.session() as session:
        session.execute(
            update(LoadBalancer)
            .where(LoadBalancer.id == lb_id, LoadBalancer.lease_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
