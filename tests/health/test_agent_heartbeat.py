"""The agent's side: HAProxy rows to a payload, sequence numbers, real UDP sends."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import SimpleNamespace

from hydria.agent.heartbeat import SeqCounter, heartbeat_loop, payload_from_stats
from hydria.wire import heartbeat as wire
from hydria.wire.agent_api import AmphoraBoot
from hydria.wire.heartbeat_keys import amphora_key

ROWS = [
    {
        "pxname": "lst-1",
        "svname": "FRONTEND",
        "status": "OPEN",
        "bin": "10",
        "bout": "20",
        "scur": "1",
        "stot": "7",
        "ereq": "2",
    },
    {"pxname": "pool-1", "svname": "mem-1", "status": "UP", "bin": "5"},
    {"pxname": "pool-1", "svname": "mem-2", "status": "DOWN 1/2"},
    {"pxname": "pool-1", "svname": "BACKEND", "status": "UP"},
    # one pool rendered for an HTTP and a TCP listener
    {"pxname": "pool-2:http", "svname": "mem-3", "status": "no check"},
    {"pxname": "pool-2:http", "svname": "BACKEND", "status": "DOWN"},
    {"pxname": "pool-2:tcp", "svname": "mem-3", "status": "no check"},
    {"pxname": "pool-2:tcp", "svname": "BACKEND", "status": "UP"},
    {"pxname": "lst-2", "svname": "FRONTEND", "status": "FULL", "bin": "", "scur": "x"},
    {"pxname": "", "svname": ""},
]


def test_payload_from_stats() -> None:
    payload = payload_from_stats("amp", ROWS, config_version=4)
    assert payload == {
        "id": "amp",
        "schema": 2,
        "config_version": 4,
        "listeners": {
            "lst-1": {
                "status": "OPEN",
                "bytes_in": 10,
                "bytes_out": 20,
                "active_connections": 1,
                "total_connections": 7,
                "request_errors": 2,
            },
            "lst-2": {
                "status": "FULL",
                "bytes_in": 0,
                "bytes_out": 0,
                "active_connections": 0,
                "total_connections": 0,
                "request_errors": 0,
            },
        },
        "pools": {
            "pool-1": {"status": "UP", "members": {"mem-1": "UP", "mem-2": "DOWN 1/2"}},
            "pool-2": {"status": "UP", "members": {"mem-3": "no check"}},
        },
    }
    # and it survives the wire
    hb = wire.decode(wire.encode(payload, b"k", 1), b"k")
    assert hb.pools["pool-1"].members["mem-2"] == "DOWN 1/2"
    assert hb.config_version == 4 and hb.schema == 2


def test_no_haproxy_is_an_empty_heartbeat() -> None:
    assert payload_from_stats("amp", []) == {
        "id": "amp",
        "schema": 2,
        "config_version": None,
        "listeners": {},
        "pools": {},
    }


def test_seq_keeps_growing_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "seq.json"
    first = SeqCounter(path)
    seen = [first.next() for _ in range(5)]
    assert seen == sorted(seen) and len(set(seen)) == 5
    # a crash: the next agent starts above anything the first could have sent
    second = SeqCounter(path)
    assert second.next() > seen[-1] + SeqCounter.BLOCK - 5
    third = SeqCounter(path)
    run = [third.next() for _ in range(SeqCounter.BLOCK * 2 + 3)]
    assert run == sorted(run) and len(set(run)) == len(run)
    assert SeqCounter(path).next() > run[-1]


KEY = amphora_key(b"the deployment's own key", "amp-9")


def test_loop_sends_signed_heartbeats_to_every_controller(tmp_path: Path) -> None:
    receivers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for r in receivers:
        r.bind(("127.0.0.1", 0))
        r.settimeout(10)
    boot = AmphoraBoot(
        amphora_id="amp-9",
        lb_network_ip="127.43.0.99",
        agent_port=0,
        server_cert_pem="",
        server_key_pem="",
        ca_cert_pem="",
        heartbeat_key=KEY.hex(),
        controller_addresses=tuple(f"127.0.0.1:{r.getsockname()[1]}" for r in receivers),
        heartbeat_interval=0.05,
    )
    store = SimpleNamespace(
        listener_stats=lambda: ROWS, layout=SimpleNamespace(root=tmp_path), version=lambda: 7
    )
    stop = threading.Event()
    thread = threading.Thread(target=heartbeat_loop, args=(boot, store, stop))
    thread.start()
    try:
        for r in receivers:
            seqs = []
            for _ in range(3):
                packet, source = r.recvfrom(65536)
                assert source[0] == "127.43.0.99"  # from its management address
                hb = wire.decode(packet, KEY)
                assert hb.amphora_id == "amp-9" and hb.listeners["lst-1"].bytes_in == 10
                assert hb.config_version == 7 and hb.schema == wire.PAYLOAD_SCHEMA
                seqs.append(hb.seq)
            assert seqs == sorted(seqs) and len(set(seqs)) == 3
    finally:
        stop.set()
        thread.join(timeout=10)
        for r in receivers:
            r.close()
    assert not thread.is_alive()
