"""Counters of what the health manager did with each packet, by kind.

Plain integers behind a lock, read with ``snapshot()``; the service logs them
(``event=health_counters``) and an API or exporter may read them. Kinds:

* ``received``: packets read from the socket;
* rejections before the database (nothing written): ``too_large`` (the
  packet), ``bad_header``, ``unknown_version``, ``unknown_amphora`` (no live
  amphora has the id in the envelope), ``wrong_source`` (not from the
  amphora's management address), ``bad_signature`` (not that amphora's key),
  ``body_too_large`` (inflates past the cap), ``malformed`` (the signed body),
  ``replay`` (not above the last ``seq``), ``future_seq`` (too far above it,
  until the agent confirms);
* ``seq_confirmed`` / ``seq_confirm_failed``: the agent was asked for its
  ``seq`` over the agent API, and answered / did not;
* after the database was asked (nothing written either): ``unknown_amphora``,
  ``deleted_amphora``, ``replay`` (older than the recorded ``seq``),
  ``duplicate`` (a peer health manager recorded the same one);
* ``superseded``: a newer heartbeat of the same amphora arrived before the
  batch was written, so only that one was recorded; ``overload``: dropped,
  too many distinct amphorae waiting;
* ``recorded``, ``batches``, ``write_errors``, ``errors`` (a bug: logged).
"""

from __future__ import annotations

import threading

from hydria.wire.heartbeat import REJECTION_KINDS

# turned away by the receiver besides the envelope's own kinds
RECEIVER_REJECTIONS = ("unknown_amphora", "wrong_source", "replay", "future_seq")
REJECTED = (*REJECTION_KINDS, *RECEIVER_REJECTIONS, "deleted_amphora", "duplicate")
KINDS = (
    "received",
    *REJECTION_KINDS,
    *RECEIVER_REJECTIONS,
    "deleted_amphora",
    "duplicate",
    "superseded",
    "overload",
    "recorded",
    "batches",
    "write_errors",
    "errors",
    "seq_confirmed",
    "seq_confirm_failed",
)


class Counters:
    def __init__(self) -> None:
        self._values = dict.fromkeys(KINDS, 0)
        self._lock = threading.Lock()

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._values[kind] = self._values.get(kind, 0) + n

    def get(self, kind: str) -> int:
        with self._lock:
            return self._values.get(kind, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

    def rejected(self) -> int:
        """Packets that were turned away, for whatever reason."""
        snap = self.snapshot()
        return sum(snap[k] for k in REJECTED)
