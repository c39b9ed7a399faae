"""Listener counters that survive HAProxy reloads and restarts.

HAProxy counts traffic per worker process: after a seamless reload the new
worker starts from zero, as does a HAProxy the supervisor had to start again.
The agent therefore reports, per listener, the counters of the current worker
plus a *base*: everything earlier workers of this amphora counted. When the
worker changes (``show info``'s ``Pid``), the last values read from the old one
are added to the base. The agent reads the old worker once more just before it
signals a reload (``ConfigStore.apply``), so what it served up to the reload is
counted; bytes that connections still open on the old worker move after the
reload are not (HAProxy's stats socket belongs to the new worker by then).

So every heartbeat carries monotonic totals per (listener, amphora): a lost or
duplicated heartbeat changes nothing, the health manager keeps the newest row
per (listener, amphora), and the API sums the rows of every amphora a listener
ever had, the replaced ones included. That is why Hydria does not send deltas
as Octavia's amphora does: a delta lost on UDP, or added by two health
managers, is traffic lost or counted twice.

``fold`` is the pure rule; ``CounterStore`` keeps its state in the amphora
folder (atomic rename), so an agent restart, even one during which HAProxy
restarted too, loses nothing it had reported.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The cumulative counters of a frontend row of ``show stat``; ``scur`` (active
#: connections) is a gauge and is never added up.
CUMULATIVE = ("bin", "bout", "stot", "ereq")


@dataclass(frozen=True)
class FoldState:
    worker: int | None = None
    #: listener id -> counter -> the last value read from ``worker``
    last: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: listener id -> counter -> what earlier workers counted
    base: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def _int(text: object) -> int:
    try:
        return max(int(str(text or 0)), 0)
    except ValueError:
        return 0


def _added(
    base: Mapping[str, Mapping[str, int]], extra: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    out = {lid: dict(counters) for lid, counters in base.items()}
    for lid, counters in extra.items():
        mine = out.setdefault(lid, {})
        for name, value in counters.items():
            mine[name] = mine.get(name, 0) + value
    return out


def fold(
    state: FoldState, worker: int | None, rows: Iterable[Mapping[str, str]]
) -> tuple[FoldState, list[dict[str, str]]]:
    """Pure: ``show stat`` rows of ``worker`` -> (new state, rows whose frontend
    counters are totals over every worker this amphora ran).

    A different worker than last time folds the old one's last values into the
    base; so does a counter that went down under the same pid (a restart that
    reused it). ``worker`` None (HAProxy not answering) changes nothing.
    """
    out_rows: list[dict[str, str]] = [dict(row) for row in rows]
    if worker is None:
        return state, out_rows
    raw = {
        row["pxname"]: {name: _int(row.get(name)) for name in CUMULATIVE}
        for row in out_rows
        if row.get("svname") == "FRONTEND" and row.get("pxname")
    }
    base: Mapping[str, Mapping[str, int]] = state.base
    if state.worker is not None and worker != state.worker:
        base = _added(base, state.last)
    else:
        went_down = {
            lid: state.last[lid]
            for lid, now in raw.items()
            if lid in state.last and any(now[n] < state.last[lid].get(n, 0) for n in CUMULATIVE)
        }
        if went_down:
            base = _added(base, went_down)
    # a listener the old worker knew but this one does not stays in the base
    last = {**({} if state.worker not in (None, worker) else state.last), **raw}
    for row in out_rows:
        lid = row.get("pxname", "")
        if row.get("svname") == "FRONTEND" and lid in raw:
            for name in CUMULATIVE:
                row[name] = str(raw[lid][name] + base.get(lid, {}).get(name, 0))
    return FoldState(worker, last, base), out_rows


class CounterStore:
    """``fold`` with its state kept in a file, safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state = self._load()

    def _load(self) -> FoldState:
        try:
            data: Any = json.loads(self.path.read_text())
            return FoldState(data.get("worker"), data.get("last", {}), data.get("base", {}))
        except (OSError, ValueError, AttributeError):
            return FoldState()

    def observe(
        self, worker: int | None, rows: Iterable[Mapping[str, str]]
    ) -> list[dict[str, str]]:
        with self._lock:
            state, out = fold(self._state, worker, rows)
            if state != self._state:
                self._save(state)
                self._state = state
            return out

    def _save(self, state: FoldState) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"worker": state.worker, "last": state.last, "base": state.base}, fh)
        tmp.replace(self.path)
