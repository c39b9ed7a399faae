"""Finding objects the caller may see, and the one write pattern.

An object that does not exist or is DELETED is "<Kind> <id> not found."
(404). One of another project is the policy's to allow
(``RequestContext.require_visible``): Octavia's 403 under Keystone when it
does not, "not found" under noauth.

Every write runs in ``write()``: one transaction; the load balancers it
touched are notified only after the commit succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hydria.api.auth.context import RequestContext
from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, NotFound
from hydria.db.engine import Database
from hydria.db.models import HealthMonitor, Listener, LoadBalancer, Member, Pool
from hydria.db.notify import Notifier
from hydria.db.transitions import begin_change, require_lb

T = TypeVar("T")


class Unit:
    """A transaction plus the load balancers to wake once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.touched: list[str] = []

    def change(self, lb: LoadBalancer, to_status: str = c.PENDING_UPDATE) -> None:
        """Lock ``lb`` for a change (409 if it is PENDING_*) and remember to notify."""
        begin_change(self.session, lb, to_status)
        if lb.id not in self.touched:
            self.touched.append(lb.id)


@contextmanager
def write(db: Database, notifier: Notifier) -> Iterator[Unit]:
    with db.session() as session:
        unit = Unit(session)
        yield unit
    for lb_id in unit.touched:
        notifier.notify(lb_id)


@contextmanager
def read(db: Database) -> Iterator[Session]:
    with db.session() as session:
        yield session


R = TypeVar("R", Listener, Pool, Member, HealthMonitor)


def get_lb(session: Session, lb_id: str, ctx: RequestContext) -> LoadBalancer:
    lb = require_lb(session, lb_id, None)
    ctx.require_visible("Load Balancer", lb_id, lb.project_id)
    return lb


def _get(session: Session, model: type[R], kind: str, key: str, ctx: RequestContext) -> R:
    row = session.get(model, key)
    if row is None or row.provisioning_status == c.DELETED:
        raise NotFound.of(kind, key)
    ctx.require_visible(kind, key, row.project_id)
    return row


def get_listener(session: Session, listener_id: str, ctx: RequestContext) -> Listener:
    return _get(session, Listener, "Listener", listener_id, ctx)


def get_pool(session: Session, pool_id: str, ctx: RequestContext) -> Pool:
    return _get(session, Pool, "Pool", pool_id, ctx)


def get_member(session: Session, pool_id: str, member_id: str,
               ctx: RequestContext) -> Member:
    row = _get(session, Member, "Member", member_id, ctx)
    if row.pool_id != pool_id:
        raise NotFound.of("Member", member_id)
    return row


def get_hm(session: Session, hm_id: str, ctx: RequestContext) -> HealthMonitor:
    return _get(session, HealthMonitor, "Health Monitor", hm_id, ctx)


def mark_parents_pending(*rows: Any) -> None:
    """Show a change on the objects it reconfigures too, as Octavia does.

    A member or monitor change puts its pool and the pool's listeners in
    PENDING_UPDATE, a pool change its listeners; the controller's write-back
    (``mark_converged``) returns them to ACTIVE with everything else. Rows
    already PENDING_* (a pool being deleted, say) keep their status.
    """
    for row in rows:
        if row.provisioning_status not in c.PENDING_STATUSES | {c.DELETED}:
            row.provisioning_status = c.PENDING_UPDATE


def require_mutable_pool(pool: Pool) -> None:
    """A pool on its way out takes no new members or monitors (Octavia's rule)."""
    if pool.provisioning_status in (c.PENDING_DELETE, c.DELETED):
        raise ImmutableObject.of("Pool", pool.id)


def lb_state_conflict(lb: LoadBalancer) -> Conflict:
    """Octavia's wording when the load balancer itself is changed while PENDING_*."""
    return Conflict(f"Invalid state {lb.provisioning_status} of loadbalancer resource {lb.id}")
