"""What this controller last heard from each amphora's agent.

Every convergence used to open with ``GET /1.0/info`` to every amphora it
serves: is the agent there, which configuration version does it run, where are
its sockets. For an amphora this controller booted or pushed to a moment ago
the answer is already known, and on a busy host that round trip over mutual
TLS cost 2-100 ms of each of a new load balancer's five changes. So the
answers are remembered here and updated by what the controller does (a push
moves ``config_version``), and ``GET /info`` is asked only of an amphora this
controller has not heard from, or after anything went wrong with it.

It stays true because an agent's state moves only by this controller's pushes
or by ones it would be told of: another controller's newer push refuses ours
(409, and the entry is forgotten), a dead agent is seen by the compute
driver's ``is_running`` before the memory is used, and any failure of a step
on an amphora forgets it, so the retry asks afresh.
"""

from __future__ import annotations

import threading
from typing import Any


class KnownAgents:
    """``/1.0/info`` answers by amphora id, kept current by the controller's pushes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._info: dict[str, dict[str, Any]] = {}

    def get(self, amphora_id: str) -> dict[str, Any] | None:
        with self._lock:
            info = self._info.get(amphora_id)
            return dict(info) if info is not None else None

    def heard(self, amphora_id: str, info: dict[str, Any]) -> dict[str, Any]:
        """The agent answered ``info``: remember it (and hand it back)."""
        with self._lock:
            self._info[amphora_id] = dict(info)
        return info

    def update(self, amphora_id: str, **fields: Any) -> None:
        """A push the agent accepted moved these fields (``config_version``...)."""
        with self._lock:
            info = self._info.get(amphora_id)
            if info is not None:
                info.update(fields)

    def forget(self, amphora_id: str) -> None:
        """Something went wrong with it, or it is gone: ask it afresh next time."""
        with self._lock:
            self._info.pop(amphora_id, None)
