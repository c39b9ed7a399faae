"""Is a shown object waiting for its load balancer's change, and which one is it?

A ``GET`` of one object that is PENDING_* waits for its load balancer to settle
(``hydria.db.settle``, ``hydria.api.settle``). The wait is keyed by load
balancer: the answer names it for a load balancer, a listener and a pool;
members, health monitors, L7 policies and rules are looked up through their
parents (one small query, paid only by a pending answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from hydria.db.models import HealthMonitor, L7Policy, Listener, Pool
from hydria.services.unit import Env, read

PENDING_PREFIX = "PENDING_"


def is_pending(found: Mapping[str, Any]) -> bool:
    status = found.get("provisioning_status")
    return isinstance(status, str) and status.startswith(PENDING_PREFIX)


def _named(found: Mapping[str, Any]) -> str | None:
    """The load balancer an answer names (``loadbalancers: [{id}]``)."""
    lbs = found.get("loadbalancers")
    if isinstance(lbs, list) and lbs and isinstance(lbs[0], dict):
        lb_id = lbs[0].get("id")
        return lb_id if isinstance(lb_id, str) else None
    return None


def named_in_answer(root: str, found: Mapping[str, Any]) -> str | None:
    """The load balancer the answer ``found`` of a ``root`` object names itself (a load
    balancer, a listener, a pool); None for the others, or if it names none."""
    if root == "loadbalancer":
        lb_id = found.get("id")
        return lb_id if isinstance(lb_id, str) else None
    if root in ("listener", "pool"):
        return _named(found)
    return None


def load_balancer_of(
    env: Env, root: str, ids: Sequence[str], found: Mapping[str, Any]
) -> str | None:
    """The id of the load balancer the shown object (``root``, by its path ``ids``
    and its answer ``found``) belongs to; None when it cannot be told."""
    if root in ("loadbalancer", "listener", "pool"):
        return named_in_answer(root, found)
    with read(env) as session:
        if root == "member":  # /pools/{pool_id}/members/{member_id}
            query = select(Pool.load_balancer_id).where(Pool.id == ids[0])
        elif root == "healthmonitor":
            query = (
                select(Pool.load_balancer_id)
                .join(HealthMonitor, HealthMonitor.pool_id == Pool.id)
                .where(HealthMonitor.id == ids[-1])
            )
        elif root == "l7policy":
            query = (
                select(Listener.load_balancer_id)
                .join(L7Policy, L7Policy.listener_id == Listener.id)
                .where(L7Policy.id == ids[-1])
            )
        elif root == "rule":  # /l7policies/{l7policy_id}/rules/{l7rule_id}
            query = (
                select(Listener.load_balancer_id)
                .join(L7Policy, L7Policy.listener_id == Listener.id)
                .where(L7Policy.id == ids[0])
            )
        else:
            return None
        return session.scalar(query)
