"""Writing back what the controller achieved, in one transaction each.

``mark_converged`` only succeeds if the load balancer's ``generation`` is still
the one the controller converged; if the API accepted a newer change in the
meantime, nothing is marked and the newer change is claimed next. This is how
no update is ever lost, whichever controller dies when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db import addresses
from hydria.db import models as m
from hydria.db.engine import rows_matched

_PENDING = sorted(c.PENDING_STATUSES)


# the write-back's look-ups, built once (ids bound at execution): every converged
# change runs them, and building and keying them cost more than running them
_LB_ID: Any = bindparam("lb_id")
_IDS: Any = bindparam("ids", expanding=True)
_LISTENERS = select(m.Listener).where(m.Listener.load_balancer_id == _LB_ID)
_POOLS = select(m.Pool).where(m.Pool.load_balancer_id == _LB_ID)
_MEMBERS = select(m.Member).where(m.Member.pool_id.in_(_IDS))
_MONITORS = select(m.HealthMonitor).where(m.HealthMonitor.pool_id.in_(_IDS))
_POLICIES = select(m.L7Policy).where(m.L7Policy.listener_id.in_(_IDS))
_RULES = select(m.L7Rule).where(m.L7Rule.l7policy_id.in_(_IDS))


def _children(
    session: Session, lb_id: str
) -> tuple[list[m.Listener], list[m.Pool], list[m.Member], list[m.HealthMonitor]]:
    listeners = list(session.scalars(_LISTENERS, {"lb_id": lb_id}))
    pools = list(session.scalars(_POOLS, {"lb_id": lb_id}))
    pool_ids = [p.id for p in pools]
    if not pool_ids:  # nothing to look under: no statement
        return listeners, pools, [], []
    members = list(session.scalars(_MEMBERS, {"ids": pool_ids}))
    monitors = list(session.scalars(_MONITORS, {"ids": pool_ids}))
    return listeners, pools, members, monitors


def _l7(session: Session, listener_ids: list[str]) -> tuple[list[m.L7Policy], list[m.L7Rule]]:
    if not listener_ids:
        return [], []
    policies = list(session.scalars(_POLICIES, {"ids": listener_ids}))
    if not policies:
        return policies, []
    rules = list(session.scalars(_RULES, {"ids": [p.id for p in policies]}))
    return policies, rules


Children = tuple[
    list[m.Listener],
    list[m.Pool],
    list[m.Member],
    list[m.HealthMonitor],
    list[m.L7Policy],
    list[m.L7Rule],
]


def _purge_deleted_l7(
    session: Session, listeners: list[m.Listener], gone_pools: set[str]
) -> tuple[list[m.L7Policy], list[m.L7Rule]]:
    """Remove deleted rules and policies (and those of deleted listeners) first;
    return the policies and rules that stay."""
    gone_listeners = {li.id for li in listeners if li.provisioning_status == c.PENDING_DELETE}
    policies, rules = _l7(session, [li.id for li in listeners])
    gone_policies = {
        p.id
        for p in policies
        if p.provisioning_status == c.PENDING_DELETE or p.listener_id in gone_listeners
    }
    for rule in rules:
        if rule.provisioning_status == c.PENDING_DELETE or rule.l7policy_id in gone_policies:
            session.delete(rule)
    session.flush()
    for policy in policies:
        if policy.id in gone_policies:
            session.delete(policy)
        elif policy.redirect_pool_id in gone_pools:  # the API refuses this; never dangle
            policy.redirect_pool_id = None
    session.flush()
    kept_rules = [
        r
        for r in rules
        if r.provisioning_status != c.PENDING_DELETE and r.l7policy_id not in gone_policies
    ]
    return [p for p in policies if p.id not in gone_policies], kept_rules


def _purge_deleted_children(session: Session, lb_id: str) -> Children:
    """Remove rows the user deleted (PENDING_DELETE), children before parents;
    return the rows that stay, so the caller does not read them again."""
    listeners, pools, members, monitors = _children(session, lb_id)
    gone_pools = {p.id for p in pools if p.provisioning_status == c.PENDING_DELETE}
    policies, rules = _purge_deleted_l7(session, listeners, gone_pools)
    for mon in monitors:
        if mon.provisioning_status == c.PENDING_DELETE or mon.pool_id in gone_pools:
            session.delete(mon)
    for mem in members:
        if mem.provisioning_status == c.PENDING_DELETE or mem.pool_id in gone_pools:
            session.delete(mem)
    for lst in listeners:
        if lst.default_pool_id in gone_pools:
            lst.default_pool_id = None
    session.flush()
    for lst in listeners:
        if lst.provisioning_status == c.PENDING_DELETE:
            session.delete(lst)
    session.flush()
    for pool in pools:
        if pool.id in gone_pools:
            session.delete(pool)
    session.flush()
    gone_monitors = {
        mon.id
        for mon in monitors
        if mon.provisioning_status == c.PENDING_DELETE or mon.pool_id in gone_pools
    }
    return (
        [lst for lst in listeners if lst.provisioning_status != c.PENDING_DELETE],
        [p for p in pools if p.id not in gone_pools],
        [
            mem
            for mem in members
            if mem.provisioning_status != c.PENDING_DELETE and mem.pool_id not in gone_pools
        ],
        [mon for mon in monitors if mon.id not in gone_monitors],
        policies,
        rules,
    )


def begin_failover(session: Session, lb_id: str) -> bool:
    """An amphora of ``lb_id`` is being replaced: show PENDING_UPDATE, as Octavia does.

    Only an ACTIVE load balancer moves (one conditional UPDATE, like the API's
    transitions), so the API answers 409 to changes while the failover runs.
    ``generation`` stays: the desired state did not change, and
    ``mark_converged`` at the same generation brings it back to ACTIVE. One in
    ERROR stays ERROR until the replacement serves.
    """
    matched = rows_matched(
        session,
        update(m.LoadBalancer)
        .where(m.LoadBalancer.id == lb_id, m.LoadBalancer.provisioning_status == c.ACTIVE)
        .values(provisioning_status=c.PENDING_UPDATE)
        .execution_options(synchronize_session=False),
    )
    return matched == 1


def _own_lb(
    session: Session, lb_id: str, generation: int, owner: str | None
) -> m.LoadBalancer | None:
    """The load balancer row, locked, if it is still at ``generation`` and (when
    ``owner`` is given) still leased by ``owner``: a controller whose lease ran out
    and was taken over must not write its outcome over its successor's work."""
    lb = session.get(m.LoadBalancer, lb_id, with_for_update=True, populate_existing=True)
    if lb is None or lb.generation != generation:
        return None
    if owner is not None and lb.lease_owner != owner:
        return None
    return lb


