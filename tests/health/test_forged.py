"""Forged heartbeats on real UDP change nothing, and the real ones still count.

Each forgery (a guessed key, another amphora's key, a replay, a huge sequence
number, a jump within the window by someone holding the key, a wrong source
address, oversized and malformed packets) is counted by its reason, writes
nothing, moves no status and marks no failover; the amphora's own heartbeats
are recorded before and after.
"""

from __future__ import annotations

import socket

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.health.failure_detector import DetectorOptions, FailureDetector
from hydria.health.seqs import SeqConfirmer
from hydria.wire import heartbeat as wire
from hydria.wire.heartbeat_keys import amphora_key
from tests.health.conftest import (
    KEY,
    MGMT_IP,
    Fleet,
    RunningReceiver,
    enc,
    health_row,
    make_fleet,
    statuses,
)

UNTOUCHED = {
    "lb": c.ONLINE,
    "listener": c.ONLINE,
    "pool": c.ONLINE,
    "m0": c.ONLINE,
    "m1": c.ONLINE,
    "prov": c.ACTIVE,
}
DOWN = {"m0": "DOWN", "m1": "DOWN"}


def _real(running: RunningReceiver, f: Fleet, seq: int) -> None:
    running.send(enc(f.payload(), KEY, seq))
    running.flush()


def _no_failover(db: Database, f: Fleet) -> bool:
    with db.session() as s:
        return not s.get(m.Amphora, f.amphora).failover_requested  # type: ignore[union-attr]


def _assert_untouched(running: RunningReceiver, f: Fleet, seq: int) -> None:
    assert statuses(running.db, f) == UNTOUCHED
    assert health_row(running.db, f.amphora)[0] == seq  # type: ignore[index]
    assert _no_failover(running.db, f)


def test_guessed_and_borrowed_keys(running: RunningReceiver) -> None:
    f, other = make_fleet(running.db), make_fleet(running.db)
    _real(running, f, 10)
    running.send(enc(f.payload(**DOWN), b"insecure-hydria-heartbeat-key", 11))  # the old default
    running.send(enc(f.payload(**DOWN), b"a guess at the deployment key", 11))
    # signed with another amphora's own (valid) key
    running.send(wire.encode(f.payload(**DOWN), amphora_key(KEY, other.amphora), 11))
    # the deployment key itself is never an amphora's key
    running.send(wire.encode(f.payload(**DOWN), KEY, 11))
    running.flush()
    assert running.counters.get("bad_signature") == 4
    _assert_untouched(running, f, 10)
    _real(running, f, 11)
    assert running.counters.get("recorded") == 2


def test_wrong_source_address(running: RunningReceiver) -> None:
    f, other = make_fleet(running.db), make_fleet(running.db)
    with running.db.session() as s:
        s.get(m.Amphora, other.amphora).lb_network_ip = "127.43.0.11"  # type: ignore[union-attr]
    _real(running, f, 10)
    # the other amphora's own, well-signed heartbeat, sent from f's address
    running.send(enc(other.payload(**DOWN), KEY, 1))
    running.flush()
    assert running.counters.get("wrong_source") == 1
    assert health_row(running.db, other.amphora) is None
    assert statuses(running.db, other) == UNTOUCHED


