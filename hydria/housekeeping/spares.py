"""A pool of spare amphorae, booted ahead of need (``spare_amphora_pool_size``).

A create or a failover then takes a spare whose agent already answers
(``hydria.db.amphorae.claim_spare``) and only pushes a configuration: the boot
leaves the critical path. The pool is refilled right after a spare is taken,
but not while a load balancer is being created or changed (up to
``defer_limit`` seconds): a boot costs a Python start and several processes,
and on a busy host it took its CPU from the very create that claimed the spare
(every netns create of ``bench/provision.py`` overlapped the next spare's boot).
While it waits it looks again whenever a load balancer settles (the settle
board of ``hydria.db.settle``: in process for ``hydria up``, ``LISTEN
hydria_settled`` on PostgreSQL), not on a timer; only where no signal exists
(split processes on SQLite) it polls every ``defer_poll`` seconds.

Spares that can no longer serve are removed: READY ones whose agent is gone,
BOOTING ones older than twice the boot timeout (their booter died), and
PENDING_DELETE ones (an operator's failover or delete of a spare). Several
housekeepers may overshoot the size by a spare or two at once; the extras are
trimmed on the next pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from hydria.core import constants as c
from hydria.db import amphorae as amp_db
from hydria.db.engine import Database
from hydria.db.models import utcnow
from hydria.db.settle import SettleWait
from hydria.drivers.compute.base import ComputeDriver

log = logging.getLogger("hydria.housekeeping")


class SparePool:
    def __init__(
        self,
        db: Database,
        compute: ComputeDriver,
        boot_spare: Callable[[], str],
        *,
        size: int,
        boot_timeout: float = 30.0,
        interval: float = 1.0,
        defer_limit: float = 10.0,
        defer_poll: float = 0.05,
        settle: SettleWait | None = None,
    ) -> None:
        self.db = db
        self.compute = compute
        self.boot_spare = boot_spare
        self.size = size
        self.boot_timeout = boot_timeout
        self.interval = interval
        self.defer_limit = defer_limit
        self.defer_poll = defer_poll
        # settles of load balancers: a deferred refill looks again at each one
        self.settle = settle
        # since when refills wait for changes in flight (monotonic), None when not waiting
        self._deferred_since: float | None = None
        # the settle board's mark taken before the last look at changes in flight
        self._mark = 0

    def run(self, stop: threading.Event) -> None:
        log.info("event=spare_pool_start size=%s", self.size)
        while not self._pause(stop):
            try:
                self.maintain()
            except Exception:  # the database may be away; next pass
                log.exception("event=spare_pool_failed")

    def _pause(self, stop: threading.Event) -> bool:
        """Wait before the next pass; True once ``stop`` is set.

        A deferred refill looks again when a load balancer settles (or when its
        ``defer_limit`` runs out), or every ``defer_poll`` without a settle signal:
        it boots as soon as the create converged. Waits on the board are cut into
        ``interval`` slices so a stop is seen as soon as without a refill waiting.
        """
        if self._deferred_since is None:
            return stop.wait(self.interval)
        if self.settle is None:
            return stop.wait(self.defer_poll)
        left = self.defer_limit - (time.monotonic() - self._deferred_since)
        while left > 0 and not stop.is_set():
            if self.settle.wait_any(after=self._mark, timeout=min(left, self.interval)):
                break
            left = self.defer_limit - (time.monotonic() - self._deferred_since)
        return stop.is_set()

    def _defer(self) -> bool:
        """Whether a refill waits: a change is in flight, for less than ``defer_limit``."""
        if self.settle is not None:  # before the look: a settle after it is not missed
            self._mark = self.settle.mark()
        with self.db.read() as session:
            busy = amp_db.changes_in_flight(session) > 0
        now = time.monotonic()
        if not busy:
            self._deferred_since = None
            return False
        if self._deferred_since is None:
            self._deferred_since = now
        if now - self._deferred_since < self.defer_limit:
            return True
        self._deferred_since = None  # waited long enough: a stream of changes must not starve it
        return False

    def maintain(self) -> dict[str, int]:
        removed = self._remove_unusable()
        with self.db.session() as session:
            ready = [
                a.id
                for a in amp_db.spares(session)
                if a.status in (c.AMPHORA_READY, c.AMPHORA_BOOTING)
            ]
        booted = 0
        missing = self.size - len(ready)
        if missing > 0 and self.defer_limit > 0 and self._defer():
            return {"booted": 0, "removed": removed}
        for _ in range(missing):
            amp_id = self.boot_spare()
            log.info("event=spare_ready amphora=%s", amp_id)
            booted += 1
        for amp_id in ready[self.size :]:  # the pool shrank: oldest spares stay
            self._remove(amp_id, "pool_too_big")
            removed += 1
        return {"booted": booted, "removed": removed}

    def _remove_unusable(self) -> int:
        stale_boot = utcnow() - dt.timedelta(seconds=2 * self.boot_timeout)
        with self.db.session() as session:
            rows = [(a.id, a.status, a.updated_at or a.created_at) for a in amp_db.spares(session)]
        removed = 0
        for amp_id, status, changed in rows:
            reason = ""
            if status == c.AMPHORA_PENDING_DELETE:
                reason = "deleted_by_operator"
            elif status == c.AMPHORA_BOOTING and changed < stale_boot:
                reason = "boot_abandoned"
            elif status == c.AMPHORA_READY and not self.compute.is_running(amp_id):
                reason = "agent_gone"
            if reason:
                self._remove(amp_id, reason)
                removed += 1
        return removed

    def _remove(self, amp_id: str, reason: str) -> None:
        # take it out of the pool first, conditionally: a spare a controller has just
        # claimed belongs to a load balancer now and is left alone
        with self.db.session() as session:
            taken = amp_db.take_spare(
                session,
                amp_id,
                (c.AMPHORA_READY, c.AMPHORA_BOOTING, c.AMPHORA_PENDING_DELETE),
                status=c.AMPHORA_PENDING_DELETE,
            )
        if not taken:
            return
        self.compute.delete(amp_id)
        with self.db.session() as session:
            amp_db.mark_amphora_deleted(session, amp_id)
        log.info("event=spare_removed amphora=%s reason=%s", amp_id, reason)
