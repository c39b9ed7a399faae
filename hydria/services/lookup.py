"""Finding the objects a caller may see, and the status rules around a change.

An object that does not exist or is DELETED is "<Kind> <id> not found."
(404). One of another project is the policy's to allow
(``RequestContext.require_visible``): Octavia's 403 under Keystone when it
does not, "not found" under noauth.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, object_session

from hydria.core import constants as c
from hydria.core.errors import Conflict, ImmutableObject, NotFound, ParentNotFound
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool
from hydria.db.transitions import require_lb
from hydria.services.context import RequestContext
from hydria.services.unit import Env, read

R = TypeVar("R", Listener, Pool, Member, HealthMonitor, L7Policy, L7Rule)


def get_lb(session: Session, lb_id: str, ctx: RequestContext) -> LoadBalancer:
    lb = require_lb(session, lb_id, None)
    ctx.require_visible("Load Balancer", lb_id, lb.project_id)
    return lb


def _get(
    session: Session,
    model: type[R],
    kind: str,
    key: str,
    ctx: RequestContext,
    under: tuple[str, str] | None = None,
) -> R:
    """A live row the caller may see; ``under`` (parent column, id): a child (a
    member, a rule) is found only under the parent its path names."""
    row = session.get(model, key)
    if row is None or row.provisioning_status == c.DELETED:
        raise NotFound.of(kind, key)
    ctx.require_visible(kind, key, row.project_id)
    if under is not None and getattr(row, under[0]) != under[1]:
        raise NotFound.of(kind, key)
    return row


# The objects a path goes through, by the name Octavia gives them when it finds one
# missing while routing (``pools/{id}/members``, ``l7policies/{id}/rules``)
PARENTS: dict[str, type[Pool | L7Policy]] = {"Pool": Pool, "L7Policy": L7Policy}


def require_parent(env: Env, kind: str, key: str) -> None:
    """``ParentNotFound`` unless the ``kind`` object ``key`` of a path exists (in any
    project: Octavia looks for it by id alone, before any policy check)."""
    model = PARENTS[kind]
    with read(env) as session:
        status = session.scalar(select(model.provisioning_status).where(model.id == key))
        if status is None or status == c.DELETED:
            raise ParentNotFound.of(kind, key)


def get_listener(session: Session, listener_id: str, ctx: RequestContext) -> Listener:
    return _get(session, Listener, "Listener", listener_id, ctx)


def get_pool(session: Session, pool_id: str, ctx: RequestContext) -> Pool:
    return _get(session, Pool, "Pool", pool_id, ctx)


def get_member(session: Session, pool_id: str, member_id: str, ctx: RequestContext) -> Member:
    return _get(session, Member, "Member", member_id, ctx, ("pool_id", pool_id))


def get_hm(session: Session, hm_id: str, ctx: RequestContext) -> HealthMonitor:
    return _get(session, HealthMonitor, "Health Monitor", hm_id, ctx)


def get_l7policy(session: Session, policy_id: str, ctx: RequestContext) -> L7Policy:
    return _get(session, L7Policy, "L7 Policy", policy_id, ctx)


def get_l7rule(session: Session, policy_id: str, rule_id: str, ctx: RequestContext) -> L7Rule:
    return _get(session, L7Rule, "L7 Rule", rule_id, ctx, ("l7policy_id", policy_id))


# How a listener reaches a pool other than its default one, on a join of the listener
# and its L7 policies: a live listener, an enabled live policy, and at least one live
# rule (a policy without rules never matches). Also the read path's, in views.
REDIRECTING = (
    L7Policy.admin_state_up.is_(True),
    L7Policy.provisioning_status != c.DELETED,
    Listener.provisioning_status != c.DELETED,
    select(L7Rule.id)
    .where(L7Rule.l7policy_id == L7Policy.id, L7Rule.provisioning_status != c.DELETED)
    .exists(),
)


# ``listeners_of``'s two look-ups, built once (the pool's id bound at execution):
# every change under a pool asks them
_POOL: Any = bindparam("pool_id")
_DIRECT = (
    select(Listener)
    .where(Listener.default_pool_id == _POOL, Listener.provisioning_status != c.DELETED)
    .order_by(Listener.created_at)
)
_THROUGH = (
    select(Listener)
    .join(L7Policy, L7Policy.listener_id == Listener.id)
    .where(L7Policy.redirect_pool_id == _POOL, *REDIRECTING)
    .order_by(Listener.created_at)
)


def listeners_of(pool: Pool) -> list[Listener]:
    """The live listeners that use ``pool``, oldest first, as Octavia's ``pool.listeners``:
    as their default pool, or through an enabled L7 policy with a rule that redirects
    to it."""
    session = object_session(pool)
    if session is None:
        return []
    direct = list(session.scalars(_DIRECT, {"pool_id": pool.id}))
    through = session.scalars(_THROUGH, {"pool_id": pool.id})
    seen = {li.id for li in direct}
    for li in through:
        if li.id not in seen:
            seen.add(li.id)
            direct.append(li)
    return direct


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