def test_replay_and_huge_sequence_number(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    good = enc(f.payload(), KEY, 10)
    running.send(good)
    running.flush()
    running.send(good)
    running.send(enc(f.payload(**DOWN), KEY, wire.MAX_SEQ))  # the jump of issue 14
    running.send(enc(f.payload(**DOWN), KEY, 10 + wire.SEQ_WINDOW + 1))
    running.flush()
    snap = running.counters.snapshot()
    assert (snap["replay"], snap["future_seq"]) == (1, 2)
    _assert_untouched(running, f, 10)
    # the real amphora is not silenced: its next heartbeats count
    _real(running, f, 11)
    _real(running, f, 12)
    assert running.counters.get("recorded") == 3
    assert health_row(running.db, f.amphora)[0] == 12  # type: ignore[index]


def test_oversized_malformed_and_bad_headers(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    _real(running, f, 10)
    good = enc(f.payload(**DOWN), KEY, 11)
    running.send(good + b"\0" * wire.MAX_PACKET_BYTES)
    running.flush()
    signer = wire.SigningKey(amphora_key(KEY, f.amphora))
    bodies = (
        b"not zlib",
        wire.zlib.compress(b"{not json"),
        wire.zlib.compress(b'{"id": "someone-else", "seq": 13}'),
    )
    for seq, body in enumerate(bodies, start=11):
        # well signed (only the amphora could), but the body is rubbish; the
        # writer unpacks the newest of each amphora, so one flush per packet
        head = bytes((wire.VERSION, len(f.amphora))) + f.amphora.encode() + seq.to_bytes(4)
        running.send(wire.MAGIC + head + signer.sign(head, body) + body)
        running.flush()
    running.send(b"HYHB\x01" + good[5:])  # the old shared-key envelope
    running.send(b"XXXX" + good[4:])
    running.flush()
    snap = running.counters.snapshot()
    assert (snap["too_large"], snap["malformed"], snap["unknown_version"], snap["bad_header"]) == (
        1,
        3,
        1,
        1,
    )
    _assert_untouched(running, f, 10)
    _real(running, f, 14)
    assert running.counters.get("recorded") == 2


def test_a_key_holders_jump_is_undone_by_asking_the_agent(running: RunningReceiver) -> None:
    """Someone holding the amphora's key moves its sequence ahead within the
    window: the real heartbeats now look like replays, so the agent is asked
    (over mutual TLS in production) for the last number it sent, and the
    tracker and the recorded seq come back to it."""
    f = make_fleet(running.db)
    agent_seq = {"last": 10}
    asked: list[tuple[str, str]] = []

    def ask(address: str, amphora_id: str) -> int:
        asked.append((address, amphora_id))
        return agent_seq["last"]

    confirmer = SeqConfirmer(running.db, running.seqs, ask, running.counters, min_gap=0)
    running.receiver.confirmer = confirmer
    _real(running, f, 10)
    running.send(enc(f.payload(**DOWN), KEY, 10 + wire.SEQ_WINDOW))  # within the window
    running.flush()
    assert health_row(running.db, f.amphora)[0] == 10 + wire.SEQ_WINDOW  # type: ignore[index]
    running.send(enc(f.payload(), KEY, 11))  # the real one: a "replay" now
    running.flush()
    assert running.counters.get("replay") == 1
    amp_id, address = confirmer._queue.get_nowait()
    assert (amp_id, address) == (f.amphora, MGMT_IP)
    confirmer.confirm_once(amp_id, address)
    assert asked == [(MGMT_IP, f.amphora)]
    assert health_row(running.db, f.amphora)[0] == 10  # type: ignore[index]
    _real(running, f, 12)
    assert health_row(running.db, f.amphora)[0] == 12  # type: ignore[index]
    assert statuses(running.db, f) == UNTOUCHED
    assert running.counters.get("seq_confirmed") == 1


def test_a_long_silence_is_believed_once_the_agent_confirms(running: RunningReceiver) -> None:
    f = make_fleet(running.db)
    confirmer = SeqConfirmer(
        running.db, running.seqs, lambda _a, _i: 50_000, running.counters, min_gap=0
    )
    running.receiver.confirmer = confirmer
    _real(running, f, 10)
    running.send(enc(f.payload(), KEY, 50_000))
    running.flush()
    assert running.counters.get("future_seq") == 1
    confirmer.confirm_once(*confirmer._queue.get_nowait())
    _real(running, f, 50_001)
    assert health_row(running.db, f.amphora)[0] == 50_001  # type: ignore[index]


def test_forged_heartbeats_cannot_keep_a_dead_amphora_alive(running: RunningReceiver) -> None:
    """The amphora stopped; forgeries keep coming: it is still failed over."""
    import datetime as dt

    f = make_fleet(running.db)
    _real(running, f, 10)
    for seq in (wire.MAX_SEQ, 5, 10):
        running.send(enc(f.payload(), KEY, seq))
    running.send(enc(f.payload(), b"a guess at the deployment key", 11))
    running.flush()
    _, seen = health_row(running.db, f.amphora)  # type: ignore[misc]
    detector = FailureDetector(
        running.db, DetectorOptions(heartbeat_timeout=3.0, storm_min_fleet=100)
    )
    detector.watching_since = seen - dt.timedelta(hours=1)
    detector.check_once(now=seen + dt.timedelta(seconds=4))
    assert not _no_failover(running.db, f)


def test_unknown_sender_costs_no_crypto(running: RunningReceiver) -> None:
    make_fleet(running.db)
    stranger = {"id": "not-an-amphora", "listeners": {}, "pools": {}}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.sendto(enc(stranger, KEY, 1), running.address)
        running.sent += 1
    running.flush()
    assert running.counters.get("unknown_amphora") == 1


def test_an_amphora_booting_past_its_timeout_is_failed(sqlite_db: Database) -> None:
    """A controller died between starting an amphora and recording it: the row
    stays BOOTING while its load balancer is ACTIVE. Past the boot timeout it
    is marked for failover, storm guard or not; a younger one is left alone."""
    import datetime as dt

    stuck = make_fleet(sqlite_db, amphora_status=c.AMPHORA_BOOTING)
    young = make_fleet(sqlite_db, amphora_status=c.AMPHORA_BOOTING)
    now = m.utcnow()
    with sqlite_db.session() as s:
        row = s.get(m.Amphora, stuck.amphora)
        assert row is not None
        row.created_at = row.updated_at = now - dt.timedelta(seconds=31)
    detector = FailureDetector(
        sqlite_db,
        DetectorOptions(
            heartbeat_timeout=60.0, boot_timeout=30.0, storm_min_fleet=1, storm_threshold=0.0
        ),
    )
    detector.check_once(now=now)
    assert not _no_failover(sqlite_db, stuck)
    assert _no_failover(sqlite_db, young)
    without = FailureDetector(sqlite_db, DetectorOptions(heartbeat_timeout=60.0))
    without.check_once(now=now + dt.timedelta(seconds=60))
    assert _no_failover(sqlite_db, young)  # not watched without a boot timeout
