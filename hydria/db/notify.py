"""Waking controllers when there is new work.

The API calls ``notify(lb_id)`` after it commits. In one process (``hydria
up``) the controller waits on an in-process signal; across processes
PostgreSQL's LISTEN/NOTIFY carries the same message. Polling stays as the
fallback, so a lost wake-up only costs ``poll_interval``.
"""

from __future__ import annotations

import threading
from typing import Protocol


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

    def notify(self, lb_id: str) -> None:
        with self._cond:
            self._pending.add(lb_id)
            self._cond.notify_all()

    def wait(self, timeout: float) -> set[str]:
        """Block until something is notified or ``timeout`` passes; drain and return it."""
        with self._cond:
            if not self._pending:
                self._cond.wait(timeout)
            ids, self._pending = self._pending, set()
            return ids
