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

from sqlalchemy import update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import ImmutableObject, NotFound
from hydria.db.engine import rows_matched
from hydria.db.models import LoadBalancer

MUTABLE = (c.ACTIVE, c.ERROR)


def begin_change(session: Session, lb: LoadBalancer, to_status: str = c.PENDING_UPDATE) -> int:
    """Move ``lb`` to ``to_status`` if it is ACTIVE or ERROR; return its new generation.

    Raises ImmutableObject (409) when the load balancer is PENDING_* (or DELETED).
    Bumps ``generation`` so the controller knows the desired state moved.
    """
    matched = rows_matched(
        session,
        update(LoadBalancer)
        .where(LoadBalancer.id == lb.id, LoadBalancer.provisioning_status.in_(MUTABLE))
        .values(
            provisioning_status=to_status,
            generation=LoadBalancer.generation + 1,
            attempts=0,
            next_attempt_at=None,
            error_reason=None,
        )
        .execution_options(synchronize_session=False),
    )
    if matched != 1:
        raise ImmutableObject.of("Load Balancer", lb.id)
    session.refresh(lb)
    return lb.generation


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
