"""Atomic provisioning-status transitions of a load balancer.

The API never reads a status and then writes: it asks for a transition that
only happens if the load balancer is in a state that allows it, in one UPDATE.
That single statement is what serialises API writes against each other and
against the controller, on SQLite and PostgreSQL alike.

Octavia allows changes only on ACTIVE load balancers (and deletes on ACTIVE
or ERROR). Hydria also allows changes on ERROR, so a user can repair what
made a load balancer fail instead of only deleting it (docs/architecture.md).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import ImmutableObject, NotFound
from hydria.db.models import LoadBalancer

MUTABLE = (c.ACTIVE, c.ERROR)


# the columns ``begin_change`` writes (``updated_at`` by its onupdate)
_WRITTEN = ("provisioning_status", "generation", "attempts", "next_attempt_at", "error_reason")
# built once, as Core (no ORM bulk-update machinery): every change runs it
_LB = cast(Table, LoadBalancer.__table__)
_BEGIN = (
    update(_LB)
    .where(_LB.c.id == bindparam("lb_id"), _LB.c.provisioning_status.in_(MUTABLE))
    .values(
        provisioning_status=bindparam("to_status"),
        generation=_LB.c.generation + 1,
        attempts=0,
        next_attempt_at=None,
        error_reason=None,
    )
)


def begin_change(session: Session, lb: LoadBalancer, to_status: str = c.PENDING_UPDATE) -> None:
    """Move ``lb`` to ``to_status`` if it is ACTIVE or ERROR.

    Raises ImmutableObject (409) when the load balancer is PENDING_* (or DELETED).
    Bumps ``generation`` so the controller knows the desired state moved. What
    the UPDATE wrote is read back only if the caller then uses it (an answer
    showing the load balancer): a change under it (a member's) never does.
    """
    moved = session.connection().execute(_BEGIN, {"lb_id": lb.id, "to_status": to_status})
    if moved.rowcount != 1:
        raise ImmutableObject.of("Load Balancer", lb.id)
    session.expire(lb, [*_WRITTEN, "updated_at"])


def require_lb(session: Session, lb_id: str, project_id: str | None) -> LoadBalancer:
    """The load balancer, if it exists, is not DELETED and (unless admin) is the project's."""
    lb = session.get(LoadBalancer, lb_id)
    if (
        lb is None
        or lb.provisioning_status == c.DELETED
        or (project_id is not None and lb.project_id != project_id)
    ):
        raise NotFound.of("Load Balancer", lb_id)
    return lb
