"""A load balancer's objects, loaded at once for Octavia's status tree.

Octavia's tree follows listeners: load balancer → listeners → the pools each
listener sends traffic to → members and health monitor. Hydria has no L7
policies yet, so a listener's pools are its default pool; a pool no listener
uses does not appear (as in Octavia). DELETED rows are left out; objects on
their way out (PENDING_DELETE) still show, with that status.

Four queries whatever the size of the load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db.models import HealthMonitor, Listener, LoadBalancer, Member, Pool


@dataclass(frozen=True)
class StatusTree:
    lb: LoadBalancer
    listeners: tuple[Listener, ...]
    pools: dict[str, Pool] = field(default_factory=dict)
    members: dict[str, tuple[Member, ...]] = field(default_factory=dict)
    monitors: dict[str, HealthMonitor] = field(default_factory=dict)

    def pools_of(self, listener: Listener) -> tuple[Pool, ...]:
        pool = self.pools.get(listener.default_pool_id or "")
        return (pool,) if pool is not None else ()


def load(session: Session, lb: LoadBalancer) -> StatusTree:
    listeners = tuple(session.scalars(
        select(Listener)
        .where(Listener.load_balancer_id == lb.id, Listener.provisioning_status != c.DELETED)
        .order_by(Listener.created_at, Listener.id)))
    pools = {p.id: p for p in session.scalars(
        select(Pool).where(Pool.load_balancer_id == lb.id, Pool.provisioning_status != c.DELETED))}
    members: dict[str, list[Member]] = {}
    for member in session.scalars(
            select(Member)
            .where(Member.pool_id.in_(list(pools)), Member.provisioning_status != c.DELETED)
            .order_by(Member.created_at, Member.id)):
        members.setdefault(member.pool_id, []).append(member)
    monitors = {hm.pool_id: hm for hm in session.scalars(
        select(HealthMonitor).where(HealthMonitor.pool_id.in_(list(pools)),
                                    HealthMonitor.provisioning_status != c.DELETED))}
    return StatusTree(lb=lb, listeners=listeners, pools=pools,
                      members={k: tuple(v) for k, v in members.items()}, monitors=monitors)
