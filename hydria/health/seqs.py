"""Heartbeat sequence numbers: replays, jumps, and asking the agent.

``SeqTracker`` keeps the last ``seq`` accepted per amphora, in memory, seeded
from ``amphora_health.seq`` (``hydria.health.directory``), so replays stop
before the database. A heartbeat whose ``seq`` is not above the last one is a
``replay``; one more than ``SEQ_WINDOW`` above it is a ``future_seq`` and is not
believed: the agent reserves numbers ``SEQ_BLOCK`` at a time, so a restart
skips at most that many, and the window leaves as many again for heartbeats
lost on the way. Anything further ahead is either a long silence or a forgery.

Either way, and also after a replay (the sign of a tracker moved ahead by a
forger who holds a key), ``SeqConfirmer`` asks the agent itself, over the
mutually authenticated agent API, for the last number it sent, and sets the
tracker (and the recorded ``amphora_health.seq``, if it is higher) to that.
So a forged huge ``seq`` is never recorded (it cannot silence the real
amphora by making its heartbeats look like replays, and, being dropped, it
cannot keep a dead amphora alive or force a failover), while a real jump costs
one round trip. Requests are rate-limited per amphora (``min_gap``), so
replayed packets cannot turn into a flood of agent calls.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import update

from hydria.db.engine import Database, rows_matched
from hydria.db.models import AmphoraHealth
from hydria.health.counters import Counters
from hydria.wire.heartbeat import SEQ_WINDOW

log = logging.getLogger("hydria.health.seqs")

REPLAY, FUTURE = "replay", "future_seq"


class SeqTracker:
    """The last ``seq`` accepted per amphora; see the module docstring."""

    def __init__(self, *, window: int = SEQ_WINDOW) -> None:
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()
        self.window = window

    def check(self, amphora_id: str, seq: int) -> str | None:
        """None (and remember ``seq``) if it is believable, else why not."""
        with self._lock:
            last = self._last.get(amphora_id, 0)
            if seq <= last and amphora_id in self._last:
                return REPLAY
            if seq > last + self.window:
                return FUTURE
            self._last[amphora_id] = seq
            return None

    def accept(self, amphora_id: str, seq: int) -> bool:
        return self.check(amphora_id, seq) is None

    def seed(self, amphora_id: str, seq: int) -> None:
        """Start from the recorded ``seq`` of an amphora not tracked yet."""
        with self._lock:
            self._last.setdefault(amphora_id, seq)

    def raise_to(self, amphora_id: str, seq: int) -> None:
        with self._lock:
            if seq > self._last.get(amphora_id, -1):
                self._last[amphora_id] = seq

    def confirm(self, amphora_id: str, seq: int) -> None:
        """The agent says ``seq`` is the last it sent: the truth, up or down."""
        with self._lock:
            self._last[amphora_id] = seq

    def retain(self, amphora_ids: Iterable[str]) -> None:
        """Forget amphorae that are gone."""
        keep = set(amphora_ids)
        with self._lock:
            self._last = {k: v for k, v in self._last.items() if k in keep}

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._last)

    def __len__(self) -> int:
        return len(self._last)


# (management address, amphora id) -> the last seq the agent sent, or None
AskAgent = Callable[[str, str], "int | None"]


def lower_recorded_seq(db: Database, amphora_id: str, seq: int) -> int:
    """Bring a recorded ``seq`` above what the agent really sent back down."""
    with db.session() as session:
        return rows_matched(
            session,
            update(AmphoraHealth)
            .where(AmphoraHealth.amphora_id == amphora_id, AmphoraHealth.seq > seq)
            .values(seq=seq)
            .execution_options(synchronize_session=False),
        )


class SeqConfirmer:
    """Asks agents for their sequence number, one amphora at a time, in a thread."""

    def __init__(
        self,
        db: Database,
        seqs: SeqTracker,
        ask: AskAgent,
        counters: Counters,
        *,
        min_gap: float = 5.0,
    ) -> None:
        self.db = db
        self.seqs = seqs
        self.ask = ask
        self.counters = counters
        self.min_gap = min_gap
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(maxsize=10_000)
        self._last_asked: dict[str, float] = {}
        self._lock = threading.Lock()

    def request(self, amphora_id: str, address: str) -> bool:
        """Ask about this amphora soon, unless it was asked about lately."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_asked.get(amphora_id, -1e9) < self.min_gap:
                return False
            self._last_asked[amphora_id] = now
        try:
            self._queue.put_nowait((amphora_id, address))
        except queue.Full:
            return False
        return True

    def confirm_once(self, amphora_id: str, address: str) -> int | None:
        try:
            seq = self.ask(address, amphora_id)
        except Exception as exc:  # unreachable, not our CA, ...: believe nothing new
            self.counters.add("seq_confirm_failed")
            log.warning("event=heartbeat_seq_unconfirmed amphora=%s reason=%s", amphora_id, exc)
            return None
        if seq is None:
            self.counters.add("seq_confirm_failed")
            return None
        self.seqs.confirm(amphora_id, seq)
        lowered = lower_recorded_seq(self.db, amphora_id, seq)
        self.counters.add("seq_confirmed")
        log.warning(
            "event=heartbeat_seq_confirmed amphora=%s agent_seq=%d recorded_lowered=%s",
            amphora_id,
            seq,
            bool(lowered),
        )
        return seq

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                amphora_id, address = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.confirm_once(amphora_id, address)
            except Exception:  # the database may be away; the next request retries
                log.exception("event=heartbeat_seq_confirm_failed amphora=%s", amphora_id)
