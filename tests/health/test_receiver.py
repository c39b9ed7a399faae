"""The health manager on real UDP and a real database: good heartbeats are
recorded, bad ones are counted and leave no trace, and nothing crashes it."""

from __future__ import annotations

import collections
import random
import threading
import zlib

import pytest

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.health.counters import Counters
from hydria.health.service import HealthOptions, HealthService
from hydria.health.writer import HeartbeatWriter, PendingHeartbeats
from hydria.wire import heartbeat as wire
from hydria.wire.heartbeat_keys import amphora_key
from tests.health.conftest import (
    KEY,
    MGMT_IP,
    RunningReceiver,
    dec,
    enc,
    health_row,
    make_fleet,
    statuses,
    wait_until,
    written_rows,
)

UNTOUCHED = {
    "lb": c.ONLINE,
    "listener": c.ONLINE,
    "pool": c.ONLINE,
    "m0": c.ONLINE,
    "m1": c.ONLINE,
    "prov": c.ACTIVE,
}


def test_good_heartbeat_updates_rows(running: RunningReceiver) -> None:
    db = running.db
    f = make_fleet(db)
    running.send(enc(f.payload(m1="DOWN"), KEY, 10))
    running.flush()
    assert running.counters.get("recorded") == 1
    assert health_row(db, f.amphora)[0] == 10  # type: ignore[index]
    assert statuses(db, f) == {**UNTOUCHED, "m1": c.ERROR, "pool": c.DEGRADED, "lb": c.DEGRADED}
    with db.session() as s:
        st = s.get(m.ListenerStatistics, (f.listener, f.amphora))
        assert st is not None
        assert (
            st.bytes_in,
            st.bytes_out,
            st.active_connections,
            st.total_connections,
            st.request_errors,
        ) == (100, 200, 3, 40, 1)

    running.send(enc(f.payload(bytes_in=555), KEY, 11))
    running.flush()
    assert statuses(db, f) == UNTOUCHED
    with db.session() as s:
        assert s.get(m.ListenerStatistics, (f.listener, f.amphora)).bytes_in == 555  # type: ignore[union-attr]
    assert health_row(db, f.amphora)[0] == 11  # type: ignore[index]