def mark_converged(
    session: Session, lb_id: str, generation: int, *, owner: str | None = None
) -> bool:
    """Everything pending of ``lb_id`` at ``generation`` is now live: settle it.

    Returns False (and changes nothing) if the desired state moved on, or if
    ``owner`` no longer holds the lease.
    """
    lb = _own_lb(session, lb_id, generation, owner)
    if lb is None:
        return False
    if lb.provisioning_status == c.PENDING_DELETE:
        return mark_deleted(session, lb_id, generation)
    listeners, pools, members, monitors, policies, rules = _purge_deleted_children(session, lb_id)
    l7_rows: list[m.L7Policy | m.L7Rule] = [*policies, *rules]
    for row in l7_rows:
        row.provisioning_status = c.ACTIVE
        row.operating_status = c.ONLINE if row.admin_state_up else c.OFFLINE
    has_monitor = {mon.pool_id for mon in monitors if mon.admin_state_up}
    for mon in monitors:
        mon.provisioning_status = c.ACTIVE
        mon.operating_status = c.ONLINE if mon.admin_state_up else c.OFFLINE
    for mem in members:
        mem.provisioning_status = c.ACTIVE
        if not mem.admin_state_up:
            mem.operating_status = c.OFFLINE
        elif mem.pool_id not in has_monitor:
            mem.operating_status = c.NO_MONITOR
        elif mem.operating_status in (c.OFFLINE, c.NO_MONITOR):
            # health reports will refine this from HAProxy's own checks
            mem.operating_status = c.ONLINE
    # a pool no listener uses serves nothing: OFFLINE, as in Octavia (whose
    # amphorae report only the pools a listener reaches)
    live_listeners = {lst.id for lst in listeners if lst.provisioning_status != c.DELETED}
    used = {lst.default_pool_id for lst in listeners if lst.id in live_listeners} | {
        pol.redirect_pool_id
        for pol in policies
        if pol.listener_id in live_listeners and pol.provisioning_status != c.DELETED
    }
    for pool in pools:
        pool.provisioning_status = c.ACTIVE
        if pool.id not in used or not pool.admin_state_up:
            pool.operating_status = c.OFFLINE
        elif pool.operating_status == c.OFFLINE:
            pool.operating_status = c.ONLINE
    for lst in listeners:
        enabled = lst.admin_state_up and lb.admin_state_up
        if lst.provisioning_status != c.ACTIVE:
            lst.provisioning_status = c.ACTIVE
            lst.operating_status = c.ONLINE if enabled else c.OFFLINE
        elif not enabled:
            lst.operating_status = c.OFFLINE
        # else: a listener this change did not touch keeps what heartbeats said, and
        # its updated_at (Octavia moves it only when the object itself changes)
    lb.provisioning_status = c.ACTIVE
    if lb.operating_status == c.OFFLINE or not lb.admin_state_up:
        lb.operating_status = c.ONLINE if lb.admin_state_up else c.OFFLINE
    lb.applied_generation = generation
    lb.attempts = 0
    lb.next_attempt_at = None
    lb.error_reason = None
    lb.lease_owner = None
    lb.lease_expires_at = None
    return True


