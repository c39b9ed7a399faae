"""One heartbeat plus what the database knows about its amphora -> the writes.

``apply(heartbeat, known, received_at=...)`` is pure: ``known`` is a frozen
snapshot (``AmphoraKnown``) that the writer loads for a whole batch at once, and
the answer is either ``Ignored(reason)`` or ``Updates``: the health row, the
listener counters, and only those operating statuses that change.

Rules beyond ``rollup``:

* an amphora the database does not know, or knows as DELETED, gets nothing
  written (it may be on its way out; failure detection is not fooled by it);
* a heartbeat whose ``seq`` is not above the recorded one is a replay
  (equal: a peer health manager already recorded it);
* a spare amphora (no load balancer) only records that it is alive;
* a load balancer being deleted, or deleted, keeps its statuses;
* provisioning status is never touched; counters are only kept for listeners
  that exist;
* an object still PENDING_CREATE that the heartbeat does not mention yet is left
  alone: its configuration is on its way;
* a heartbeat taken under an older configuration than the one the controller
  has since converged (``config_version`` < ``applied_generation``: it was on
  its way while the new one was pushed), or before it had any (a replacement
  amphora that is still booting), moves no status: what it does not mention
  may well be running now, or soon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from hydria.core import constants as c
from hydria.health import rollup
from hydria.wire.heartbeat import Heartbeat, ListenerReport


@dataclass(frozen=True)
class Known:
    """An object's id and the columns the rules read."""

    id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool = True


@dataclass(frozen=True)
class PoolKnown(Known):
    members: tuple[Known, ...] = ()


@dataclass(frozen=True)
class LoadBalancerKnown(Known):
    listeners: tuple[Known, ...] = ()
    pools: tuple[PoolKnown, ...] = ()
    applied_generation: int = 0  # the configuration version the controller converged


@dataclass(frozen=True)
class AmphoraKnown:
    id: str
    status: str
    last_seq: int | None = None  # None: no health row yet
    load_balancer: LoadBalancerKnown | None = None


@dataclass(frozen=True)
class ListenerStats:
    """A listener's counters as the heartbeat reported them (written as they are)."""

    listener_id: str
    counters: ListenerReport


@dataclass(frozen=True)
class Updates:
    amphora_id: str
    seq: int
    received_at: dt.datetime
    listener_stats: tuple[ListenerStats, ...] = ()
    # (table, id) -> new operating_status, only where it changes
    statuses: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ignored:
    reason: str  # unknown_amphora, deleted_amphora, replay, duplicate


LISTENERS, POOLS, MEMBERS, LOAD_BALANCERS = "listeners", "pools", "members", "load_balancers"
_NOT_RUNNING = frozenset({c.PENDING_DELETE, c.DELETED})


def apply(
    hb: Heartbeat, known: AmphoraKnown | None, *, received_at: dt.datetime
) -> Updates | Ignored:
    if known is None:
        return Ignored("unknown_amphora")
    if known.status == c.DELETED:
        return Ignored("deleted_amphora")
    if known.last_seq is not None and hb.seq <= known.last_seq:
        return Ignored("duplicate" if hb.seq == known.last_seq else "replay")
    lb = known.load_balancer
    if lb is None:
        return Updates(known.id, hb.seq, received_at)

    stats = tuple(
        ListenerStats(lst.id, rep)
        for lst in lb.listeners
        if (rep := hb.listeners.get(lst.id)) is not None
    )
    statuses: dict[tuple[str, str], str] = {}
    stale = (hb.config_version or 0) < lb.applied_generation
    if lb.provisioning_status not in _NOT_RUNNING and not stale:
        statuses = _statuses(hb, lb)
    return Updates(known.id, hb.seq, received_at, stats, statuses)


def _statuses(hb: Heartbeat, lb: LoadBalancerKnown) -> dict[tuple[str, str], str]:
    new: dict[tuple[str, str], str] = {}
    lb_active = lb.provisioning_status == c.ACTIVE

    listener_now = []
    for lst in lb.listeners:
        rep = hb.listeners.get(lst.id)
        status = rollup.listener_status(
            None if rep is None else rep.status,
            enabled=lst.admin_state_up and lb.admin_state_up,
            lb_active=lb_active,
            new=lst.provisioning_status == c.PENDING_CREATE,
        )
        new[(LISTENERS, lst.id)] = status or lst.operating_status
        listener_now.append(status or lst.operating_status)

    pool_now = []
    for pool in lb.pools:
        prep = hb.pools.get(pool.id)
        member_now = []
        for mem in pool.members:
            raw = None if prep is None else prep.members.get(mem.id)
            status = rollup.member_status(
                raw, current=mem.operating_status, new=mem.provisioning_status == c.PENDING_CREATE
            )
            new[(MEMBERS, mem.id)] = status or mem.operating_status
            member_now.append(status or mem.operating_status)
        status = rollup.pool_status(
            None if prep is None else prep.status,
            member_now,
            new=pool.provisioning_status == c.PENDING_CREATE,
        )
        new[(POOLS, pool.id)] = status or pool.operating_status
        if prep is not None:  # only pools that serve count towards the load balancer
            pool_now.append(status or pool.operating_status)

    new[(LOAD_BALANCERS, lb.id)] = rollup.load_balancer_status(
        enabled=lb.admin_state_up, listener_statuses=listener_now, pool_statuses=pool_now
    )

    current = {(LOAD_BALANCERS, lb.id): lb.operating_status}
    current.update({(LISTENERS, x.id): x.operating_status for x in lb.listeners})
    for pool in lb.pools:
        current[(POOLS, pool.id)] = pool.operating_status
        current.update({(MEMBERS, x.id): x.operating_status for x in pool.members})
    return {k: v for k, v in new.items() if current.get(k) != v}
