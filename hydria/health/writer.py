"""Batched writes: many heartbeats, one transaction.

The receiver verifies packets and drops them into a ``PendingHeartbeats``
buffer that keeps only the newest heartbeat of each amphora (every field of a
heartbeat is a current status or a running total, so the newest one says all).
Every ``flush_interval`` the writer takes the whole buffer and, in one
transaction:

1. loads what the database knows about those amphorae (a handful of ``IN``
   queries for the whole batch, not per heartbeat): amphora rows, their last
   recorded ``seq``, their load balancers' listeners, pools and members;
2. runs the pure ``apply`` on each heartbeat;
3. upserts ``amphora_health`` (only if the stored ``seq`` is still lower, so
   two health managers, or a replay racing a write, never move it back) and
   ``listener_statistics`` with one ``executemany`` each, and updates only
   the ``operating_status`` values that change.

A fleet of thousands of amphorae therefore costs a few transactions per second,
whatever the heartbeat rate. A batch costs about one row per amphora however
many heartbeats it coalesced, so a writer whose flushes grow slow flushes less
often (``next_flush_interval``: at most an eighth of its time spent writing,
and never further apart than a tenth of the heartbeat timeout or
``MAX_FLUSH_INTERVAL``, so what the failure detector reads is never staler than
that): under a flood, the receiver keeps the CPU.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hydria.db import models as m
from hydria.db.engine import Database
from hydria.health.apply import (
    AmphoraKnown,
    Ignored,
    Known,
    LoadBalancerKnown,
    PoolKnown,
    Updates,
    apply,
)
from hydria.health.counters import Counters
from hydria.health.seqs import SeqTracker
from hydria.wire.heartbeat import Envelope, Heartbeat, HeartbeatError, unpack

log = logging.getLogger("hydria.health.writer")

_CHUNK = 500
_MAX_INT32 = 2**31 - 1
_TABLES: dict[str, Table] = {
    t.__tablename__: m.Base.metadata.tables[t.__tablename__]
    for t in (m.LoadBalancer, m.Listener, m.Pool, m.Member)
}


class _Sequenced(Protocol):
    @property
    def amphora_id(self) -> str: ...

    @property
    def seq(self) -> int: ...


class PendingHeartbeats:
    """Newest authenticated heartbeat per amphora (an ``Envelope`` whose body
    is unpacked at the flush, or a ``Heartbeat``), waiting for the next flush."""

    def __init__(self, *, max_amphorae: int = 100_000) -> None:
        self._items: dict[str, tuple[_Sequenced, float]] = {}
        self._lock = threading.Lock()
        self.max_amphorae = max_amphorae

    def put(self, hb: _Sequenced, received_at: float) -> str | None:
        """Queue ``hb``; return ``"superseded"`` or ``"overload"`` if one was dropped."""
        with self._lock:
            old = self._items.get(hb.amphora_id)
            if old is None and len(self._items) >= self.max_amphorae:
                return "overload"
            if old is not None and old[0].seq >= hb.seq:
                return "superseded"
            self._items[hb.amphora_id] = (hb, received_at)
            return None if old is None else "superseded"

    def take(self) -> list[tuple[_Sequenced, float]]:
        with self._lock:
            items, self._items = self._items, {}
        return list(items.values())

    def __len__(self) -> int:
        return len(self._items)


MAX_FLUSH_INTERVAL = 1.0
# a flush may take this share of the writer's time, at most
_WRITE_SHARE = 1 / 8


def flush_ceiling(base: float, heartbeat_timeout: float) -> float:
    """The longest pause between flushes: small next to the heartbeat timeout."""
    return max(base, min(MAX_FLUSH_INTERVAL, heartbeat_timeout / 10))


def next_flush_interval(took: float, base: float, ceiling: float = MAX_FLUSH_INTERVAL) -> float:
    """The pause before the next flush, after one that took ``took`` seconds."""
    return min(ceiling, max(base, took / _WRITE_SHARE))


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def load_known(session: Session, amphora_ids: Iterable[str]) -> dict[str, AmphoraKnown]:
    """What the database knows about these amphorae, in a few queries."""
    ids = sorted(set(amphora_ids))
    amp_t, health_t = m.Amphora.__table__, m.AmphoraHealth.__table__
    lb_t, lst_t, pool_t, mem_t = (
        _TABLES[n] for n in ("load_balancers", "listeners", "pools", "members")
    )
    amps: list[Any] = []
    seqs: dict[str, int] = {}
    for part in _chunks(ids):
        amps += session.execute(
            select(amp_t.c.id, amp_t.c.status, amp_t.c.load_balancer_id).where(amp_t.c.id.in_(part))
        ).all()
        seqs.update(
            session.execute(
                select(health_t.c.amphora_id, health_t.c.seq).where(health_t.c.amphora_id.in_(part))
            )
            .tuples()
            .all()
        )
    lb_ids = sorted({a.load_balancer_id for a in amps if a.load_balancer_id})
    cols = ("id", "provisioning_status", "operating_status", "admin_state_up")
    lbs: dict[str, Any] = {}
    listeners: dict[str, list[Known]] = {}
    pools: dict[str, list[Any]] = {}
    members: dict[str, list[Known]] = {}
    for part in _chunks(lb_ids):
        for row in session.execute(
            select(*(lb_t.c[x] for x in cols), lb_t.c.applied_generation).where(lb_t.c.id.in_(part))
        ):
            lbs[row.id] = row
        for row in session.execute(
            select(lst_t.c.load_balancer_id, *(lst_t.c[x] for x in cols))
            .where(lst_t.c.load_balancer_id.in_(part))
            .order_by(lst_t.c.id)
        ):
            listeners.setdefault(row.load_balancer_id, []).append(_known(row))
        for row in session.execute(
            select(pool_t.c.load_balancer_id, *(pool_t.c[x] for x in cols))
            .where(pool_t.c.load_balancer_id.in_(part))
            .order_by(pool_t.c.id)
        ):
            pools.setdefault(row.load_balancer_id, []).append(row)
        for row in session.execute(
            select(mem_t.c.pool_id, *(mem_t.c[x] for x in cols))
            .join(pool_t, pool_t.c.id == mem_t.c.pool_id)
            .where(pool_t.c.load_balancer_id.in_(part))
            .order_by(mem_t.c.id)
        ):
            members.setdefault(row.pool_id, []).append(_known(row))

    known = {}
    for a in amps:
        lb = None
        lb_row = lbs.get(a.load_balancer_id) if a.load_balancer_id else None
        if lb_row is not None:
            lb = LoadBalancerKnown(
                **_known_fields(lb_row),
                applied_generation=lb_row.applied_generation,
                listeners=tuple(listeners.get(lb_row.id, ())),
                pools=tuple(
                    PoolKnown(**_known_fields(p), members=tuple(members.get(p.id, ())))
                    for p in pools.get(lb_row.id, ())
                ),
            )
        known[a.id] = AmphoraKnown(a.id, a.status, seqs.get(a.id), lb)
    return known


def _known_fields(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The columns ``Known`` holds, by name (a column added to a query cannot shift them)."""
    return {
        "id": row.id,
        "provisioning_status": row.provisioning_status,
        "operating_status": row.operating_status,
        "admin_state_up": row.admin_state_up,
    }


