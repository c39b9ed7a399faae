"""How a change to one object of a load balancer's tree is written, for every kind.

Updating or deleting a listener, pool, member, health monitor, L7 policy or
L7 rule, or creating one under its parent, is the same three steps in
Octavia: lock the load balancer (409 while it is PENDING_*), put the objects
the change reconfigures in PENDING_UPDATE (the parent chain up to the
listener, and a pool's listeners), then set the row itself. The kinds differ
only in which row is their parent, which ``PARENT`` says once; the checks
particular to a kind stay in its own module and run before these steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool
from hydria.services.context import RequestContext
from hydria.services.lookup import (
    get_l7policy,
    get_lb,
    get_listener,
    get_pool,
    listeners_of,
    mark_parents_pending,
)
from hydria.services.unit import Unit

C = TypeVar("C", Listener, Pool, Member, HealthMonitor, L7Policy, L7Rule)
Child = Listener | Pool | Member | HealthMonitor | L7Policy | L7Rule
Node = LoadBalancer | Child

# The column naming the row each kind hangs from, and how that row is found as
# the caller may see it (404/403 otherwise)
PARENT: dict[type[Any], tuple[str, Callable[[Session, str, RequestContext], Node]]] = {
    Listener: ("load_balancer_id", get_lb),
    Pool: ("load_balancer_id", get_lb),
    Member: ("pool_id", get_pool),
    HealthMonitor: ("pool_id", get_pool),
    L7Policy: ("listener_id", get_listener),
    L7Rule: ("l7policy_id", get_l7policy),
}


def new_row(
    model: type[C], parent: Node, values: Mapping[str, Any], *, operating_status: str = c.OFFLINE
) -> C:
    """A new ``model`` row under ``parent``, in its project, in PENDING_CREATE."""
    return model(
        id=str(uuid.uuid4()),
        project_id=parent.project_id,
        provisioning_status=c.PENDING_CREATE,
        operating_status=operating_status,
        **{PARENT[model][0]: parent.id},
        **values,
    )


def begin_under(unit: Unit, ctx: RequestContext, row: Node) -> None:
    """Begin a change at or below ``row``: its load balancer locked for the change,
    ``row`` and what it reconfigures above it in PENDING_UPDATE."""
    if isinstance(row, LoadBalancer):
        unit.change(row)
        return
    column, find = PARENT[type(row)]
    begin_under(unit, ctx, find(unit.session, getattr(row, column), ctx))
    mark_parents_pending(row, *(listeners_of(row) if isinstance(row, Pool) else ()))


def update(unit: Unit, ctx: RequestContext, row: Child, changes: Mapping[str, Any]) -> None:
    """Write the checked ``changes`` of ``row`` as a pending update."""
    begin_under(unit, ctx, row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.provisioning_status = c.PENDING_UPDATE
    unit.session.flush()


def delete(unit: Unit, ctx: RequestContext, row: Child) -> None:
    """Mark ``row`` for deletion (the controller removes it and its children)."""
    begin_under(unit, ctx, row)
    row.provisioning_status = c.PENDING_DELETE
