"""Waking controllers when there is new work.

The API calls ``notify(lb_id)`` after it commits. In one process (``hydria
up``) the controller waits on an in-process signal; across processes
PostgreSQL's LISTEN/NOTIFY carries the same message. Polling stays as the
fallback, so a lost wake-up only costs ``poll_interval``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("hydria.notify")


class Notifier(Protocol):
    def notify(self, lb_id: str) -> None: ...


class NullNotifier:
    """For processes that have nobody to wake (the pollers find the work)."""

    def notify(self, lb_id: str) -> None:
        return None


class InProcessNotifier:
    """A set of load balancer ids and a condition the controller waits on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._woken = False

    def notify(self, lb_id: str) -> None:
        with self._cond:
            self._pending.add(lb_id)
            self._cond.notify_all()

    def wake(self) -> None:
        """End the current (or next) ``wait`` early without naming a load balancer."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def wait(self, timeout: float) -> set[str]:
        """Block until something is notified or ``timeout`` passes; drain and return it."""
        with self._cond:
            if not self._pending and not self._woken:
                self._cond.wait(timeout)
            ids, self._pending, self._woken = self._pending, set(), False
            return ids


CHANNEL = "hydria_lb"


class PostgresNotifier:
    """``NOTIFY hydria_lb, '<lb id>'`` after a commit: wakes controllers anywhere.

    Sent on its own short transaction (autocommit), after the API's commit, so a
    controller that wakes always finds the committed rows.
    """

    def __init__(self, db_url: str, *, channel: str = CHANNEL) -> None:
        from sqlalchemy import create_engine

        self._channel = channel
        self._engine = create_engine(
            _psycopg_url(db_url),
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=4,
        )

    def notify(self, lb_id: str) -> None:
        from sqlalchemy import text

        try:
            with self._engine.connect() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": self._channel, "payload": lb_id},
                )
        except Exception:  # a lost wake-up costs one poll interval, never a request
            log.warning("event=notify_failed lb=%s", lb_id, exc_info=True)


class PostgresListener(InProcessNotifier):
    """``LISTEN hydria_lb`` on a connection of its own, fed into the in-process set.

    Reconnects with backoff when the database goes away; while it is away the
    controller's poll finds the work anyway. ``channel`` and ``deliver`` serve
    other channels (``hydria.db.settle``): every payload goes to ``deliver``, and
    ``""`` after each (re)connect says some may have been missed.
    """

    def __init__(
        self,
        db_url: str,
        *,
        channel: str = CHANNEL,
        deliver: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self._channel = channel
        self._deliver = deliver or self.notify
        self._url = _psycopg_url(db_url).replace("postgresql+psycopg://", "postgresql://", 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="pg-listen")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        import psycopg

        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    delay = 0.5
                    self._deliver("")  # we may have missed some while away: look now
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note.payload)
            except Exception as exc:
                log.warning("event=listen_lost reason=%s retry_in=%.1fs", exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def notifier_for(db_url: str) -> Notifier:
    """What an API process uses to wake controllers in other processes."""
    if db_url.startswith("postgresql"):
        return PostgresNotifier(db_url)
    return NullNotifier()
