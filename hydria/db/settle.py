"""Waking readers when a load balancer's change has settled.

``hydria.db.notify`` wakes controllers when there is work; this is the other
direction. A client of the Octavia API waits for a change by polling ``GET``
until ``provisioning_status`` is ACTIVE: ``openstack ... --wait`` looks at once,
then every 3 s; openstacksdk's ``wait_for_status`` every 2 s. A change that
converges in 100 ms is seen 2-3 s later, and five changes in a row cost over
ten seconds of sleeping, however fast the data plane is.

So the API answers a ``GET`` of an object that is PENDING_* only once its load
balancer has settled (or a bounded wait has passed): the controller says
``settled(lb_id)`` after it wrote an outcome, and the reader waiting on that
id reads again. What the client sees is still a state the database held while
its request ran; it only comes when it is worth seeing.

``SettleBoard`` is the in-process board (``hydria up``: API and controller in
one process). The controller calls ``settled`` from its threads; readers wait
on an asyncio future of their own event loop, so a waiting request holds no
thread. ``mark()`` before a read and ``wait(lb_id, after=mark)`` after it:
a settle between the two is not missed. Across processes on PostgreSQL the
controller sends ``NOTIFY hydria_settled`` (``PostgresSettleSignal``) and each
API process feeds its board from ``LISTEN`` (``PostgresSettleFeed``); on SQLite
split processes have no signal and nothing waits (``settle_feed_for``).

Threads wait on the board too: ``wait_any(after=mark)`` blocks until any load
balancer settled after the mark (``SettleWait``). The spare pool, which defers
its refill while creates are in flight, looks again at each settle instead of
polling the database (``hydria.housekeeping.spares``).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Protocol

# how many load balancers' last settle the board remembers (a reader only needs
# the ones that settled between its mark and its wait: a few milliseconds)
REMEMBERED = 4096


class SettleSignal(Protocol):
    """What the controller calls after writing a load balancer's outcome."""

    def settled(self, lb_id: str) -> None: ...


class SettleWatch(Protocol):
    """What the API waits on (``SettleBoard``, or a feed from another process)."""

    def mark(self) -> int: ...

    async def wait(self, lb_id: str, *, after: int, timeout: float) -> bool: ...


class SettleWait(Protocol):
    """What a thread waits on for any settle (``SettleBoard``, or a feed)."""

    def mark(self) -> int: ...

    def wait_any(self, *, after: int, timeout: float) -> bool: ...


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class SettleBoard:
    """The settles of this process, and the readers waiting for one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # threads in wait_any sleep on it; settled() wakes them all
        self._any = threading.Condition(self._lock)
        self._seq = 0
        self._last: OrderedDict[str, int] = OrderedDict()
        self._waiters: dict[str, list[Waiter]] = {}

    def mark(self) -> int:
        """A point in the board's history: ``wait(after=mark)`` counts settles after it."""
        with self._lock:
            return self._seq

    def settled(self, lb_id: str) -> None:
        """``lb_id``'s outcome is written: wake whoever waits on it (any thread).
        ``""``: settles may have been missed (a feed reconnected): wake everyone,
        they read again."""
        with self._lock:
            self._seq += 1
            if lb_id:
                self._last[lb_id] = self._seq
                self._last.move_to_end(lb_id)
                while len(self._last) > REMEMBERED:
                    self._last.popitem(last=False)
                waiters = self._waiters.pop(lb_id, [])
            else:
                waiters = [w for ws in self._waiters.values() for w in ws]
                self._waiters.clear()
            self._any.notify_all()
        for loop, fut in waiters:
            try:
                loop.call_soon_threadsafe(_wake, fut)
            except RuntimeError:  # that reader's loop is closed: nobody to wake
                pass

    async def wait(self, lb_id: str, *, after: int, timeout: float) -> bool:
        """True once ``lb_id`` settled after ``after`` (at once if it already has),
        False when ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._last.get(lb_id, 0) > after:
                return True
            self._waiters.setdefault(lb_id, []).append((loop, fut))
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                mine = self._waiters.get(lb_id)
                if mine is not None:
                    mine[:] = [w for w in mine if w[1] is not fut]
                    if not mine:
                        del self._waiters[lb_id]

    def wait_any(self, *, after: int, timeout: float) -> bool:
        """Block the calling thread until any load balancer settled after ``after``
        (a ``mark()``; at once if one has), at most ``timeout`` seconds; whether one did."""
        with self._any:
            return self._any.wait_for(lambda: self._seq > after, timeout)

    def waiting(self) -> int:
        """Readers waiting now (for tests and metrics)."""
        with self._lock:
            return sum(len(w) for w in self._waiters.values())


SETTLED_CHANNEL = "hydria_settled"


class PostgresSettleSignal:
    """The controller's side across processes: ``NOTIFY hydria_settled, '<lb id>'``
    after each outcome (a lost one costs a reader its wait, never a request)."""

    def __init__(self, db_url: str) -> None:
        from hydria.db.notify import PostgresNotifier

        self._notifier = PostgresNotifier(db_url, channel=SETTLED_CHANNEL)

    def settled(self, lb_id: str) -> None:
        self._notifier.notify(lb_id)


class PostgresSettleFeed(SettleBoard):
    """An API process's board, fed by ``LISTEN hydria_settled``."""

    def __init__(self, db_url: str) -> None:
        from hydria.db.notify import PostgresListener

        super().__init__()
        self._listener = PostgresListener(db_url, channel=SETTLED_CHANNEL, deliver=self.settled)

    def close(self) -> None:
        self._listener.close()


def settle_signal_for(db_url: str) -> SettleSignal | None:
    """What a controller process tells API processes with (None: nobody to tell)."""
    return PostgresSettleSignal(db_url) if db_url.startswith("postgresql") else None


def settle_feed_for(db_url: str) -> PostgresSettleFeed | None:
    """What an API process's readers (or a housekeeping process's spare pool) wait
    on; None on SQLite: nothing waits."""
    return PostgresSettleFeed(db_url) if db_url.startswith("postgresql") else None
