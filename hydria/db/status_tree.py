"""A load balancer's objects, loaded at once for Octavia's status tree.

Octavia's tree follows listeners: load balancer → listeners → the pools each
listener sends traffic to → members and health monitor. A listener's pools are
its default pool, then the pools its enabled L7 policies with a rule redirect
to (Octavia's ``listener.pools``); a pool no listener uses does not appear (as
in Octavia). Each listener also lists its L7 policies and their rules (a
Hydria addition). DELETED rows are left out; objects on their way out
(PENDING_DELETE) still show, with that status.

Six queries whatever the size of the load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool


@dataclass(frozen=True)
class StatusTree:
    lb: LoadBalancer
    listeners: tuple[Listener, ...]
    pools: dict[str, Pool] = field(default_factory=dict)
    members: dict[str, tuple[Member, ...]] = field(default_factory=dict)
    monitors: dict[str, HealthMonitor] = field(default_factory=dict)
    policies: dict[str, tuple[L7Policy, ...]] = field(default_factory=dict)  # by listener
    rules: dict[str, tuple[L7Rule, ...]] = field(default_factory=dict)  # by policy

    def pools_of(self, listener: Listener) -> tuple[Pool, ...]:
        ids = [listener.default_pool_id]
        ids += [
            p.redirect_pool_id
            for p in self.policies.get(listener.id, ())
            if p.admin_state_up and self.rules.get(p.id)
        ]
        out: list[Pool] = []
        for pool_id in ids:
            pool = self.pools.get(pool_id or "")
            if pool is not None and pool not in out:
                out.append(pool)
        return tuple(out)


def load(session: Session, lb: LoadBalancer) -> StatusTree:
    listeners = tuple(
        session.scalars(
            select(Listener)
            .where(Listener.load_balancer_id == lb.id, Listener.provisioning_status != c.DELETED)
            .order_by(Listener.created_at, Listener.id)
        )
    )
    pools = {
        p.id: p
        for p in session.scalars(
            select(Pool).where(
                Pool.load_balancer_id == lb.id, Pool.provisioning_status != c.DELETED
            )
        )
    }
    members: dict[str, list[Member]] = {}
    for member in session.scalars(
        select(Member)
        .where(Member.pool_id.in_(list(pools)), Member.provisioning_status != c.DELETED)
        .order_by(Member.created_at, Member.id)
    ):
        members.setdefault(member.pool_id, []).append(member)
    monitors = {
        hm.pool_id: hm
        for hm in session.scalars(
            select(HealthMonitor).where(
                HealthMonitor.pool_id.in_(list(pools)),
                HealthMonitor.provisioning_status != c.DELETED,
            )
        )
    }
    policies: dict[str, list[L7Policy]] = {}
    for policy in session.scalars(
        select(L7Policy)
        .where(
            L7Policy.listener_id.in_([li.id for li in listeners]),
            L7Policy.provisioning_status != c.DELETED,
        )
        .order_by(L7Policy.position, L7Policy.created_at, L7Policy.id)
    ):
        policies.setdefault(policy.listener_id, []).append(policy)
    rules: dict[str, list[L7Rule]] = {}
    for rule in session.scalars(
        select(L7Rule)
        .where(
            L7Rule.l7policy_id.in_([p.id for ps in policies.values() for p in ps]),
            L7Rule.provisioning_status != c.DELETED,
        )
        .order_by(L7Rule.created_at, L7Rule.id)
    ):
        rules.setdefault(rule.l7policy_id, []).append(rule)
    return StatusTree(
        lb=lb,
        listeners=listeners,
        pools=pools,
        members={k: tuple(v) for k, v in members.items()},
        monitors=monitors,
        policies={k: tuple(v) for k, v in policies.items()},
        rules={k: tuple(v) for k, v in rules.items()},
    )
