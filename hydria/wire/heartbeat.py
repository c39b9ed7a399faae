"""Heartbeats: what an amphora tells the health manager, as bytes on UDP.

Pure functions, shared by the agent (``encode``) and the health manager
(``decode``). Only the standard library.

Envelope (version 1)::

    +-------+---------+----------------------+--------------------------+
    | HYHB  | version | HMAC-SHA256 (32 B)   | zlib(JSON payload)       |
    | 4 B   | 1 B     | over version + body  | the body                 |
    +-------+---------+----------------------+--------------------------+

The signature covers the version byte and the compressed body, so neither can
be swapped. ``decode`` checks, in this order and before doing any costly work:
the packet size (``TooLarge``), the header (``Malformed``), the version
(``UnknownVersion``), the signature with ``hmac.compare_digest``
(``BadSignature``); only a signed body is decompressed, into at most
``MAX_PAYLOAD_BYTES`` (a bomb is ``TooLarge``), parsed and checked field by field
(``Malformed``). Every rejection is a ``HeartbeatError`` whose ``kind`` names a
counter.

Payload (JSON object)::

    {"id": "<amphora id>", "seq": 17, "schema": 2, "config_version": 4,
     "listeners": {"<listener id>": {"status": "OPEN", "bytes_in": 0, "bytes_out": 0,
                                     "active_connections": 0, "total_connections": 0,
                                     "request_errors": 0}},
     "pools": {"<pool id>": {"status": "UP", "members": {"<member id>": "no check"}}}}

``config_version`` is the generation of the configuration HAProxy ran when the
heartbeat was taken (null before the first one): a heartbeat from an older
configuration than the database last converged says nothing about objects it
does not mention. Statuses are HAProxy's own words (``OPEN``/``FULL`` for a frontend, ``UP``/``DOWN``
for a backend, ``UP``, ``DOWN 1/2``, ``MAINT``, ``DRAIN``, ``no check``... for a
server); the health manager turns them into Octavia's operating statuses.

``schema`` says what the listener counters mean (absent means 1). Schema 1:
the counters of HAProxy's current worker, which a reload sets back to zero.
Schema 2: totals over every HAProxy worker the amphora ran (``hydria.agent.counters``),
so they only grow. Both are running totals per (listener, amphora), stored and
summed the same way; a health manager takes any schema it does not know as the
newest it knows (later schemas only add meaning, never change a field).

``seq`` grows with every heartbeat of an amphora, across agent restarts; the
health manager drops a heartbeat whose ``seq`` is not above the last one it
recorded (a replay). It must fit the database column (``MAX_SEQ``).
"""

from __future__ import annotations

import hmac
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MAGIC: Final = b"HYHB"
VERSION: Final = 1
DIGEST_SIZE: Final = 32
HEADER_SIZE: Final = len(MAGIC) + 1 + DIGEST_SIZE
# A UDP datagram on IPv4 carries at most 65,507 bytes; keep clear of it.
MAX_PACKET_BYTES: Final = 60_000
# The JSON a packet may inflate to: a zlib bomb stops here.
MAX_PAYLOAD_BYTES: Final = 2 * 1024 * 1024
# amphora_health.seq is a 32-bit integer column.
MAX_SEQ: Final = 2**31 - 1
MAX_COUNTER: Final = 2**63 - 1
MAX_ID_CHARS: Final = 64
MAX_STATUS_CHARS: Final = 32
#: The payload schema this side writes (see the module docstring); 1 when absent.
PAYLOAD_SCHEMA: Final = 2
MAX_PAYLOAD_SCHEMA: Final = 255


class HeartbeatError(ValueError):
    """A packet that is not a good heartbeat. ``kind`` names the counter.

    ::

        HeartbeatError
         +-- TooLarge         packet or inflated payload over the limits
         +-- Malformed        not our envelope, truncated, bad zlib/JSON/fields
         +-- UnknownVersion   an envelope version this side does not speak
         +-- BadSignature     HMAC does not match the shared key
    """

    kind = "malformed"


class TooLarge(HeartbeatError):
    kind = "too_large"


class Malformed(HeartbeatError):
    kind = "malformed"


class UnknownVersion(HeartbeatError):
    kind = "unknown_version"


class BadSignature(HeartbeatError):
    kind = "bad_signature"


REJECTION_KINDS: Final = tuple(
    cls.kind for cls in (TooLarge, Malformed, UnknownVersion, BadSignature))


