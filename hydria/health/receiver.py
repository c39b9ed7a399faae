"""The UDP side of the health manager: a thin loop around ``decode``.

Each datagram is read into a buffer larger than any heartbeat (so an
oversized one is seen whole enough to be refused), decoded and verified by
``hydria.wire.heartbeat.decode``, checked against the last ``seq`` seen for
its amphora (``SeqTracker``), and handed to ``PendingHeartbeats`` for the
writer's next batch. A bad packet is counted by kind and dropped; nothing on
this path writes to the database, and no packet can end the loop.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from hydria.health.counters import Counters
from hydria.health.writer import PendingHeartbeats, SeqTracker
from hydria.wire import heartbeat as wire

log = logging.getLogger("hydria.health.receiver")

_RECV_BYTES = 65536
_SOCKET_BUFFER = 8 * 1024 * 1024


def parse_bind(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) to a pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


def bind_udp(address: str) -> socket.socket:
    host, port = parse_bind(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class HeartbeatReceiver:
    def __init__(self, sock: socket.socket, key: str, pending: PendingHeartbeats,
                 seqs: SeqTracker, counters: Counters) -> None:
        self.sock = sock
        self.key = key
        self.pending = pending
        self.seqs = seqs
        self.counters = counters

    def handle(self, packet: bytes, source: object = None, received_at: float | None = None
               ) -> str | None:
        """Take one datagram; return the rejection kind, or None if it was queued.

        ``received`` is counted once the packet has been dealt with, so a reader
        that sees it also sees the packet's outcome."""
        try:
            return self._handle(packet, source, received_at)
        finally:
            self.counters.add("received")

    def _handle(self, packet: bytes, source: object, received_at: float | None) -> str | None:
        try:
            hb = wire.decode(packet, self.key)
        except wire.HeartbeatError as exc:
            self.counters.add(exc.kind)
            log.debug("event=heartbeat_rejected kind=%s from=%s reason=%s", exc.kind, source, exc)
            return exc.kind
        if not self.seqs.accept(hb.amphora_id, hb.seq):
            self.counters.add("replay")
            log.debug("event=heartbeat_rejected kind=replay from=%s amphora=%s seq=%d",
                      source, hb.amphora_id, hb.seq)
            return "replay"
        dropped = self.pending.put(hb, time.time() if received_at is None else received_at)
        if dropped:
            self.counters.add(dropped)
        return None if dropped != "overload" else dropped

    def run(self, stop: threading.Event, *, poll: float = 0.2) -> None:
        self.sock.settimeout(poll)
        recv = self.sock.recvfrom
        while not stop.is_set():
            try:
                packet, source = recv(_RECV_BYTES)
            except TimeoutError:
                continue
            except OSError as exc:
                if stop.is_set():
                    return
                log.warning("event=heartbeat_recv_failed reason=%s", exc)
                time.sleep(poll)
                continue
            try:
                self.handle(packet, source)
            except Exception:  # a bug; never let it end the loop
                self.counters.add("errors")
                log.exception("event=heartbeat_handle_failed from=%s", source)
