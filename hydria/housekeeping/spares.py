"""A pool of spare amphorae, booted ahead of need (``spare_amphora_pool_size``).

A create or a failover then takes a spare whose agent already answers
(``hydria.db.amphorae.claim_spare``) and only pushes a configuration: the boot
leaves the critical path. The pool is refilled right after a spare is taken.

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
from collections.abc import Callable

from hydria.core import constants as c
from hydria.db import amphorae as amp_db
from hydria.db.engine import Database
from hydria.db.models import utcnow
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
    ) -> None:
        self.db = db
        self.compute = compute
        self.boot_spare = boot_spare
        self.size = size
        self.boot_timeout = boot_timeout
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        log.info("event=spare_pool_start size=%s", self.size)
        while not stop.wait(self.interval):
            try:
                self.maintain()
            except Exception:  # the database may be away; next pass
                log.exception("event=spare_pool_failed")

    def maintain(self) -> dict[str, int]:
        removed = self._remove_unusable()
        with self.db.session() as session:
            ready = [
                a.id
                for a in amp_db.spares(session)
                if a.status in (c.AMPHORA_READY, c.AMPHORA_BOOTING)
            ]
        booted = 0
        for _ in range(self.size - len(ready)):
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