def _known(row: Row[*tuple[Any, ...]]) -> Known:
    return Known(**_known_fields(row))


def _upsert(
    db: Database, table: Table, keys: list[str], columns: list[str], where_newer: bool = False
) -> Any:
    insert = sqlite.insert if db.is_sqlite else postgresql.insert
    stmt = insert(table)
    cond = table.c.seq < stmt.excluded.seq if where_newer else None
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in columns}, where=cond
    )


class HeartbeatWriter:
    """Writes batches of verified heartbeats; see the module docstring."""

    def __init__(self, db: Database, counters: Counters, *, seqs: SeqTracker | None = None) -> None:
        self.db = db
        self.counters = counters
        self.seqs = seqs
        self._health = _upsert(
            db,
            m.Base.metadata.tables[m.AmphoraHealth.__tablename__],
            ["amphora_id"],
            ["last_update", "seq"],
            where_newer=True,
        )
        self._stats = _upsert(
            db,
            m.Base.metadata.tables[m.ListenerStatistics.__tablename__],
            ["listener_id", "amphora_id"],
            [
                "bytes_in",
                "bytes_out",
                "active_connections",
                "total_connections",
                "request_errors",
                "updated_at",
            ],
        )
        self._status = {
            name: update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(operating_status=bindparam("b_status"))
            for name, t in _TABLES.items()
        }

    def write_pending(self, batch: Sequence[tuple[_Sequenced, float]]) -> list[Updates | Ignored]:
        """Unpack what the receiver authenticated (counting bodies that are
        malformed or too large), then ``write`` the good ones."""
        good: list[tuple[Heartbeat, float]] = []
        for item, at in batch:
            if isinstance(item, Heartbeat):
                good.append((item, at))
                continue
            assert isinstance(item, Envelope)
            try:
                good.append((unpack(item), at))
            except HeartbeatError as exc:
                self.counters.add(exc.kind)
                log.info(
                    "event=heartbeat_rejected kind=%s amphora=%s reason=%s",
                    exc.kind,
                    item.amphora_id,
                    exc,
                )
        return self.write(good)

    def write(self, batch: Sequence[tuple[Heartbeat, float]]) -> list[Updates | Ignored]:
        """Record ``batch`` in one transaction; return what became of each heartbeat."""
        if not batch:
            return []
        results: list[Updates | Ignored] = []
        with self.db.session() as session:
            known = load_known(session, [hb.amphora_id for hb, _ in batch])
            for hb, at in batch:
                k = known.get(hb.amphora_id)
                if k is not None and k.last_seq is not None and self.seqs is not None:
                    self.seqs.raise_to(k.id, k.last_seq)
                received = dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None)
                results.append(apply(hb, k, received_at=received))
            updates = [r for r in results if isinstance(r, Updates)]
            self._write_updates(session, updates)
        for r in results:
            self.counters.add(r.reason if isinstance(r, Ignored) else "recorded")
        self.counters.add("batches")
        return results

    def _write_updates(self, session: Session, updates: list[Updates]) -> None:
        if not updates:
            return
        # rows are locked in key order, so two health managers writing overlapping
        # batches on PostgreSQL queue behind each other instead of deadlocking
        updates = sorted(updates, key=lambda u: u.amphora_id)
        session.execute(
            self._health,
            [
                {
                    "amphora_id": u.amphora_id,
                    "last_update": u.received_at,
                    "seq": u.seq,
                    "busy": False,
                }
                for u in updates
            ],
        )
        stats = [
            {
                "listener_id": s.listener_id,
                "amphora_id": u.amphora_id,
                "bytes_in": s.counters.bytes_in,
                "bytes_out": s.counters.bytes_out,
                "active_connections": min(s.counters.active_connections, _MAX_INT32),
                "total_connections": s.counters.total_connections,
                "request_errors": s.counters.request_errors,
                "updated_at": u.received_at,
            }
            for u in updates
            for s in u.listener_stats
        ]
        if stats:
            stats.sort(key=lambda r: (r["listener_id"], r["amphora_id"]))
            session.execute(self._stats, stats)
        by_table: dict[str, list[dict[str, str]]] = {}
        for u in updates:
            for (table, obj_id), status in u.statuses.items():
                by_table.setdefault(table, []).append({"b_id": obj_id, "b_status": status})
        for table, rows in sorted(by_table.items()):
            # one row once: two amphorae of one load balancer agree, the last one wins
            unique = sorted({r["b_id"]: r for r in rows}.values(), key=lambda r: r["b_id"])
            session.execute(self._status[table], unique)

    def run(
        self,
        pending: PendingHeartbeats,
        stop: threading.Event,
        *,
        flush_interval: float = 0.25,
        max_flush_interval: float = MAX_FLUSH_INTERVAL,
    ) -> None:
        """Flush ``pending`` every ``flush_interval`` (longer while flushes are slow,
        see ``next_flush_interval``) until ``stop``, then once more."""
        interval = flush_interval
        while True:
            stopping = stop.wait(interval)
            batch = pending.take()
            interval = flush_interval
            if batch:
                t0 = time.perf_counter()
                try:
                    self.write_pending(batch)
                except Exception:  # the database may be away: drop, the next ones come
                    self.counters.add("write_errors")
                    log.exception("event=heartbeat_batch_failed size=%d", len(batch))
                else:
                    log.debug(
                        "event=heartbeat_batch size=%d seconds=%.3f",
                        len(batch),
                        time.perf_counter() - t0,
                    )
                interval = next_flush_interval(
                    time.perf_counter() - t0, flush_interval, max_flush_interval
                )
            if stopping:
                return
