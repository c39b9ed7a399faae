"""Rows and a running receiver for the health manager's tests."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.health.counters import Counters
from hydria.health.directory import AmphoraDirectory
from hydria.health.receiver import HeartbeatReceiver, bind_udp
from hydria.health.seqs import SeqTracker
from hydria.health.writer import HeartbeatWriter, PendingHeartbeats
from hydria.wire import heartbeat as wire
from hydria.wire.heartbeat_keys import AmphoraKeys, amphora_key

# the deployment's key; each amphora signs with a key derived from it
KEY = b"receiver-test-deployment-key"
# every test fleet's amphora has this management address; heartbeats come from it
MGMT_IP = "127.43.0.10"


def enc(payload: dict, key: bytes, seq: int) -> bytes:
    """A heartbeat signed with the payload amphora's key derived from ``key``."""
    return wire.encode(payload, amphora_key(key, payload["id"]), seq)


def dec(packet: bytes, key: bytes) -> wire.Heartbeat:
    env = wire.open_envelope(packet)
    return wire.verify(env, amphora_key(key, env.amphora_id))


def uid() -> str:
    return str(uuid.uuid4())


@dataclass
class Fleet:
    """One ACTIVE load balancer: a listener, a pool with two members, one amphora."""

    lb: str = field(default_factory=uid)
    listener: str = field(default_factory=uid)
    pool: str = field(default_factory=uid)
    members: tuple[str, str] = field(default_factory=lambda: (uid(), uid()))
    amphora: str = field(default_factory=uid)

    def payload(self, *, m0: str = "UP", m1: str = "UP", bytes_in: int = 100) -> dict:
        return {
            "id": self.amphora,
            "listeners": {
                self.listener: {
                    "status": "OPEN",
                    "bytes_in": bytes_in,
                    "bytes_out": 200,
                    "active_connections": 3,
                    "total_connections": 40,
                    "request_errors": 1,
                }
            },
            "pools": {
                self.pool: {"status": "UP", "members": {self.members[0]: m0, self.members[1]: m1}}
            },
        }


def make_fleet(db: Database, *, amphora_status: str = c.AMPHORA_ALLOCATED) -> Fleet:
    f = Fleet()
    with db.session() as s:
        s.add(
            m.LoadBalancer(
                id=f.lb, project_id="p", provisioning_status=c.ACTIVE, operating_status=c.ONLINE
            )
        )
        s.flush()
        s.add(
            m.Pool(
                id=f.pool,
                project_id="p",
                load_balancer_id=f.lb,
                protocol="HTTP",
                lb_algorithm="ROUND_ROBIN",
                provisioning_status=c.ACTIVE,
                operating_status=c.ONLINE,
            )
        )
        s.flush()
        s.add(
            m.Listener(
                id=f.listener,
                project_id="p",
                load_balancer_id=f.lb,
                protocol="HTTP",
                protocol_port=80,
                default_pool_id=f.pool,
                provisioning_status=c.ACTIVE,
                operating_status=c.ONLINE,
            )
        )
        for i, mid in enumerate(f.members):
            s.add(
                m.Member(
                    id=mid,
                    project_id="p",
                    pool_id=f.pool,
                    address="127.0.0.1",
                    protocol_port=8000 + i,
                    provisioning_status=c.ACTIVE,
                    operating_status=c.ONLINE,
                )
            )
        s.add(
            m.Amphora(
                id=f.amphora, load_balancer_id=f.lb, status=amphora_status, lb_network_ip=MGMT_IP
            )
        )
    return f


def statuses(db: Database, f: Fleet) -> dict[str, str]:
    with db.session() as s:
        out = {
            "lb": s.get(m.LoadBalancer, f.lb).operating_status,  # type: ignore[union-attr]
            "listener": s.get(m.Listener, f.listener).operating_status,  # type: ignore[union-attr]
            "pool": s.get(m.Pool, f.pool).operating_status,
        }  # type: ignore[union-attr]
        for i, mid in enumerate(f.members):
            out[f"m{i}"] = s.get(m.Member, mid).operating_status  # type: ignore[union-attr]
        out["prov"] = s.get(m.LoadBalancer, f.lb).provisioning_status  # type: ignore[union-attr]
    return out


def health_row(db: Database, amphora_id: str) -> tuple[int, object] | None:
    with db.session() as s:
        row = s.get(m.AmphoraHealth, amphora_id)
        return None if row is None else (row.seq, row.last_update)


def written_rows(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (s.query(m.AmphoraHealth).count(), s.query(m.ListenerStatistics).count())


def wait_until(check: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError(f"not true in {timeout}s: {what}")


class RunningReceiver:
    """A receiver on a real UDP socket in a thread; the test flushes the writer itself.

    Packets go out from the fleets' management address; the amphora directory
    is read again before each send (the test made its rows just before)."""

    def __init__(self, db: Database, key: bytes = KEY) -> None:
        self.db = db
        self.counters = Counters()
        self.seqs = SeqTracker()
        self.pending = PendingHeartbeats()
        self.sock = bind_udp("127.0.0.1:0")
        self.address = self.sock.getsockname()[:2]
        self.directory = AmphoraDirectory(db, self.seqs)
        self.receiver = HeartbeatReceiver(
            self.sock, AmphoraKeys(key), self.pending, self.seqs, self.counters, self.directory
        )
        self.writer = HeartbeatWriter(db, self.counters, seqs=self.seqs)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.receiver.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client.bind((MGMT_IP, 0))
        self.sent = 0

    def send(self, packet: bytes, *, refresh: bool = True) -> None:
        """``refresh=False`` when no amphora row changed since the last send (a
        read of the directory per packet is most of a long run's time)."""
        if refresh:
            self.directory.refresh()
        self.client.sendto(packet, self.address)
        self.sent += 1

    def flush(self) -> None:
        """Wait until every packet sent was read, then write the batch."""
        wait_until(
            lambda: self.counters.get("received") >= self.sent,
            what=f"{self.sent} packets received: {self.counters.snapshot()}",
        )
        self.writer.write_pending(self.pending.take())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.client.close()
        self.sock.close()


@pytest.fixture
def running(sqlite_db: Database) -> Iterator[RunningReceiver]:
    r = RunningReceiver(sqlite_db)
    yield r
    r.close()