def test_wrong_key_is_counted_and_writes_nothing(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    running.send(enc(f.payload(m0="DOWN"), b"not-the-deployment-key", 10))
    running.flush()
    assert running.counters.get("bad_signature") == 1
    assert running.counters.get("recorded") == 0
    assert written_rows(running.db) == (0, 0)
    assert statuses(running.db, f) == UNTOUCHED


def test_replays_are_counted_and_write_nothing(running: RunningReceiver) -> None:
    db = running.db
    f = make_fleet(db)
    good = enc(f.payload(), KEY, 10)
    running.send(good)
    running.flush()
    stamp = health_row(db, f.amphora)
    running.send(good)  # the same packet again
    running.send(enc(f.payload(m0="DOWN", m1="DOWN"), KEY, 9))  # an older one
    running.flush()
    assert running.counters.get("replay") == 2
    assert running.counters.get("recorded") == 1
    assert health_row(db, f.amphora) == stamp
    assert statuses(db, f) == UNTOUCHED


def test_replay_after_a_restart_is_caught_by_the_database(sqlite_db: Database) -> None:
    f = make_fleet(sqlite_db)
    first = RunningReceiver(sqlite_db)
    try:
        first.send(enc(f.payload(), KEY, 50))
        first.flush()
    finally:
        first.close()
    stamp = health_row(sqlite_db, f.amphora)
    second = RunningReceiver(sqlite_db)  # a fresh process: nothing in memory
    try:
        second.send(enc(f.payload(m0="DOWN"), KEY, 49))
        second.send(enc(f.payload(m0="DOWN"), KEY, 50))
        second.flush()
        # the amphora directory seeded the tracker from the database at start
        assert second.counters.get("replay") == 2
        assert second.counters.get("recorded") == 0
        assert health_row(sqlite_db, f.amphora) == stamp
        assert statuses(sqlite_db, f) == UNTOUCHED
        # and what was learnt from the database now stops replays in memory
        second.send(enc(f.payload(m0="DOWN"), KEY, 48))
        second.flush()
        assert second.counters.get("replay") >= 1
    finally:
        second.close()


def test_truncated_packet(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    good = enc(f.payload(), KEY, 10)
    for cut in (1, 4, 5, wire.FIXED_HEADER, len(good) // 2, len(good) - 1):
        running.send(good[:cut])
    running.flush()
    snap = running.counters.snapshot()
    assert snap["bad_header"] + snap["bad_signature"] == 6
    assert snap["recorded"] == 0
    assert written_rows(running.db) == (0, 0)


def test_oversized_packet(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    good = enc(f.payload(), KEY, 10)
    running.send(good + b"\0" * (wire.MAX_PACKET_BYTES - len(good) + 1))
    running.flush()  # one at a time: a small socket buffer holds few big datagrams
    running.send(b"\xff" * 65000)
    running.flush()
    assert running.counters.get("too_large") == 2
    assert written_rows(running.db) == (0, 0)


def test_unknown_and_deleted_amphorae_get_nothing_written(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    gone = make_fleet(running.db, amphora_status=c.DELETED)
    stranger = dict(f.payload(m0="DOWN"), id="not-an-amphora")
    running.send(enc(stranger, KEY, 1))
    running.send(enc(gone.payload(m0="DOWN"), KEY, 1))
    running.flush()
    snap = running.counters.snapshot()
    # a DELETED amphora is not in the receiver's directory: stopped before any crypto
    assert (snap["unknown_amphora"], snap["recorded"]) == (2, 0)
    assert written_rows(running.db) == (0, 0)
    assert statuses(running.db, f) == UNTOUCHED
    assert statuses(running.db, gone) == UNTOUCHED


def _random_packet(rng: random.Random, good: bytes) -> bytes:
    shape = rng.randrange(7)
    if shape == 0:  # noise of any size
        return rng.randbytes(rng.choice((0, 1, 3, 36, 37, 38, 200, 1400, 9000)))
    if shape == 1:  # our header, then noise
        return wire.MAGIC + bytes((wire.VERSION,)) + rng.randbytes(rng.randrange(0, 600))
    if shape == 2:  # a good packet cut short
        return good[: rng.randrange(len(good))]
    if shape == 3:  # a good packet with one bit flipped
        i = rng.randrange(len(good))
        return good[:i] + bytes((good[i] ^ (1 << rng.randrange(8)),)) + good[i + 1 :]
    if shape == 4:  # another version
        return wire.MAGIC + bytes((rng.choice([1, *range(3, 256)]),)) + good[5:]
    if shape == 5:  # oversized
        return rng.randbytes(wire.MAX_PACKET_BYTES + 1 + rng.randrange(4000))
    # signed with the right key, but the body is rubbish: still nothing written
    body = rng.choice(
        (
            rng.randbytes(50),
            zlib.compress(rng.randbytes(50)),
            zlib.compress(b'{"id": 3, "seq": "x"}'),
        )
    )
    env = wire.open_envelope(good)
    key = wire.SigningKey(amphora_key(KEY, env.amphora_id))
    return wire.MAGIC + env.signed_head + key.sign(env.signed_head, body) + body


def _expected_kind(packet: bytes, amphora_id: str, seen: set[int]) -> str:
    """What the receiver (or, for a signed body, the writer) must call this
    packet, checking in their order; ``seen``: seqs the receiver took."""
    try:
        env = wire.open_envelope(packet)
    except wire.HeartbeatError as exc:
        return exc.kind
    if env.amphora_id != amphora_id:
        return "unknown_amphora"
    try:
        wire.authenticate(env, amphora_key(KEY, amphora_id))
    except wire.HeartbeatError as exc:
        return exc.kind
    if env.seq in seen:
        return "replay"
    seen.add(env.seq)
    try:
        wire.unpack(env)
    except wire.HeartbeatError as exc:
        return exc.kind
    raise AssertionError("a random packet decoded")


def test_ten_thousand_random_packets(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    good = enc(f.payload(m0="DOWN", m1="DOWN"), KEY, 10)
    rng = random.Random(20261126)
    expected: collections.Counter[str] = collections.Counter()
    seen: set[int] = set()
    for i in range(10_000):
        packet = _random_packet(rng, good)
        kind = _expected_kind(packet, f.amphora, seen)
        expected[kind] += 1
        running.send(packet, refresh=i == 0)
        if kind in ("malformed", "body_too_large"):
            running.flush()  # the writer unpacks it
        # let the receiver keep up: a full socket buffer drops datagrams, and a
        # small rmem_max holds only a few big ones
        if len(packet) > 1500 or i % 25 == 24:
            wait_until(lambda: running.counters.get("received") >= running.sent)
    running.flush()
    snap = running.counters.snapshot()
    assert snap["received"] == 10_000
    assert {k: snap[k] for k in expected} == dict(expected)
    assert sum(expected.values()) == 10_000
    # every kind but a zlib bomb (tested on its own) was exercised
    assert set(expected) >= set(wire.REJECTION_KINDS) - {"body_too_large"}, expected
    assert snap["errors"] == 0 and snap["recorded"] == 0
    assert written_rows(running.db) == (0, 0)
    assert statuses(running.db, f) == UNTOUCHED
    # still alive and well
    assert running.thread.is_alive()
    running.send(enc(f.payload(), KEY, 11))
    running.flush()
    assert running.counters.get("recorded") == 1


def test_writer_batches_many_amphorae_in_one_transaction(sqlite_db: Database) -> None:
    fleets = [make_fleet(sqlite_db) for _ in range(30)]
    counters, pending = Counters(), PendingHeartbeats()
    for seq in (1, 2, 3):
        for f in fleets:
            pending.put(dec(enc(f.payload(m0="DOWN"), KEY, seq), KEY), 1e9)
    assert len(pending) == 30
    HeartbeatWriter(sqlite_db, counters).write(pending.take())
    assert counters.get("batches") == 1 and counters.get("recorded") == 30
    assert {health_row(sqlite_db, f.amphora)[0] for f in fleets} == {3}  # type: ignore[index]
    assert {statuses(sqlite_db, f)["m0"] for f in fleets} == {c.ERROR}


@pytest.mark.postgres
def test_writer_on_postgresql(pg_db: Database) -> None:
    f = make_fleet(pg_db)
    counters = Counters()
    writer = HeartbeatWriter(pg_db, counters)
    writer.write([(dec(enc(f.payload(m1="DOWN"), KEY, 7), KEY), 1e9)])
    writer.write([(dec(enc(f.payload(m1="DOWN"), KEY, 6), KEY), 1e9)])
    assert (counters.get("recorded"), counters.get("replay")) == (1, 1)
    assert health_row(pg_db, f.amphora)[0] == 7  # type: ignore[index]
    assert statuses(pg_db, f)["pool"] == c.DEGRADED
    assert written_rows(pg_db) == (1, 1)


def test_health_service_runs_and_stops(sqlite_db: Database) -> None:
    f = make_fleet(sqlite_db)
    service = HealthService(
        sqlite_db,
        HealthOptions(
            bind="127.0.0.1:0", heartbeat_key=KEY, flush_interval=0.05, detect_failures=False
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,))
    thread.start()
    try:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind((MGMT_IP, 0))
            client.sendto(enc(f.payload(m0="DOWN"), KEY, 3), service.address)
            client.sendto(b"junk", service.address)
        wait_until(lambda: statuses(sqlite_db, f)["m0"] == c.ERROR, what="member ERROR")
        assert service.counters.get("bad_header") == 1
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("took", "expected"),
    [
        (0.0, 0.25),  # a quick flush: the base interval
        (0.02, 0.25),  # an eighth of the base or less: still the base
        (0.075, 0.6),  # a 1,000-amphora batch: flush less often, the receiver keeps the CPU
        (0.5, 1.0),  # however slow, never more than a second apart
    ],
)
def test_a_slow_flush_spaces_the_next_one(took: float, expected: float) -> None:
    from hydria.health.writer import next_flush_interval

    assert next_flush_interval(took, 0.25) == pytest.approx(expected)


def test_flushes_stay_close_together_next_to_a_short_heartbeat_timeout() -> None:
    from hydria.health.writer import flush_ceiling, next_flush_interval

    assert flush_ceiling(0.25, 60.0) == 1.0  # Octavia's default timeout: up to a second
    assert flush_ceiling(0.25, 3.0) == pytest.approx(0.3)  # a 3 s timeout: 0.3 s at most
    assert flush_ceiling(0.25, 1.0) == 0.25  # never below the base interval
    assert next_flush_interval(0.5, 0.25, flush_ceiling(0.25, 3.0)) == pytest.approx(0.3)
