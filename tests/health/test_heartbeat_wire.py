"""The heartbeat envelope: round trip, and each way a packet is refused."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import zlib
from collections.abc import Iterator

import pytest

from hydria.wire import heartbeat as hb

KEY = b"an amphora's own key"
PAYLOAD = {
    "id": "amp-1",
    "listeners": {
        "lst-1": {
            "status": "OPEN",
            "bytes_in": 10,
            "bytes_out": 20,
            "active_connections": 1,
            "total_connections": 5,
            "request_errors": 2,
        }
    },
    "pools": {"pool-1": {"status": "UP", "members": {"mem-1": "UP", "mem-2": "DOWN 1/2"}}},
}


def _signed(
    body: bytes, version: int = hb.VERSION, key: bytes = KEY, amphora_id: str = "a", seq: int = 1
) -> bytes:
    head = bytes((version, len(amphora_id))) + amphora_id.encode() + seq.to_bytes(4)
    return hb.MAGIC + head + hmac.new(key, head + body, hashlib.sha256).digest() + body


def test_round_trip() -> None:
    got = hb.decode(hb.encode(PAYLOAD, KEY, 42), KEY)
    assert got.amphora_id == "amp-1" and got.seq == 42 and got.version == hb.VERSION
    assert got.listeners["lst-1"] == hb.ListenerReport("OPEN", 10, 20, 1, 5, 2)
    assert got.pools["pool-1"].status == "UP"
    assert dict(got.pools["pool-1"].members) == {"mem-1": "UP", "mem-2": "DOWN 1/2"}
    assert got.config_version is None
    assert hb.decode(hb.encode({**PAYLOAD, "config_version": 9}, KEY, 1), KEY).config_version == 9


def test_empty_amphora_round_trip() -> None:
    got = hb.decode(hb.encode({"id": "spare", "listeners": {}, "pools": {}}, KEY, 0), KEY)
    assert (got.amphora_id, got.seq, dict(got.listeners), dict(got.pools)) == ("spare", 0, {}, {})


def _corrupt(packet: bytes, i: int) -> bytes:
    return packet[:i] + bytes((packet[i] ^ 0x01,)) + packet[i + 1 :]


GOOD = hb.encode(PAYLOAD, KEY, 7)


@contextlib.contextmanager
def rejected(kind: hb.Rejection, match: str | None = None) -> Iterator[None]:
    """The block raises a ``HeartbeatError`` of ``kind`` (its message matching ``match``)."""
    with pytest.raises(hb.HeartbeatError, match=match) as info:
        yield
    assert info.value.kind == kind


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (hb.encode(PAYLOAD, b"another amphora's key", 7), hb.Rejection.BAD_SIGNATURE),
        (
            _signed(
                hb.encode(PAYLOAD, KEY, 7)[hb.FIXED_HEADER + 5 + 4 + 32 :],
                amphora_id="amp-2",
                seq=7,
            ),
            hb.Rejection.MALFORMED,
        ),  # signed for amp-2, but the body speaks for amp-1
        (
            _signed(
                hb.encode(PAYLOAD, KEY, 7)[hb.FIXED_HEADER + 5 + 4 + 32 :],
                amphora_id="amp-1",
                seq=8,
            ),
            hb.Rejection.MALFORMED,
        ),  # the envelope says seq 8, the body 7
        (_corrupt(GOOD, len(GOOD) - 1), hb.Rejection.BAD_SIGNATURE),  # body changed
        (_corrupt(GOOD, 10), hb.Rejection.BAD_SIGNATURE),  # digest changed
        (
            GOOD[:-1],
            hb.Rejection.BAD_SIGNATURE,
        ),  # truncated body: the signature no longer covers it
        (GOOD[: hb.FIXED_HEADER + 5 + 4 + 32], hb.Rejection.BAD_HEADER),  # nothing after the header
        (GOOD[:3], hb.Rejection.BAD_HEADER),
        (b"", hb.Rejection.BAD_HEADER),
        (b"XXXX" + GOOD[4:], hb.Rejection.BAD_HEADER),
        (GOOD[:5] + b"\x00" + GOOD[6:], hb.Rejection.BAD_HEADER),  # no id
        (GOOD[:5] + b"\xff" + GOOD[6:], hb.Rejection.BAD_HEADER),  # an id too long
        (GOOD[:6] + b"\xff" + GOOD[7:], hb.Rejection.BAD_HEADER),  # not ASCII
        (
            GOOD[:4] + b"\x01" + GOOD[5:],
            hb.Rejection.UNKNOWN_VERSION,
        ),  # the old shared-key envelope
        (GOOD[:4] + b"\x00" + GOOD[5:], hb.Rejection.UNKNOWN_VERSION),
        (GOOD + b"\0" * hb.MAX_PACKET_BYTES, hb.Rejection.TOO_LARGE),
        (_signed(b"not zlib at all"), hb.Rejection.MALFORMED),
        (_signed(zlib.compress(b"{not json")), hb.Rejection.MALFORMED),
        (_signed(zlib.compress(b"[1, 2]")), hb.Rejection.MALFORMED),
        (
            _signed(zlib.compress(json.dumps({"id": "a"}).encode())),
            hb.Rejection.MALFORMED,
        ),  # no seq
        (
            _signed(zlib.compress(json.dumps({"id": "a", "seq": -1}).encode())),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(zlib.compress(json.dumps({"id": "a", "seq": 2**31}).encode())),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(zlib.compress(json.dumps({"id": "a", "seq": True}).encode())),
            hb.Rejection.MALFORMED,
        ),
        (_signed(zlib.compress(json.dumps({"id": "", "seq": 1}).encode())), hb.Rejection.MALFORMED),
        (
            _signed(
                zlib.compress(json.dumps({"id": "a", "seq": 1, "config_version": "3"}).encode())
            ),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(zlib.compress(json.dumps({"id": "a", "seq": 1, "listeners": []}).encode())),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(
                zlib.compress(
                    json.dumps({"id": "a", "seq": 1, "listeners": {"l": {"status": 3}}}).encode()
                )
            ),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(
                zlib.compress(
                    json.dumps(
                        {
                            "id": "a",
                            "seq": 1,
                            "listeners": {"l": {"status": "OPEN", "bytes_in": "9"}},
                        }
                    ).encode()
                )
            ),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(
                zlib.compress(
                    json.dumps(
                        {
                            "id": "a",
                            "seq": 1,
                            "pools": {"p": {"status": "UP", "members": {"m": None}}},
                        }
                    ).encode()
                )
            ),
            hb.Rejection.MALFORMED,
        ),
        (
            _signed(zlib.compress(b"[" * 100_000 + b"]" * 100_000)),
            hb.Rejection.MALFORMED,
        ),  # deep nesting
        (
            _signed(zlib.compress(json.dumps({"id": "a", "seq": 1}).encode())[:-3]),
            hb.Rejection.MALFORMED,
        ),
    ],
)
def test_rejections(packet: bytes, error: hb.Rejection) -> None:
    with pytest.raises(hb.HeartbeatError) as info:
        hb.decode(packet, KEY)
    assert info.value.kind == error
    assert info.value.kind in hb.REJECTION_KINDS


def test_zlib_bomb_is_too_large() -> None:
    bomb = zlib.compress(b" " * (hb.MAX_PAYLOAD_BYTES * 4), 9)
    assert len(bomb) < hb.MAX_PACKET_BYTES
    with rejected(hb.Rejection.BODY_TOO_LARGE):
        hb.decode(_signed(bomb), KEY)


def test_encode_refuses_what_decode_would() -> None:
    with pytest.raises(ValueError):
        hb.encode(PAYLOAD, KEY, hb.MAX_SEQ + 1)
    big = {
        "id": "a",
        "listeners": {},
        "pools": {
            "p": {
                "status": "UP",
                "members": {f"{random.Random(i).getrandbits(128):032x}": "UP" for i in range(5000)},
            }
        },
    }
    with rejected(hb.Rejection.TOO_LARGE):
        hb.encode(big, KEY, 1)


def test_random_bytes_never_escape_as_other_errors() -> None:
    rng = random.Random(4)
    for _ in range(2000):
        n = rng.choice((0, 1, 5, 37, 38, 100, 1500))
        data = rng.randbytes(n)
        if rng.random() < 0.5:
            data = hb.MAGIC + bytes((hb.VERSION,)) + data
        with pytest.raises(hb.HeartbeatError):
            hb.decode(data, KEY)


@pytest.mark.parametrize("key", [b"k", b"x" * 32, b"y" * 64, b"z" * 65, bytes(range(200))])
def test_signing_key_is_hmac_sha256(key: bytes) -> None:
    message = b"version and id", b"the body"
    assert (
        hb.SigningKey(key).sign(*message)
        == hmac.new(key, b"".join(message), hashlib.sha256).digest()
    )


def test_payload_schema_is_optional_and_compatible() -> None:
    """An agent of schema 1 (no ``schema`` field) and a later one both decode."""
    old = hb.decode(hb.encode({"id": "amp", "listeners": {}, "pools": {}}, KEY, 1), KEY)
    assert old.schema == 1
    new = hb.decode(
        hb.encode({"id": "amp", "schema": 2, "listeners": {}, "pools": {}}, KEY, 2), KEY
    )
    assert new.schema == 2
    later = hb.decode(hb.encode({"id": "amp", "schema": 3, "extra": 1}, KEY, 3), KEY)
    assert later.schema == 3
    with rejected(hb.Rejection.MALFORMED):
        hb.decode(hb.encode({"id": "amp", "schema": "2"}, KEY, 4), KEY)


@pytest.mark.parametrize("amphora_id", ["amp\nevent=forged", "a\rb", "\x1b[2J", "a\x00"])
def test_an_id_with_control_characters_is_a_bad_header(amphora_id: str) -> None:
    """The id in the envelope goes into logs before anything is trusted: no controls."""
    with rejected(hb.Rejection.BAD_HEADER, match="control"):
        hb.open_envelope(_signed(zlib.compress(b"{}"), amphora_id=amphora_id))
