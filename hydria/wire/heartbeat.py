"""Heartbeats: what an amphora tells the health manager, as bytes on UDP.

Pure functions, shared by the agent (``encode``) and the health manager
(``open_envelope``, ``verify``; ``decode`` is both). Only the standard library.

Envelope (version 2)::

    +------+---------+-----+------------+--------+--------------------+------------------+
    | HYHB | version | n   | amphora id | seq    | HMAC-SHA256 (32 B) | zlib(JSON)       |
    | 4 B  | 1 B = 2 | 1 B | n B, ASCII | 4 B BE | over version..seq  | the body         |
    |      |         |     |            |        | and the body       |                  |
    +------+---------+-----+------------+--------+--------------------+------------------+

Every amphora signs with a key of its own (``hydria.wire.heartbeat_keys``:
derived from the deployment key and its id), so the id travels in clear
before the signature: the health manager needs it to pick the key, and to
drop a packet from an unknown amphora or from the wrong address before it
does any cryptography. The sequence number travels in clear (signed) too, so
the receiver authenticates a packet and judges replays without inflating or
parsing anything: of the many heartbeats an amphora sends between two batch
writes only the newest is unpacked (``unpack``). The signature covers the
version, the id, the seq and the body; the id and seq inside the signed body
must be the ones in the header.

The checks run in this order, cheapest first, and each rejection is a
``HeartbeatError`` whose ``kind`` names a counter: the packet size
(``too_large``), the envelope (``bad_header``: magic, id length, truncation),
the version (``unknown_version``; version 1 was signed with one key shared by
the whole deployment and is no longer spoken), then, by the caller, who the
id is and where the packet came from, then the signature with
``hmac.compare_digest`` (``bad_signature``); only a signed body is
decompressed, into at most ``MAX_PAYLOAD_BYTES`` (a bomb is ``body_too_large``),
parsed and checked field by field (``malformed``).

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

``seq`` grows with every heartbeat of an amphora, across agent restarts (the
agent reserves ``SEQ_BLOCK`` numbers at a time on disk); the health manager
drops a heartbeat whose ``seq`` is not above the last one it recorded (a
replay), and does not trust one more than ``SEQ_WINDOW`` above it until the
agent confirms it (see ``hydria.health.seqs``). It must fit the database
column (``MAX_SEQ``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

MAGIC: Final = b"HYHB"
VERSION: Final = 2
DIGEST_SIZE: Final = 32
# magic, version, id length; then the id, the seq (4 bytes), the digest
FIXED_HEADER: Final = len(MAGIC) + 2
# A UDP datagram on IPv4 carries at most 65,507 bytes; keep clear of it.
MAX_PACKET_BYTES: Final = 60_000
# The JSON a packet may inflate to: a zlib bomb stops here.
MAX_PAYLOAD_BYTES: Final = 2 * 1024 * 1024
# amphora_health.seq is a 32-bit integer column.
MAX_SEQ: Final = 2**31 - 1
MAX_COUNTER: Final = 2**63 - 1
MAX_ID_CHARS: Final = 64
MAX_STATUS_CHARS: Final = 32
# The agent reserves sequence numbers on disk this many at a time, so a
# restarted agent skips at most this many.
SEQ_BLOCK: Final = 1000
# How far above the last seen ``seq`` a heartbeat is trusted without asking the
# agent: one restart's skip (``SEQ_BLOCK``) plus as many heartbeats again lost
# on the way (over 16 minutes at a 1 s interval, 2.7 hours at Octavia's 10 s).
# A larger jump is legitimate only after a longer silence, which the health
# manager confirms with the agent over mutual TLS before it believes it.
SEQ_WINDOW: Final = 2 * SEQ_BLOCK
#: The payload schema this side writes (see the module docstring); 1 when absent.
PAYLOAD_SCHEMA: Final = 2
MAX_PAYLOAD_SCHEMA: Final = 255


class Rejection(StrEnum):
    """Why a packet is not a good heartbeat; the value names its counter."""

    TOO_LARGE = "too_large"  # the packet is over MAX_PACKET_BYTES
    BAD_HEADER = "bad_header"  # not our envelope, a bad id length, truncated
    UNKNOWN_VERSION = "unknown_version"  # an envelope version this side does not speak
    BAD_SIGNATURE = "bad_signature"  # HMAC does not match the amphora's key
    BODY_TOO_LARGE = "body_too_large"  # the signed body inflates past MAX_PAYLOAD_BYTES
    MALFORMED = "malformed"  # signed, but bad zlib/JSON/fields, or another id inside


class HeartbeatError(ValueError):
    """A packet that is not a good heartbeat: ``kind`` (a ``Rejection`` value) says
    why and names the counter; the message says what exactly."""

    def __init__(self, kind: Rejection, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


REJECTION_KINDS: Final = tuple(r.value for r in Rejection)


class SigningKey:
    """An amphora's HMAC-SHA256 key (RFC 2104) with its inner and outer pads
    hashed once.

    ``sign`` copies those two SHA-256 states and hashes only the message: the
    health manager keeps one per amphora, so a heartbeat costs no key set-up
    (measured: about a third of the time of ``hmac.digest`` with the key).
    """

    __slots__ = ("_inner", "_outer")

    _BLOCK = 64  # SHA-256's block size

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("an empty heartbeat key")
        if len(key) > self._BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self._BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(x ^ 0x36 for x in key))
        self._outer = hashlib.sha256(bytes(x ^ 0x5C for x in key))

    def sign(self, *parts: bytes) -> bytes:
        inner = self._inner.copy()
        for part in parts:
            inner.update(part)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


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


_COUNTERS = ("bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors")


def _signing_key(key: bytes | SigningKey) -> SigningKey:
    return key if isinstance(key, SigningKey) else SigningKey(key)


def encode(payload: Mapping[str, Any], key: bytes | SigningKey, seq: int) -> bytes:
    """Sign and pack ``payload`` (``id``, ``listeners``, ``pools``) with ``seq``
    under the amphora's own key."""
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"seq {seq} is outside 0..{MAX_SEQ}")
    amphora_id = str(payload["id"]).encode("ascii")
    if not 0 < len(amphora_id) <= MAX_ID_CHARS:
        raise ValueError(f"amphora id of {len(amphora_id)} characters")
    data = {**payload, "seq": seq}
    body = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
    head = bytes((VERSION, len(amphora_id))) + amphora_id + seq.to_bytes(4)
    packet = MAGIC + head + _signing_key(key).sign(head, body) + body
    if len(packet) > MAX_PACKET_BYTES:
        raise HeartbeatError(
            Rejection.TOO_LARGE, f"heartbeat of {len(packet)} bytes exceeds {MAX_PACKET_BYTES}"
        )
    return packet


