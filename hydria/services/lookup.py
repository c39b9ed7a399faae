"""Finding the objects a caller may see, and the status rules around a change.

An object is visible when it exists, is not DELETED, and belongs to the
caller's project (an admin sees every project); anything else is "<Kind>
<id> not found." (404), so other projects' ids leak nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, NotFound
from hydria.db.models import HealthMonitor, Listener, LoadBalancer, Member, Pool
from hydria.db.transitions import require_lb
from hydria.services.context import RequestContext

R = TypeVar("R", Listener, Pool, Member, HealthMonitor)


def get_lb(session: Session, lb_id: str, ctx: RequestContext) -> LoadBalancer:
    return require_lb(session, lb_id, ctx.scope)


def _get(session: Session, model: type[R], kind: str, key: str, ctx: RequestContext) -> R:
    row = session.get(model, key)
    if row is None or row.provisioning_status == c.DELETED or not ctx.can_see(
            row.project_id):
        raise NotFound.of(kind, key)
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


def listeners_of(pool: Pool) -> list[Listener]:
    """The live listeners whose default pool is ``pool``, oldest first."""
    session = object_session(pool)
    if session is None:
        return []
    return list(session.scalars(
        select(Listener).where(Listener.default_pool_id == pool.id,
                               Listener.provisioning_status != c.DELETED)
        .order_by(Listener.created_at)))


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


def live(rows: Any) -> list[Any]:
    return [r for r in rows if r.provisioning_status != c.DELETED]
