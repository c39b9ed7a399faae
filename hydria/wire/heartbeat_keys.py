"""Per-amphora heartbeat keys, derived from the deployment's key.

An amphora signs its heartbeats with a key of its own,
``HKDF-SHA256(deployment key, info = "hydria heartbeat v2" + amphora id)``. The
controller derives it when it boots the amphora and hands it over in the boot
configuration (delivered to the amphora's own 0600 files, never over the
network in clear); the health manager derives the same key from the id in the
packet's envelope. The deployment key itself never leaves the control plane,
so an amphora, or whoever breaks into one, can sign for that amphora only.
"""

from __future__ import annotations

import threading
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hydria.wire.heartbeat import SigningKey

KEY_BYTES: Final = 32
# a deployment key shorter than this is refused at start
MIN_DEPLOYMENT_KEY_BYTES: Final = 16
_INFO: Final = b"hydria heartbeat v2\0"


def amphora_key(deployment_key: bytes, amphora_id: str) -> bytes:
    """The key one amphora signs its heartbeats with."""
    if len(deployment_key) < MIN_DEPLOYMENT_KEY_BYTES:
        raise ValueError(
            f"a heartbeat deployment key needs {MIN_DEPLOYMENT_KEY_BYTES} bytes or more"
        )
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_INFO + amphora_id.encode()
    ).derive(deployment_key)


class AmphoraKeys:
    """Derived signing keys, cached: the health manager's hot path looks one up
    per heartbeat and derives it once per amphora. Bounded: callers ask only
    for amphorae the database knows, and the cache starts over past
    ``max_entries``."""

    def __init__(self, deployment_key: bytes, *, max_entries: int = 1_000_000) -> None:
        amphora_key(deployment_key, "check")  # refuse a short key now, not per packet
        self._deployment_key = deployment_key
        self._keys: dict[str, SigningKey] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, amphora_id: str) -> SigningKey:
        key = self._keys.get(amphora_id)
        if key is None:
            key = SigningKey(amphora_key(self._deployment_key, amphora_id))
            with self._lock:
                if len(self._keys) >= self.max_entries:
                    self._keys = {}
                self._keys[amphora_id] = key
        return key
