"""Per-project quotas: what a project may have, and the one check every create makes.

The stable entry point, for every API handler that creates objects::

    check_and_reserve(session, project_id, resource, count=1, *, defaults)

Call it inside the transaction that inserts the objects, *before* adding
them to the session, with ``count`` the number of ``resource`` objects about
to be created for ``project_id`` (a batch member update: the new members;
a fully-populated load balancer create: once per resource with its total,
or once per object). ``defaults`` is ``Settings.quota_defaults``. It returns
if they fit and raises ``QuotaExceeded`` (403, Octavia's "Quota has been met
for resources: Member") if not; the caller's transaction then rolls back and
nothing is written. ``resource`` is one of ``RESOURCES`` (Octavia's quota
field names: ``load_balancer``, ``listener``, ``pool``, ``member``,
``health_monitor``, ``l7policy``, ``l7rule``).

What counts: the project's objects of that kind that are not DELETED
(PENDING_DELETE still counts, as in Octavia, until the controller is done).
Usage is counted from the rows every time rather than kept in a counter, so
it can never drift from what exists.

Concurrency. Two API processes creating the project's last load balancer at
once must not both pass. Whenever a limit applies, the check first makes
sure the project's ``quotas`` row exists (``INSERT ... ON CONFLICT DO
NOTHING``) and locks it (``SELECT ... FOR UPDATE``) before it counts: the
second transaction waits on the lock until the first commits, and its count
(a new statement, so a new snapshot under READ COMMITTED) then sees the first
one's object. On SQLite every write transaction already holds the database
lock from ``BEGIN IMMEDIATE`` (``hydria.db.engine``), which serialises the
same way. A project under no limit (``-1``, the default) is neither locked
nor given a row, so creates in unlimited projects never queue on each other.

Lock order: handlers that change an existing load balancer lock its row
(``unit.change``) *before* calling this, never after, so the two locks are
always taken in the same order and cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import QuotaExceeded
from hydria.db.models import (
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Quota,
)

UNLIMITED = c.QUOTA_UNLIMITED
MAX_QUOTA = c.QUOTA_MAX

LOAD_BALANCER = "load_balancer"
LISTENER = "listener"
POOL = "pool"
MEMBER = "member"
HEALTH_MONITOR = "health_monitor"
L7POLICY = "l7policy"
L7RULE = "l7rule"

# Every quota Octavia's API shows, in its order.
NAMES = (LOAD_BALANCER, LISTENER, MEMBER, POOL, HEALTH_MONITOR, L7POLICY, L7RULE)

# The resources a create is checked for: the model counted, and the name in the fault.
RESOURCES: Mapping[str, tuple[Any, str]] = {
    LOAD_BALANCER: (LoadBalancer, "Load Balancer"),
    LISTENER: (Listener, "Listener"),
    POOL: (Pool, "Pool"),
    MEMBER: (Member, "Member"),
    HEALTH_MONITOR: (HealthMonitor, "Health Monitor"),
    L7POLICY: (L7Policy, "L7 Policy"),
    L7RULE: (L7Rule, "L7 Rule"),
}


def effective(row: Quota | None, defaults: Mapping[str, int]) -> dict[str, int]:
    """Every limit of a project: its own where set, the configured default elsewhere."""
    own = {name: getattr(row, name) if row is not None else None for name in NAMES}
    return {name: defaults[name] if value is None else value for name, value in own.items()}


def in_use(session: Session, project_id: str, resource: str) -> int:
    """How many of the project's ``resource`` objects are not DELETED."""
    model, _ = RESOURCES[resource]
    return (
        session.scalar(
            select(func.count())
            .select_from(model)
            .where(model.project_id == project_id, model.provisioning_status != c.DELETED)
        )
        or 0
    )


def check_and_reserve(
    session: Session, project_id: str, resource: str, count: int = 1, *, defaults: Mapping[str, int]
) -> None:
    """Raise QuotaExceeded unless ``count`` more ``resource`` objects fit the project's quota.

    Holds the project's quota row locked until the caller's transaction ends, so
    the objects the caller then inserts are counted by every later check.
    """
    if resource not in RESOURCES:
        raise ValueError(f"no quota is counted for {resource!r}")
    if count <= 0:
        return
    if _limit(session, project_id, resource, defaults) == UNLIMITED:
        return
    _lock(session, project_id)
    limit = _limit(session, project_id, resource, defaults)  # as it is now, under the lock
    if limit == UNLIMITED:
        return
    if in_use(session, project_id, resource) + count > limit:
        raise QuotaExceeded.of(RESOURCES[resource][1])


def _limit(session: Session, project_id: str, resource: str, defaults: Mapping[str, int]) -> int:
    stored = session.scalar(select(getattr(Quota, resource)).where(Quota.project_id == project_id))
    return defaults[resource] if stored is None else int(stored)


def ensure_row(session: Session, project_id: str) -> None:
    """The project's quota row, created empty (every limit its default) if missing."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(Quota)
        .values(project_id=project_id)
        .on_conflict_do_nothing(index_elements=["project_id"])
    )


def _lock(session: Session, project_id: str) -> None:
    ensure_row(session, project_id)
    session.execute(
        select(Quota.project_id).where(Quota.project_id == project_id).with_for_update()
    )
