"""What Keystone said of a token, remembered: a warm token skips ``auth_token``.

keystonemiddleware's own cache still costs a request about as much as the
rest of a GET: it parses the cached token document, its dates, and rewrites
some seventy WSGI headers every time (measured: ~3.5 ms a request on the shared
test machine, more than a noauth GET of one load balancer), and ``KeystoneAuth``
adds a hop to a worker thread. So ``KeystoneAuth`` keeps, per token, the
outcome ``auth_token`` reached (the caller's ``Identity``, or its 401 answer)
and turns ``auth_token``'s cache off: this memo is the one cache, with the
same meaning as Octavia's ``token_cache_time``:

- an entry lives ``HYDRIA_KEYSTONE_TOKEN_CACHE_SECONDS`` from the moment
  Keystone answered, so a revoked token works no longer than that;
- an accepted token is never used past its own ``expires_at``;
- a refused (401) token is remembered the same time, so a flood of bad tokens
  does not become a flood of calls to Keystone (``auth_token`` did the same);
- tokens are kept by their SHA-256, never as text, and at most ``max_entries``
  of them (the oldest go first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def token_expiry(environ: Mapping[str, Any]) -> float | None:
    """When the token ``auth_token`` accepted expires (epoch seconds), if it says."""
    info = environ.get("keystone.token_info") or {}
    raw = (info.get("token") or {}).get("expires_at") or (
        (info.get("access") or {}).get("token") or {}
    ).get("expires")
    if not isinstance(raw, str):
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class TokenMemo(Generic[T]):
    """Outcomes by token, each until its deadline (thread-safe, bounded)."""

    def __init__(
        self,
        seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[float, T]] = {}

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()

    def get(self, token: str) -> T | None:
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, token: str, outcome: T, *, expires_at: float | None = None) -> None:
        """Remember ``outcome`` for the memo's time, never past ``expires_at``."""
        if self.seconds <= 0:
            return
        now = self._clock()
        deadline = now + self.seconds
        if expires_at is not None:
            deadline = min(deadline, expires_at)
        if deadline <= now:
            return
        key = self._key(token)
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (deadline, outcome)
            while len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]

    def __len__(self) -> int:
        return len(self._entries)
