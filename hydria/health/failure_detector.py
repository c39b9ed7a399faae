"""The failure detector: marks silent amphorae for failover, unless it is a storm.

Every ``check_interval`` seconds (or sooner, right when an amphora is due to
cross the timeout: ``Decision.next_silence``) it reads every live, configured amphora
(status ALLOCATED, attached to a load balancer that is not DELETED or
PENDING_DELETE) with its last heartbeat (``amphora_health``, written by the
receiver), asks the pure ``hydria.health.detect.decide`` what to do, and sets
``Amphora.failover_requested`` on the silent ones. The controller claims the
load balancer of a marked amphora (``hydria.db.leases``) and replaces it.

Marking is one conditional UPDATE that re-checks, in the database, that the
amphora is still ALLOCATED, not yet marked and still silent (no heartbeat
newer than the cut-off): several health managers on one database mark each
amphora once, and a heartbeat that lands between the read and the write wins.

An amphora of a live load balancer still BOOTING past ``boot_timeout`` (its
booter died before recording it, or it never came up) is marked too, outside
the storm guard: a load balancer must never look served by an amphora that
never came up.

Storm alarm: when ``decide`` reports a storm, nothing is marked, an
``event=failover_storm`` line is logged at ERROR (again whenever the set of
silent amphorae changes) and ``event=failover_storm_cleared`` when it ends.
The current alarm is also kept in the ``alarms`` table (name
``failover_storm``), which every API process shows at ``GET /v2/hydria/alarms``,
and in this module (``current_storm()``) for code in the same process.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, or_, select, update

from hydria.core import constants as c
from hydria.db.alarms import clear_alarm, raise_alarm
from hydria.db.engine import Database, rows_matched
from hydria.db.models import Amphora, AmphoraHealth, LoadBalancer, utcnow
from hydria.health.detect import Decision, Observed, decide, overdue_boots

log = logging.getLogger("hydria.health.failure_detector")

_GONE_LB = (c.DELETED, c.PENDING_DELETE)
# look this long after an amphora is due to turn silent (timestamps are not exact)
_PAST_DUE = 0.02
_MIN_WAIT = 0.02


@dataclass(frozen=True)
class StormAlarm:
    """Too many amphorae silent at once: failovers are held back."""

    since: dt.datetime  # naive UTC, when this detector first saw the storm
    silent: tuple[str, ...]  # amphora ids silent for longer than the timeout
    quiet: int  # amphorae not seen for over half the timeout
    fleet: int  # live, configured amphorae
    threshold: float
    min_fleet: int


STORM_ALARM = "failover_storm"

_alarm_lock = threading.Lock()
_alarm: StormAlarm | None = None


def current_storm() -> StormAlarm | None:
    """The storm alarm raised by a detector in this process, if one is on now."""
    with _alarm_lock:
        return _alarm


def _set_alarm(alarm: StormAlarm | None) -> None:
    global _alarm
    with _alarm_lock:
        _alarm = alarm


def _observe(db: Database, status: str, *, heard: bool) -> list[Observed]:
    """Every ``status`` amphora of a live load balancer, with when it was last touched
    (and, if ``heard``, its last heartbeat), in one query."""
    with db.session() as session:
        rows = session.execute(
            select(
                Amphora.id,
                Amphora.created_at,
                Amphora.updated_at,
                Amphora.failover_requested,
                AmphoraHealth.last_update,
            )
            .join(LoadBalancer, LoadBalancer.id == Amphora.load_balancer_id)
            .outerjoin(AmphoraHealth, AmphoraHealth.amphora_id == Amphora.id)
            .where(
                Amphora.status == status,
                LoadBalancer.provisioning_status.notin_(_GONE_LB),
            )
        ).all()
    return [
        Observed(
            amphora_id=r.id,
            last_heartbeat=r.last_update if heard else None,
            touched_at=max(r.created_at, r.updated_at or r.created_at),
            failover_requested=bool(r.failover_requested),
        )
        for r in rows
    ]


def _request_failover(
    db: Database,
    amphora_ids: Sequence[str],
    status: str,
    since: dt.datetime,
    *also: ColumnElement[bool],
) -> list[tuple[str, str | None]]:
    """Request failover of each of ``amphora_ids`` still ``status``, not requested yet
    and untouched since ``since`` (and ``also`` holds), in one conditional UPDATE
    each; return ``(amphora_id, load_balancer_id)`` of the ones this call marked."""
    marked: list[tuple[str, str | None]] = []
    if not amphora_ids:
        return marked
    with db.session() as session:
        for amp_id in amphora_ids:
            matched = rows_matched(
                session,
                update(Amphora)
                .where(
                    Amphora.id == amp_id,
                    Amphora.status == status,
                    Amphora.failover_requested.is_(False),
                    *also,
                    Amphora.created_at < since,
                    or_(Amphora.updated_at.is_(None), Amphora.updated_at < since),
                )
                # keep updated_at: it is "last (re)booted or reconfigured" to decide()
                .values(failover_requested=True, updated_at=Amphora.updated_at)
                .execution_options(synchronize_session=False),
            )
            if matched == 1:
                lb_id = session.scalar(select(Amphora.load_balancer_id).where(Amphora.id == amp_id))
                marked.append((amp_id, lb_id))
    return marked


def observe_boots(db: Database) -> list[Observed]:
    """Every BOOTING amphora of a live load balancer, with when it was last touched."""
    return _observe(db, c.AMPHORA_BOOTING, heard=False)


def mark_boot_failed(
    db: Database, amphora_ids: tuple[str, ...], *, booting_since: dt.datetime
) -> list[tuple[str, str | None]]:
    """Request failover of those still BOOTING since before ``booting_since``."""
    return _request_failover(db, amphora_ids, c.AMPHORA_BOOTING, booting_since)


def observe(db: Database) -> list[Observed]:
    """Every live, configured amphora with its last heartbeat, in one query."""
    return _observe(db, c.AMPHORA_ALLOCATED, heard=True)


def mark_for_failover(
    db: Database, amphora_ids: list[str] | tuple[str, ...], *, silent_since: dt.datetime
) -> list[tuple[str, str | None]]:
    """Request failover of those of a live load balancer still silent since
    ``silent_since``; return ``(amphora_id, load_balancer_id)`` of the ones marked."""
    heard_since = exists().where(
        AmphoraHealth.amphora_id == Amphora.id, AmphoraHealth.last_update >= silent_since
    )
    live_lb = exists().where(
        LoadBalancer.id == Amphora.load_balancer_id,
        LoadBalancer.provisioning_status.notin_(_GONE_LB),
    )
    return _request_failover(
        db, amphora_ids, c.AMPHORA_ALLOCATED, silent_since, ~heard_since, live_lb
    )


@dataclass(frozen=True)
class DetectorOptions:
    """When an amphora counts as failed, and when failing amphorae over is held back."""

    heartbeat_timeout: float = 60.0  # silent longer than this: failed
    check_interval: float = 1.0  # the longest wait between two checks
    # storm guard: if more than this share of a fleet of at least ``storm_min_fleet``
    # amphorae is silent at once, fail none over and raise an alarm instead
    storm_threshold: float = 0.5
    storm_min_fleet: int = 4
    boot_timeout: float | None = None  # BOOTING longer than this: failed (None: not watched)


class FailureDetector:
    """Run ``run(stop)`` in a thread of the health service (``hydria health``, ``hydria up``).

    ``notify``, if given, is called with the load balancer id of every amphora
    it marks (``InProcessNotifier.notify`` in ``hydria up``) so the controller
    starts at once instead of at its next poll.
    """

    def __init__(
        self,
        db: Database,
        options: DetectorOptions,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.options = options
        self.notify = notify
        self.watching_since = utcnow()
        self.storm: StormAlarm | None = None

    def run(self, stop: threading.Event) -> None:
        """Check every ``check_interval`` until ``stop`` is set; survive database errors."""
        self.watching_since = utcnow()
        log.info(
            "event=failure_detector_start timeout=%.1fs interval=%.1fs storm=%.2f/%d",
            self.options.heartbeat_timeout,
            self.options.check_interval,
            self.options.storm_threshold,
            self.options.storm_min_fleet,
        )
        failing = False
        while not stop.is_set():
            wait = self.options.check_interval
            try:
                decision = self.check_once()
                wait = self.next_wait(decision)
                if failing:
                    log.info("event=failure_check_recovered")
                failing = False
            except Exception:  # the database may be away: try again next time
                if not failing:
                    log.exception("event=failure_check_failed")
                else:
                    log.warning("event=failure_check_failed again")
                failing = True
            stop.wait(wait)
        log.info("event=failure_detector_stop")

    def check_once(self, now: dt.datetime | None = None) -> Decision:
        """One look at the fleet; ``now`` lets tests control time."""
        now = now or utcnow()
        decision = decide(
            now,
            observe(self.db),
            timeout=self.options.heartbeat_timeout,
            threshold=self.options.storm_threshold,
            min_fleet=self.options.storm_min_fleet,
            watching_since=self.watching_since,
        )
        self._alarm(now, decision)
        if self.options.boot_timeout is not None:
            self._fail_overdue_boots(now, self.options.boot_timeout)
        if decision.failover:
            cutoff = now - dt.timedelta(seconds=self.options.heartbeat_timeout)
            for amp_id, lb_id in mark_for_failover(self.db, decision.failover, silent_since=cutoff):
                log.warning(
                    "event=failover_requested amphora=%s lb=%s reason=heartbeat_timeout"
                    " timeout=%.1fs",
                    amp_id,
                    lb_id,
                    self.options.heartbeat_timeout,
                )
                if self.notify is not None and lb_id is not None:
                    self.notify(lb_id)
        return decision

    def _fail_overdue_boots(self, now: dt.datetime, boot_timeout: float) -> None:
        overdue = overdue_boots(now, observe_boots(self.db), boot_timeout=boot_timeout)
        if not overdue:
            return
        since = now - dt.timedelta(seconds=boot_timeout)
        for amp_id, lb_id in mark_boot_failed(self.db, overdue, booting_since=since):
            log.warning(
                "event=failover_requested amphora=%s lb=%s reason=boot_timeout timeout=%.1fs",
                amp_id,
                lb_id,
                boot_timeout,
            )
            if self.notify is not None and lb_id is not None:
                self.notify(lb_id)

    def next_wait(self, decision: Decision, now: dt.datetime | None = None) -> float:
        """Seconds to the next check: ``check_interval``, or sooner if an amphora
        will cross the timeout before then (just after it does)."""
        if decision.next_silence is None:
            return self.options.check_interval
        due = (decision.next_silence - (now or utcnow())).total_seconds() + _PAST_DUE
        return max(_MIN_WAIT, min(self.options.check_interval, due))

    def _alarm(self, now: dt.datetime, decision: Decision) -> None:
        if decision.storm:
            before = self.storm
            self.storm = StormAlarm(
                since=before.since if before else now,
                silent=decision.silent,
                quiet=len(decision.quiet),
                fleet=decision.fleet,
                threshold=self.options.storm_threshold,
                min_fleet=self.options.storm_min_fleet,
            )
            _set_alarm(self.storm)
            self._record_alarm(self.storm)
            if before is None or before.silent != decision.silent:
                log.error(
                    "event=failover_storm silent=%d quiet=%d fleet=%d threshold=%.2f "
                    "action=holding_back_failovers amphorae=%s",
                    len(decision.silent),
                    len(decision.quiet),
                    decision.fleet,
                    self.options.storm_threshold,
                    ",".join(decision.silent),
                )
        elif self.storm is not None:
            log.warning(
                "event=failover_storm_cleared silent=%d fleet=%d lasted=%.1fs",
                len(decision.silent),
                decision.fleet,
                (now - self.storm.since).total_seconds(),
            )
            self.storm = None
            _set_alarm(None)
            self._record_alarm(None)

    def _record_alarm(self, alarm: StormAlarm | None) -> None:
        """Keep the alarm in the database too, so every API process can show it."""
        try:
            with self.db.session() as session:
                if alarm is None:
                    clear_alarm(session, STORM_ALARM)
                else:
                    raise_alarm(
                        session,
                        STORM_ALARM,
                        {
                            "silent_amphorae": list(alarm.silent),
                            "quiet": alarm.quiet,
                            "fleet": alarm.fleet,
                            "threshold": alarm.threshold,
                            "min_fleet": alarm.min_fleet,
                            "since": alarm.since.isoformat(timespec="seconds") + "Z",
                        },
                    )
        except Exception:  # the log line stands; the row follows on the next check
            log.exception("event=alarm_record_failed")
