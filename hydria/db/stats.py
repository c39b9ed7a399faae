"""Traffic counters as the API reports them, summed from ``listener_statistics``.

The health manager keeps one row per (listener, amphora): the running totals
that amphora counted, over every HAProxy worker it ran (the agent adds up the
workers across reloads and restarts, ``hydria.agent.counters``; heartbeat payload
schema 2), the newest heartbeat's values winning. A listener's figures are the
sum of its rows, including rows of amphorae since replaced, so the totals do not
fall back to zero at a reload or a failover and lag traffic by one heartbeat
interval at most (plus the writer's batching). Octavia's amphora sends deltas
that its controller adds; totals per amphora make a lost or twice-received UDP
heartbeat harmless instead. Active connections are the
exception: only amphorae that serve now (``ALLOCATED``) count, because the last
report of a retired amphora is stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db.models import Amphora, Listener, ListenerStatistics


@dataclass(frozen=True)
class Totals:
    """Octavia's statistics object; the field names are the API's."""

    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            bytes_in=self.bytes_in + other.bytes_in,
            bytes_out=self.bytes_out + other.bytes_out,
            active_connections=self.active_connections + other.active_connections,
            total_connections=self.total_connections + other.total_connections,
            request_errors=self.request_errors + other.request_errors,
        )


@dataclass(frozen=True)
class AmphoraListenerStats:
    """One listener's counters as one amphora reported them."""

    amphora_id: str
    listener_id: str
    load_balancer_id: str | None
    totals: Totals


def total(parts: Iterable[Totals]) -> Totals:
    out = Totals()
    for part in parts:
        out = out + part
    return out


def listener_totals(session: Session, listener_ids: Iterable[str]) -> dict[str, Totals]:
    """Each listener's totals over all amphorae; listeners without rows get zeros."""
    ids = list(listener_ids)
    if not ids:
        return {}
    st = ListenerStatistics
    serving = case((Amphora.status == c.AMPHORA_ALLOCATED, st.active_connections), else_=0)
    rows = session.execute(
        select(
            st.listener_id,
            func.sum(st.bytes_in),
            func.sum(st.bytes_out),
            func.sum(serving),
            func.sum(st.total_connections),
            func.sum(st.request_errors),
        )
        .outerjoin(Amphora, Amphora.id == st.amphora_id)
        .where(st.listener_id.in_(ids))
        .group_by(st.listener_id)
    ).all()
    found = {row[0]: Totals(*(int(v or 0) for v in row[1:])) for row in rows}
    return {i: found.get(i, Totals()) for i in ids}


def live_listener_ids(session: Session, lb_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Listener.id)
            .where(Listener.load_balancer_id == lb_id, Listener.provisioning_status != c.DELETED)
            .order_by(Listener.created_at, Listener.id)
        )
    )


def loadbalancer_totals(session: Session, lb_id: str) -> Totals:
    return total(listener_totals(session, live_listener_ids(session, lb_id)).values())


def amphora_stats(session: Session, amp: Amphora) -> list[AmphoraListenerStats]:
    """The amphora's own counters, one entry per listener of its load balancer.

    A listener the amphora has not reported yet shows zeros, so a freshly
    built amphora already lists what it serves.
    """
    st = ListenerStatistics
    reported = {
        row.listener_id: Totals(
            bytes_in=row.bytes_in,
            bytes_out=row.bytes_out,
            active_connections=row.active_connections,
            total_connections=row.total_connections,
            request_errors=row.request_errors,
        )
        for row in session.scalars(select(st).where(st.amphora_id == amp.id))
    }
    listener_ids = live_listener_ids(session, amp.load_balancer_id) if amp.load_balancer_id else []
    return [
        AmphoraListenerStats(amp.id, lid, amp.load_balancer_id, reported.get(lid, Totals()))
        for lid in listener_ids
    ]
