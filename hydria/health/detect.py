"""Which amphorae have gone silent, and whether to fail them over: a pure function.

``decide(now, observed, ...)`` takes what the database says about every live
amphora (its last heartbeat, when it was last (re)booted or reconfigured, and
whether a failover is already requested) and returns a ``Decision``. No clock,
no database, no logging here, so a table of cases covers every rule
(``tests/health/test_detect.py``); ``hydria.health.failure_detector`` is the
thin shell that reads the rows, writes the marks and raises the alarm.

The rules:

- An amphora was last *seen* at its last heartbeat, or at the time its row was
  last (re)booted or reconfigured (``touched_at``), whichever is later. So an
  amphora that never sent a heartbeat is judged from when it booted: that is
  the grace period of a newly booted (or restarted) amphora. A detector that
  just started also gives everyone ``timeout`` seconds from its own start
  (``watching_since``): it cannot have heard heartbeats while it was down.
- *Silent*: not seen for longer than ``timeout``. A silent amphora whose
  failover is not yet requested is a candidate.
- *Storm guard*: a fault on the health side (a broken management network, a
  firewall, a wrong heartbeat key) makes *every* amphora silent, but not at the
  same instant: their last heartbeats are up to one heartbeat interval apart,
  so the first crosses the timeout before the others. Counting only the silent
  ones would fail over the early ones before the guard trips. So the guard
  counts the *quiet* ones, not seen for longer than ``timeout / 2`` (a healthy
  amphora is never quiet that long while ``heartbeat_interval`` is well below
  half the timeout, as with Octavia's 10 s / 60 s and Hydria's tested 1 s / 3 s).
  If at least one amphora is silent, the fleet has at least ``min_fleet``
  amphorae and more than ``threshold`` of it is quiet, it is a storm: nothing is
  failed over. The guard is re-evaluated at every check; it does not latch.
- *Boots that never finished*: an amphora still BOOTING (its agent never
  answered, or the controller that booted it died before recording it) longer
  than the boot timeout is failed, whatever the storm guard says: it is not a
  heartbeat that is missing but an amphora that never came up
  (``overdue_boots``), and its load balancer must not look served.
- ``next_silence`` says when the next amphora that still counts as heard would
  become silent, so the detector can look right then instead of up to a whole
  ``check_interval`` later (detection is then the timeout, not timeout + interval).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Observed:
    """One live, configured amphora as the database sees it."""

    amphora_id: str
    last_heartbeat: dt.datetime | None  # None: no heartbeat ever recorded
    touched_at: dt.datetime  # last (re)boot or reconfiguration of its row
    failover_requested: bool = False


@dataclass(frozen=True)
class Decision:
    failover: tuple[str, ...]  # mark these for failover now
    silent: tuple[str, ...]  # every silent amphora, marked or not
    quiet: tuple[str, ...]  # not seen for over half the timeout (includes ``silent``)
    storm: bool  # too many at once: ``failover`` is empty on purpose
    fleet: int  # live, configured amphorae considered
    # when the next amphora that is not silent yet becomes silent if it stays
    # quiet: the detector looks again then, not a whole check interval later
    next_silence: dt.datetime | None = None


def last_seen(o: Observed, watching_since: dt.datetime | None = None) -> dt.datetime:
    seen = o.touched_at if o.last_heartbeat is None else max(o.last_heartbeat, o.touched_at)
    if watching_since is not None:
        seen = max(seen, watching_since)
    return seen


def decide(
    now: dt.datetime,
    observed: Iterable[Observed],
    *,
    timeout: float,
    threshold: float,
    min_fleet: int,
    watching_since: dt.datetime | None = None,
) -> Decision:
    """Apply the rules of the module docstring to one snapshot of the fleet."""
    fleet = sorted(observed, key=lambda o: o.amphora_id)
    silent_after = dt.timedelta(seconds=timeout)
    quiet_after = dt.timedelta(seconds=timeout / 2)
    silent: list[Observed] = []
    quiet: list[str] = []
    next_silence: dt.datetime | None = None
    for o in fleet:
        seen = last_seen(o, watching_since)
        gap = now - seen
        if gap > quiet_after:
            quiet.append(o.amphora_id)
        if gap > silent_after:
            silent.append(o)
        elif next_silence is None or seen + silent_after < next_silence:
            next_silence = seen + silent_after
    storm = bool(silent) and len(fleet) >= min_fleet and len(quiet) > threshold * len(fleet)
    failover = () if storm else tuple(o.amphora_id for o in silent if not o.failover_requested)
    return Decision(
        failover=failover,
        silent=tuple(o.amphora_id for o in silent),
        quiet=tuple(quiet),
        storm=storm,
        fleet=len(fleet),
        next_silence=next_silence,
    )


def overdue_boots(
    now: dt.datetime, booting: Iterable[Observed], *, boot_timeout: float
) -> tuple[str, ...]:
    """BOOTING amphorae of live load balancers that have been booting for longer
    than ``boot_timeout`` and are not marked yet: to be failed over."""
    limit = dt.timedelta(seconds=boot_timeout)
    return tuple(
        sorted(
            o.amphora_id for o in booting if not o.failover_requested and now - o.touched_at > limit
        )
    )
