"""The UDP side of the health manager: a thin loop around the wire checks.

Each datagram is read into a buffer larger than any heartbeat (so an
oversized one is seen whole enough to be refused), then checked, cheapest
first: the envelope (``open_envelope``: size, header, version); the amphora
it claims to be, which the database must know (``AmphoraDirectory``:
``unknown_amphora``); the source address, which must be that amphora's
management address (``wrong_source``); the signature, with that amphora's own
derived key (``AmphoraKeys``, cached); then the sequence number from the
signed header (``SeqTracker``: ``replay``, ``future_seq``, which also ask the
agent through ``SeqConfirmer``). An authenticated envelope goes to
``PendingHeartbeats`` for the writer's next batch, which keeps the newest per
amphora and only then inflates and checks its body (``malformed``,
``body_too_large`` are counted there): most heartbeats of a busy fleet are
superseded before a batch is written, and cost no zlib or JSON at all. A bad packet is counted by kind and dropped; nothing on
this path writes to the database, and no packet can end the loop.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from hydria.health.counters import Counters
from hydria.health.directory import AmphoraDirectory, normal_address
from hydria.health.seqs import SeqConfirmer, SeqTracker
from hydria.health.writer import PendingHeartbeats
from hydria.wire import heartbeat as wire
from hydria.wire.heartbeat_keys import AmphoraKeys

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
    def __init__(
        self,
        sock: socket.socket,
        keys: AmphoraKeys,
        pending: PendingHeartbeats,
        seqs: SeqTracker,
        counters: Counters,
        directory: AmphoraDirectory,
        *,
        confirmer: SeqConfirmer | None = None,
    ) -> None:
        self.sock = sock
        self.keys = keys
        self.pending = pending
        self.seqs = seqs
        self.counters = counters
        self.directory = directory
        self.confirmer = confirmer

    def handle(
        self, packet: bytes, source: tuple[str, int], received_at: float | None = None
    ) -> str | None:
        """Take one datagram from ``source``; return the rejection kind, or None if
        it was queued.

        ``received`` is counted once the packet has been dealt with, so a reader
        that sees it also sees the packet's outcome."""
        try:
            return self._handle(packet, source, received_at)
        finally:
            self.counters.add("received")

    def _reject(self, kind: str, source: object, amphora_id: str, reason: object) -> str:
        self.counters.add(kind)
        log.debug(
            "event=heartbeat_rejected kind=%s from=%s amphora=%s reason=%s",
            kind,
            source,
            amphora_id,
            reason,
        )
        return kind

    def _handle(
        self, packet: bytes, source: tuple[str, int], received_at: float | None
    ) -> str | None:
        try:
            env = wire.open_envelope(packet)
        except wire.HeartbeatError as exc:
            return self._reject(exc.kind, source, "", exc)
        amp_id = env.amphora_id
        address = self.directory.address(amp_id)
        if address is None:
            self.directory.wake()
            return self._reject("unknown_amphora", source, amp_id, "not a live amphora")
        if source[0] != address and normal_address(source[0]) != address:
            return self._reject(
                "wrong_source", source, amp_id, f"its management address is {address}"
            )
        try:
            wire.authenticate(env, self.keys.get(amp_id))
        except wire.HeartbeatError as exc:
            return self._reject(exc.kind, source, amp_id, exc)
        verdict = self.seqs.check(amp_id, env.seq)
        if verdict is not None:
            if self.confirmer is not None:
                self.confirmer.request(amp_id, address)
            return self._reject(verdict, source, amp_id, f"seq {env.seq}")
        # the body is inflated and parsed by the writer, for the newest one only
        dropped = self.pending.put(env, time.time() if received_at is None else received_at)
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