def mark_deleted(session: Session, lb_id: str, generation: int) -> bool:
    """The data plane of ``lb_id`` is gone: drop its children and free its VIP."""
    lb = session.get(m.LoadBalancer, lb_id)
    if lb is None or lb.generation != generation:
        return False
    listeners, pools, members, monitors = _children(session, lb_id)
    policies, rules = _l7(session, [li.id for li in listeners])
    for rule in rules:
        session.delete(rule)
    session.flush()
    for policy in policies:
        session.delete(policy)
    session.flush()
    for row in monitors + members:
        session.delete(row)
    for lst in listeners:
        lst.default_pool_id = None
    session.flush()
    for lst in listeners:
        session.delete(lst)
    session.flush()
    for pool in pools:
        session.delete(pool)
    addresses.release(session, lb_id)
    lb.provisioning_status = c.DELETED
    lb.operating_status = c.OFFLINE
    lb.applied_generation = generation
    lb.lease_owner = None
    lb.lease_expires_at = None
    lb.next_attempt_at = None
    return True


def mark_failed(
    session: Session,
    lb_id: str,
    generation: int,
    reason: str,
    *,
    retry_at: dt.datetime | None = None,
    owner: str | None = None,
) -> bool:
    """Give up on ``generation``: the load balancer and its pending objects go to ERROR.

    ``retry_at`` (a failover that could not replace a dead amphora) schedules a
    fresh round of attempts then; otherwise an ERROR waits for its user.
    """
    lb = _own_lb(session, lb_id, generation, owner)
    if lb is None:
        return False
    listeners, pools, members, monitors = _children(session, lb_id)
    policies, rules = _l7(session, [li.id for li in listeners])
    rows: list[m.Listener | m.Pool | m.Member | m.HealthMonitor | m.L7Policy | m.L7Rule] = [
        *listeners,
        *pools,
        *members,
        *monitors,
        *policies,
        *rules,
    ]
    for row in rows:
        if row.provisioning_status in c.PENDING_STATUSES:
            row.provisioning_status = c.ERROR
    lb.provisioning_status = c.ERROR
    lb.operating_status = c.ERROR
    lb.error_reason = reason[:4000]
    lb.lease_owner = None
    lb.lease_expires_at = None
    lb.next_attempt_at = retry_at
    if retry_at is not None:
        lb.attempts = 0
    return True
