"""The loop around ``Reconciler.reconcile``: claims, leases, retries, backoff.

Level-triggered: a wake-up (in-process, or later LISTEN/NOTIFY) only says
"look now"; the database says what to do. Every ``poll_interval`` the loop
looks anyway, so a lost wake-up costs a poll, and a crashed controller costs
a lease. At start-up it also looks once at every live load balancer (a
resync), so amphorae that stopped while no controller ran are brought back;
the resync only fills slots that pending work leaves free, a few at a time,
so a controller starting next to a large fleet neither hoards leases nor
delays a user's change behind thousands of checks.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.exc import DBAPIError

from hydria.controller.metrics import RECONCILE_SECONDS, RECONCILES
from hydria.controller.reconciler import Outcome, Reconciler
from hydria.core import constants as c
from hydria.core.errors import PermanentError, TemporaryError
from hydria.db import amphorae as amp_db
from hydria.db import convergence, leases
from hydria.db.engine import Database
from hydria.db.models import LoadBalancer, utcnow
from hydria.db.notify import InProcessNotifier
from hydria.db.settle import SettleSignal

log = logging.getLogger("hydria.controller")


class LeaseLost(Exception):
    """Another controller owns this load balancer now; stop touching it."""


MAX_BACKOFF = 30.0
# after a failed round of failover attempts, the next round starts this much later
FAILOVER_RETRY = MAX_BACKOFF


def backoff(attempt: int) -> float:
    return min(0.5 * 2.0 ** max(attempt - 1, 0), MAX_BACKOFF)


class ControllerLoop:
    def __init__(
        self,
        db: Database,
        reconciler: Reconciler,
        *,
        owner: str | None = None,
        notifier: InProcessNotifier | None = None,
        settle: SettleSignal | None = None,
        workers: int = 4,
        lease_seconds: float = 15.0,
        poll_interval: float = 2.0,
        max_attempts: int = 5,
    ) -> None:
        self.db = db
        self.reconciler = reconciler
        self.owner = owner or f"controller-{uuid.uuid4().hex[:12]}"
        self.notifier = notifier
        # told after every outcome is written: API readers of a pending object wait on it
        self.settle = settle
        self.workers = workers
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self._inflight: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._lost: set[str] = set()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="reconcile")
        # the start-up resync: (id, not before) in order; None until it is loaded
        self._resync: deque[tuple[str, float]] | None = None
        self._resync_retried: set[str] = set()
        self._resyncing: set[str] = set()
        # in flight when a wake-up named them: looked at again once their work ends
        self._rewake: set[str] = set()
        # the last claim stopped for want of a free slot: claim again when one frees
        self._backlog = False

    # -- public -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        log.info("event=controller_start owner=%s workers=%s", self.owner, self.workers)
        # the renewer has its own stop: leases are kept while a shutdown drains
        self._renewing = threading.Event()
        renewer = threading.Thread(
            target=self._renew_leases, args=(self._renewing,), daemon=True, name="lease-renewer"
        )
        renewer.start()
        warm_up = getattr(self.reconciler, "warm_up", None)
        if warm_up is not None:  # before the first claim: a user's first change is not slower
            try:
                warm_up()
            except Exception:  # never worth not starting for
                log.warning("event=warm_up_failed", exc_info=True)
        self._claim_and_submit()
        self._resync_some()
        tick = time.monotonic() + self.poll_interval
        while not stop.is_set():
            woken = (
                self.notifier.wait(max(tick - time.monotonic(), 0.0)) if self.notifier else set()
            )
            if not self.notifier:
                stop.wait(self.poll_interval)
            if stop.is_set():
                break
            named = sorted(i for i in woken if i)
            if named:
                self._claim_and_submit(only=named)
            due = self.notifier is None or time.monotonic() >= tick
            if due or self._backlog or "" in woken:
                # The general claim runs on the poll tick, not on every wake-up: a
                # wake-up names its load balancer, and what that claim could not
                # take (leased elsewhere) this one finds. Sooner when work was
                # left for want of a slot and a slot is free now (``_backlog``), or
                # when a listener says it may have missed wake-ups ("").
                if due:
                    tick = time.monotonic() + self.poll_interval
                self._claim_and_submit()
            self._resync_some()
        self.shutdown()

    def shutdown(self) -> None:
        """Let running reconciles finish, then give back whatever we still hold."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if getattr(self, "_renewing", None) is not None:
            self._renewing.set()
        with self._lock:
            held = list(self._inflight)
        for lb_id in held:
            leases.release(self.db, lb_id, self.owner)
        log.info("event=controller_stop owner=%s", self.owner)

    def drain(self, timeout: float) -> bool:
        """Testing and ``hydria up`` helper: wait until nothing is in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._inflight:
                    return True
            time.sleep(0.02)
        return False

    # -- claiming -----------------------------------------------------------

    def _claim_and_submit(self, *, only: list[str] | None = None) -> None:
        """Claim pending work (all of it, or the ``only`` ids) into the free slots."""
        with self._lock:
            if only is not None:
                # the change may have come after its reconcile read the rows:
                # _work wakes the loop for it again when that reconcile ends
                self._rewake.update(i for i in only if i in self._inflight)
        while True:
            with self._lock:
                busy = sorted(self._inflight)
                slots = self.workers * 2 - len(busy)
                candidates = None if only is None else [i for i in only if i not in busy]
                if candidates == []:
                    return
                if slots <= 0:
                    self._backlog = True
                    return
            ids = self._claim(slots, only=candidates, exclude=busy)
            if ids is None:
                return
            self._submit(ids)
            if only is not None:
                if len(ids) < len(candidates or ()) and len(ids) == slots:
                    self._backlog = True  # some named ones found no slot
                return
            if len(ids) < slots:
                self._backlog = False  # the general claim took all there was
                return

    def _claim(
        self,
        limit: int,
        *,
        only: list[str] | None = None,
        exclude: Sequence[str] = (),
        include_settled: bool = False,
    ) -> list[str] | None:
        """The claimed ids, or None when the claim failed (logged; the next poll retries).

        Ids still in flight here are excluded: between a reconcile giving its lease
        back and leaving ``_inflight`` it must not be claimed a second time.
        """
        try:
            return leases.claim_batch(
                self.db,
                self.owner,
                lease_seconds=self.lease_seconds,
                limit=limit,
                only=only,
                exclude=list(exclude),
                include_settled=include_settled,
            )
        except DBAPIError as exc:  # the database is away: one line, the next poll retries
            log.warning(
                "event=claim_failed owner=%s reason=%s",
                self.owner,
                str(exc.orig or exc).splitlines()[0],
            )
        except Exception:  # anything else is a bug worth its traceback
            log.exception("event=claim_failed owner=%s", self.owner)
        return None

    def _submit(self, ids: list[str], *, resync: bool = False) -> None:
        for lb_id in ids:
            with self._lock:
                if resync:
                    self._resyncing.add(lb_id)
                self._inflight[lb_id] = self._pool.submit(self._work, lb_id)

    # -- the start-up resync -------------------------------------------------

    def _resync_room(self) -> int:
        """Slots the resync may take now: never all workers, so a user's change
        claimed next never waits queued behind resync checks."""
        with self._lock:
            free = self.workers * 2 - len(self._inflight)
            mine = max(1, self.workers - 1) - len(self._resyncing)
        return min(free, mine)

    def _resync_some(self) -> None:
        """Check the next few live load balancers, in the room pending work leaves.

        One that another controller holds (perhaps this controller's own previous
        run, killed, whose lease has not run out yet) is tried once more after a
        lease. A failed claim puts its batch back: nothing is skipped for good.
        """
        if self._resync is None:
            try:
                self._resync = deque((i, 0.0) for i in leases.live_ids(self.db))
            except DBAPIError as exc:  # tried again at the next poll
                log.warning(
                    "event=resync_deferred owner=%s reason=%s",
                    self.owner,
                    str(exc.orig or exc).splitlines()[0],
                )
                return
            log.info("event=resync_start owner=%s count=%s", self.owner, len(self._resync))
            if not self._resync:
                log.info("event=resync_done owner=%s", self.owner)
        while self._resync:
            room = self._resync_room()
            if room <= 0:
                return
            now = time.monotonic()
            with self._lock:
                busy = set(self._inflight)
            batch: list[str] = []
            while self._resync and len(batch) < room and self._resync[0][1] <= now:
                lb_id, _ = self._resync.popleft()
                if lb_id not in busy:  # in flight already: being converged right now
                    batch.append(lb_id)
            if not batch:
                if self._resync and self._resync[0][1] <= now:
                    continue
                return
            claimed = self._claim(len(batch), only=batch, include_settled=True)
            if claimed is None:
                self._resync.extendleft(reversed([(i, 0.0) for i in batch]))
                return
            self._submit(claimed, resync=True)
            for lb_id in batch:
                if lb_id not in claimed and lb_id not in self._resync_retried:
                    self._resync_retried.add(lb_id)
                    self._resync.append((lb_id, now + self.lease_seconds))
            if not self._resync:
                log.info("event=resync_done owner=%s", self.owner)

    def _renew_leases(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease_seconds / 3):
            self.renew_once()

    def renew_once(self) -> list[str]:
        """Renew every lease in flight in one write; return the ones lost.

        A lease is lost only if another controller holds it now. One that
        nobody holds was given back by its own work, which finished between the
        snapshot and the write (the usual case under a burst); and a claim that
        finished and was claimed again meanwhile is a new claim: neither is
        flagged, so a lost flag can never fall on the wrong claim.
        """
        with self._lock:
            held = dict(self._inflight)
        try:
            missed = leases.renew_all(
                self.db, list(held), self.owner, lease_seconds=self.lease_seconds
            )
        except DBAPIError as exc:
            log.warning(
                "event=lease_renew_failed held=%d reason=%s",
                len(held),
                str(exc.orig or exc).splitlines()[0],
            )
            return []
        except Exception:
            log.exception("event=lease_renew_failed held=%d", len(held))
            return []
        lost = []
        with self._lock:
            for lb_id, holder in missed.items():
                if holder is None or self._inflight.get(lb_id) is not held[lb_id]:
                    continue
                log.warning("event=lease_lost lb=%s owner=%s holder=%s", lb_id, self.owner, holder)
                self._lost.add(lb_id)
                lost.append(lb_id)
        return lost

    # -- one unit of work ---------------------------------------------------

    def _work(self, lb_id: str) -> None:
        rid = uuid.uuid4().hex[:8]
        started = time.monotonic()

        def checkpoint() -> None:
            if lb_id in self._lost:
                raise LeaseLost(lb_id)

        again = True  # unless the outcome shows nothing is left to do
        try:
            outcome = self._reconcile(lb_id, checkpoint)
            RECONCILES.labels(outcome=outcome.kind).inc()
            RECONCILE_SECONDS.observe(time.monotonic() - started)
            log.info(
                "event=reconciled lb=%s rid=%s outcome=%s took=%.3fs%s",
                lb_id,
                rid,
                outcome.kind,
                time.monotonic() - started,
                f" reason={outcome.reason!r}" if outcome.reason else "",
            )
            self._settle(lb_id, outcome)
            # converged (or gone) at the generation it read: nothing new to claim
            # unless a wake-up for it came meanwhile (the API's, after its commit)
            again = outcome.kind not in ("done", "gone")
        except Exception:
            RECONCILES.labels(outcome="crashed").inc()
            log.exception("event=reconcile_crashed lb=%s rid=%s", lb_id, rid)
            self._settle(lb_id, Outcome("retry", "internal error", backoff(1)))
        finally:
            with self._lock:
                self._lost.discard(lb_id)
                self._inflight.pop(lb_id, None)
                self._resyncing.discard(lb_id)
                if lb_id in self._rewake:
                    self._rewake.discard(lb_id)
                    again = True
            if self.settle is not None:
                # the outcome is written (ACTIVE, ERROR, DELETED, or a retry later):
                # a client's GET waiting on this load balancer reads it now
                self.settle.settled(lb_id)
            if self.notifier is not None:
                if again:
                    # the state moved while we worked (a wake-up named it, or the
                    # outcome was superseded by a newer generation): claim it again
                    self.notifier.notify(lb_id)
                elif self._backlog or self._resync:
                    # work waits for the slot this one frees (pending, or the
                    # start-up resync): the general claim and the resync, now
                    self.notifier.wake()
                # else a claim would find nothing: no wake-up, no statement

    def _reconcile(self, lb_id: str, checkpoint: Callable[[], None]) -> Outcome:
        try:
            return self.reconciler.reconcile(lb_id, checkpoint, owner=self.owner)
        except LeaseLost:
            return Outcome("superseded", "lease lost")
        except PermanentError as exc:
            return Outcome("failed", f"{type(exc).__name__}: {exc}")
        except TemporaryError as exc:
            return Outcome("retry", f"{type(exc).__name__}: {exc}", exc.retry_after)
        except Exception as exc:  # unexpected: bounded retries, then ERROR
            log.exception("event=reconcile_error lb=%s", lb_id)
            return Outcome("retry", f"{type(exc).__name__}: {exc}", 1.0)

    def _settle(self, lb_id: str, outcome: Outcome) -> None:
        if outcome.kind in ("done", "gone"):
            return  # mark_converged released the lease with the statuses
        with self.db.session() as session:
            lb = session.get(LoadBalancer, lb_id)
            if lb is None or lb.lease_owner != self.owner:
                return
            generation, attempts = lb.generation, lb.attempts + 1
            settled = lb.applied_generation == generation and lb.provisioning_status in (
                c.ACTIVE,
                c.ERROR,
            )
        if outcome.kind == "superseded":
            if outcome.generation is None or outcome.generation != generation:
                # a newer generation waits: claim it again at once
                leases.release(self.db, lb_id, self.owner)
                return
            # "superseded" while still at the generation it worked on: nothing moved
            # on, so claiming it again at once would only repeat it in a hot loop
            # (a no-op agent that kept an old amphora's version did, 40k times in
            # 6 min). It is a retry like any other: backoff, then ERROR with why.
            outcome = Outcome("retry", outcome.reason or "superseded with no newer generation")
        if outcome.kind == "retry" and attempts < self.max_attempts:
            delay = max(outcome.retry_after, backoff(attempts))
            log.warning(
                "event=retry_scheduled lb=%s attempt=%s in=%.1fs reason=%r",
                lb_id,
                attempts,
                delay,
                outcome.reason,
            )
            leases.release(
                self.db,
                lb_id,
                self.owner,
                attempts=attempts,
                retry_at=utcnow() + dt.timedelta(seconds=delay),
                error_reason=outcome.reason,
            )
            return
        with self.db.session() as session:
            failing_over = amp_db.failover_pending(session, lb_id)
        if settled and not failing_over:
            # a resync of a settled load balancer failed: it keeps its status
            log.error("event=repair_failed lb=%s reason=%r", lb_id, outcome.reason)
            leases.release(self.db, lb_id, self.owner, attempts=0, error_reason=outcome.reason)
            return
        # A failover that cannot replace a dead amphora leaves the data plane down:
        # ERROR says so, and a fresh round of attempts follows later (the amphora
        # stays marked, so the load balancer would otherwise be claimed at once).
        retry_at = utcnow() + dt.timedelta(seconds=FAILOVER_RETRY) if failing_over else None
        log.error(
            "event=failed lb=%s attempts=%s failover=%s reason=%r",
            lb_id,
            attempts,
            failing_over,
            outcome.reason,
        )
        with self.db.session() as session:
            if not convergence.mark_failed(
                session, lb_id, generation, outcome.reason, retry_at=retry_at, owner=self.owner
            ):
                pass  # the desired state moved on: the next claim works on that
        leases.release(self.db, lb_id, self.owner, attempts=attempts)