@dataclass(frozen=True)
class ListenerReport:
    """One HAProxy frontend (a listener) as the amphora saw it."""

    status: str
    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0


@dataclass(frozen=True)
class PoolReport:
    """One HAProxy backend (a pool) and its servers (members): id -> status."""

    status: str
    members: Mapping[str, str]


@dataclass(frozen=True)
class Heartbeat:
    amphora_id: str
    seq: int
    listeners: Mapping[str, ListenerReport]
    pools: Mapping[str, PoolReport]
    config_version: int | None = None
    version: int = VERSION
    schema: int = 1


_COUNTERS = ("bytes_in", "bytes_out", "active_connections", "total_connections",
             "request_errors")


def _sign(key: str, version_and_body: bytes) -> bytes:
    return hmac.digest(key.encode(), version_and_body, "sha256")


def encode(payload: Mapping[str, Any], key: str, seq: int) -> bytes:
    """Sign and pack ``payload`` (``id``, ``listeners``, ``pools``) with ``seq``."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq {seq} is outside 0..{MAX_SEQ}")
    data = {**payload, "seq": seq}
    body = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    signed = bytes((VERSION,)) + body
    packet = MAGIC + signed[:1] + _sign(key, signed) + body
    if len(packet) > MAX_PACKET_BYTES:
        raise TooLarge(f"heartbeat of {len(packet)} bytes exceeds {MAX_PACKET_BYTES}")
    return packet


def decode(packet: bytes, key: str) -> Heartbeat:
    """Check and unpack one packet; raise a ``HeartbeatError`` subclass if it is bad."""
    if len(packet) > MAX_PACKET_BYTES:
        raise TooLarge(f"packet of {len(packet)} bytes exceeds {MAX_PACKET_BYTES}")
    if len(packet) <= HEADER_SIZE:
        raise Malformed(f"packet of {len(packet)} bytes is shorter than a heartbeat")
    if packet[:4] != MAGIC:
        raise Malformed("not a heartbeat envelope")
    version = packet[4]
    if version != VERSION:
        raise UnknownVersion(f"envelope version {version} is not {VERSION}")
    digest = packet[5:HEADER_SIZE]
    body = packet[HEADER_SIZE:]
    if not hmac.compare_digest(digest, _sign(key, packet[4:5] + body)):
        raise BadSignature("HMAC does not match")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(body, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise Malformed(f"bad zlib body: {exc}") from None
    if inflater.unconsumed_tail:
        raise TooLarge(f"payload inflates past {MAX_PAYLOAD_BYTES} bytes")
    if not inflater.eof:
        raise Malformed("truncated zlib body")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Malformed(f"bad JSON: {exc}") from None
    return _parse(data, version)


def _parse(data: object, version: int) -> Heartbeat:
    obj = _obj(data, "payload")
    amphora_id = _id(obj.get("id"), "id")
    seq = _int(obj.get("seq"), "seq", MAX_SEQ)
    schema = _int(obj.get("schema", 1), "schema", MAX_PAYLOAD_SCHEMA) or 1
    raw_version = obj.get("config_version")
    config_version = (None if raw_version is None
                      else _int(raw_version, "config_version", MAX_COUNTER))
    listeners = {}
    for lid, raw in _obj(obj.get("listeners", {}), "listeners").items():
        entry = _obj(raw, f"listener {lid!r}")
        listeners[_id(lid, "listener id")] = ListenerReport(
            _status(entry.get("status"), f"listener {lid} status"),
            *(_int(entry.get(name, 0), f"listener {lid} {name}", MAX_COUNTER)
              for name in _COUNTERS))
    pools = {}
    for pid, raw in _obj(obj.get("pools", {}), "pools").items():
        entry = _obj(raw, f"pool {pid!r}")
        members = {_id(mid, "member id"): _status(st, f"member {mid} status")
                   for mid, st in _obj(entry.get("members", {}), f"pool {pid} members").items()}
        pools[_id(pid, "pool id")] = PoolReport(_status(entry.get("status"),
                                                        f"pool {pid} status"), members)
    return Heartbeat(amphora_id, seq, listeners, pools, config_version, version, schema)


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} is not an object")
    return value


def _id(value: object, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise Malformed(f"{what} is not an id")
    return value


def _status(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_STATUS_CHARS:
        raise Malformed(f"{what} is not a status")
    return value


def _int(value: object, what: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise Malformed(f"{what} is not an integer in 0..{maximum}")
    return value