@dataclass(frozen=True, slots=True)
class Envelope:
    """A packet whose envelope is sound; nothing in it is trusted yet."""

    amphora_id: str
    seq: int
    signed_head: bytes  # version, id length, id, seq: the signed part before the body
    digest: bytes
    body: bytes


def open_envelope(packet: bytes) -> Envelope:
    """Check size, header and version; say which amphora the packet claims to be."""
    size = len(packet)
    if size > MAX_PACKET_BYTES:
        raise HeartbeatError(
            Rejection.TOO_LARGE, f"packet of {size} bytes exceeds {MAX_PACKET_BYTES}"
        )
    if size <= FIXED_HEADER or packet[:4] != MAGIC:
        raise HeartbeatError(Rejection.BAD_HEADER, "not a heartbeat envelope")
    version = packet[4]
    if version != VERSION:
        raise HeartbeatError(
            Rejection.UNKNOWN_VERSION, f"envelope version {version} is not {VERSION}"
        )
    n = packet[5]
    digest_at = FIXED_HEADER + n + 4
    if not 0 < n <= MAX_ID_CHARS or size <= digest_at + DIGEST_SIZE:
        raise HeartbeatError(Rejection.BAD_HEADER, "bad amphora id length or truncated envelope")
    try:
        amphora_id = packet[FIXED_HEADER : digest_at - 4].decode("ascii")
    except UnicodeDecodeError:
        raise HeartbeatError(Rejection.BAD_HEADER, "amphora id is not ASCII") from None
    if not amphora_id.isprintable():  # an id goes into logs: no CR, LF or controls
        raise HeartbeatError(Rejection.BAD_HEADER, "amphora id has control characters")
    seq = int.from_bytes(packet[digest_at - 4 : digest_at])
    return Envelope(
        amphora_id,
        seq,
        packet[4:digest_at],
        packet[digest_at : digest_at + DIGEST_SIZE],
        packet[digest_at + DIGEST_SIZE :],
    )


def authenticate(envelope: Envelope, key: bytes | SigningKey) -> None:
    """Check the signature with the claimed amphora's key (``bad_signature``)."""
    if not hmac.compare_digest(
        envelope.digest, _signing_key(key).sign(envelope.signed_head, envelope.body)
    ):
        raise HeartbeatError(Rejection.BAD_SIGNATURE, "HMAC does not match")


def verify(envelope: Envelope, key: bytes | SigningKey) -> Heartbeat:
    """Check the signature with the claimed amphora's key, then unpack the body."""
    authenticate(envelope, key)
    return unpack(envelope)


def unpack(envelope: Envelope) -> Heartbeat:
    """Inflate (with a cap), parse and check the body of an authenticated envelope."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(envelope.body, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        raise HeartbeatError(Rejection.MALFORMED, f"bad zlib body: {exc}") from None
    if inflater.unconsumed_tail:
        raise HeartbeatError(
            Rejection.BODY_TOO_LARGE, f"payload inflates past {MAX_PAYLOAD_BYTES} bytes"
        )
    if not inflater.eof:
        raise HeartbeatError(Rejection.MALFORMED, "truncated zlib body")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HeartbeatError(Rejection.MALFORMED, f"bad JSON: {exc}") from None
    hb = _parse(data, VERSION)
    if hb.amphora_id != envelope.amphora_id or hb.seq != envelope.seq:
        raise HeartbeatError(
            Rejection.MALFORMED, "the signed body disagrees with the envelope's id or seq"
        )
    return hb


def decode(packet: bytes, key: bytes | SigningKey) -> Heartbeat:
    """Check and unpack one packet; raise a ``HeartbeatError`` subclass if it is bad."""
    return verify(open_envelope(packet), key)


def _parse(data: object, version: int) -> Heartbeat:
    obj = _obj(data, "payload")
    amphora_id = _id(obj.get("id"), "id")
    seq = _int(obj.get("seq"), "seq", MAX_SEQ)
    schema = _int(obj.get("schema", 1), "schema", MAX_PAYLOAD_SCHEMA) or 1
    raw_version = obj.get("config_version")
    config_version = (
        None if raw_version is None else _int(raw_version, "config_version", MAX_COUNTER)
    )
    listeners = {}
    for lid, raw in _obj(obj.get("listeners", {}), "listeners").items():
        entry = _obj(raw, f"listener {lid!r}")
        listeners[_id(lid, "listener id")] = ListenerReport(
            _status(entry.get("status"), f"listener {lid} status"),
            *(
                _int(entry.get(name, 0), f"listener {lid} {name}", MAX_COUNTER)
                for name in _COUNTERS
            ),
        )
    pools = {}
    for pid, raw in _obj(obj.get("pools", {}), "pools").items():
        entry = _obj(raw, f"pool {pid!r}")
        members = {
            _id(mid, "member id"): _status(st, f"member {mid} status")
            for mid, st in _obj(entry.get("members", {}), f"pool {pid} members").items()
        }
        pools[_id(pid, "pool id")] = PoolReport(
            _status(entry.get("status"), f"pool {pid} status"), members
        )
    return Heartbeat(amphora_id, seq, listeners, pools, config_version, version, schema)


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HeartbeatError(Rejection.MALFORMED, f"{what} is not an object")
    return value


def _id(value: object, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise HeartbeatError(Rejection.MALFORMED, f"{what} is not an id")
    return value


def _status(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_STATUS_CHARS:
        raise HeartbeatError(Rejection.MALFORMED, f"{what} is not a status")
    return value


def _int(value: object, what: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise HeartbeatError(Rejection.MALFORMED, f"{what} is not an integer in 0..{maximum}")
    return value
