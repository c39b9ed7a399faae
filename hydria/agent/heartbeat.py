"""The amphora's heartbeat: HAProxy's view of its listeners, pools and members,
signed and sent over UDP to every controller, every ``heartbeat_interval``.

HAProxy names things after the objects they serve (see ``hydria.render.haproxy``):
a frontend is a listener id, a backend a pool id (``<pool id>:<mode>`` when one
pool is rendered in two modes), a server a member id. ``payload_from_stats`` is
the pure mapping from ``show stat`` rows to the heartbeat payload; the rows come
from ``ConfigStore.listener_stats``, whose frontend counters are totals over
every HAProxy worker of the amphora (payload schema 2, ``hydria.agent.counters``).

Sequence numbers must grow across agent restarts, or the health manager would
take the first heartbeats after a restart for replays. ``SeqCounter`` persists
the top of a block of numbers before it hands any of them out, so a restarted
agent always starts above everything its predecessor may have sent, with one
small write per ``BLOCK`` heartbeats.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from hydria.wire import heartbeat as wire
from hydria.wire.agent_api import AmphoraBoot

log = logging.getLogger("hydria.agent.heartbeat")


class _Store(Protocol):
    def listener_stats(self) -> list[dict[str, str]]: ...

    def version(self) -> int | None: ...

    @property
    def layout(self) -> Any: ...


def _counter(row: dict[str, str], name: str) -> int:
    try:
        value = int(row.get(name) or 0)
    except ValueError:
        return 0
    return min(max(value, 0), wire.MAX_COUNTER)


def payload_from_stats(
    amphora_id: str, rows: Iterable[dict[str, str]], *, config_version: int | None = None
) -> dict[str, Any]:
    """Pure: HAProxy ``show stat`` rows to the heartbeat payload (without ``seq``)."""
    listeners: dict[str, dict[str, Any]] = {}
    pools: dict[str, dict[str, Any]] = {}
    for row in rows:
        pxname, svname = row.get("pxname", ""), row.get("svname", "")
        status = (row.get("status") or "")[: wire.MAX_STATUS_CHARS]
        if not pxname or not svname:
            continue
        if svname == "FRONTEND":
            listeners[pxname] = {
                "status": status,
                "bytes_in": _counter(row, "bin"),
                "bytes_out": _counter(row, "bout"),
                "active_connections": _counter(row, "scur"),
                "total_connections": _counter(row, "stot"),
                "request_errors": _counter(row, "ereq"),
            }
            continue
        pool_id = pxname.split(":", 1)[0]
        pool = pools.setdefault(pool_id, {"status": "", "members": {}})
        if svname == "BACKEND":
            # one pool rendered twice (HTTP and TCP): UP if either backend is
            if pool["status"] != "UP":
                pool["status"] = status
        else:
            pool["members"].setdefault(svname, status)
    return {
        "id": amphora_id,
        "schema": wire.PAYLOAD_SCHEMA,
        "config_version": config_version,
        "listeners": listeners,
        "pools": pools,
    }


class SeqCounter:
    """Heartbeat sequence numbers that keep growing across restarts."""

    BLOCK = wire.SEQ_BLOCK

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._next = self._read() + 1
        self._reserved = self._next - 1

    def _read(self) -> int:
        try:
            value = json.loads(self.path.read_text())["reserved"]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return value if isinstance(value, int) and value >= 0 else 0

    def _reserve(self, top: int) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps({"reserved": top}))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)
        self._reserved = top

    def last(self) -> int:
        """The last number handed out (0 before the first)."""
        with self._lock:
            return self._next - 1

    def next(self) -> int:
        with self._lock:
            if self._next > self._reserved:
                self._reserve(min(self._next + self.BLOCK - 1, wire.MAX_SEQ))
            if self._next > wire.MAX_SEQ:
                raise OverflowError("heartbeat sequence numbers are exhausted")
            seq = self._next
            self._next += 1
            return seq


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` to a pair."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class HeartbeatSender:
    """One UDP socket per address family, bound to the management address: the
    health manager drops a heartbeat that comes from any other address."""

    def __init__(self, addresses: Iterable[str], source_ip: str = "") -> None:
        self.targets: list[tuple[socket.socket, Any]] = []
        sockets: dict[int, socket.socket] = {}
        for text in addresses:
            try:
                host, port = parse_address(text)
                family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[
                    0
                ]
            except (ValueError, OSError) as exc:
                log.error("event=heartbeat_bad_address address=%s reason=%s", text, exc)
                continue
            if family not in sockets:
                sock = socket.socket(family, socket.SOCK_DGRAM)
                if source_ip:
                    try:
                        sock.bind((source_ip, 0))
                    except OSError as exc:  # another family: its heartbeats will be dropped
                        log.error(
                            "event=heartbeat_bind_failed source=%s family=%s reason=%s",
                            source_ip,
                            family,
                            exc,
                        )
                sockets[family] = sock
            self.targets.append((sockets[family], sockaddr))
        self._sockets = list(sockets.values())

    def send(self, packet: bytes) -> int:
        sent = 0
        for sock, addr in self.targets:
            try:
                sock.sendto(packet, addr)
                sent += 1
            except OSError as exc:
                log.debug("event=heartbeat_send_failed to=%s reason=%s", addr, exc)
        return sent

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


def merge_udp(payload: dict[str, Any], udp: dict[str, Any]) -> dict[str, Any]:
    """Pure: the UDP engine's listeners and pools beside HAProxy's, and its health."""
    payload["listeners"].update(udp.get("listeners", {}))
    payload["pools"].update(udp.get("pools", {}))
    if udp.get("engine") is not None:
        payload["udp_engine"] = udp["engine"]
    return payload


def seq_counter(store: _Store) -> SeqCounter:
    return SeqCounter(Path(store.layout.root) / "heartbeat_seq.json")


def heartbeat_loop(
    boot: AmphoraBoot,
    store: _Store,
    stop: threading.Event,
    seqs: SeqCounter | None = None,
    *,
    udp: Any = None,
) -> None:
    """Send a heartbeat every ``boot.heartbeat_interval`` until ``stop`` is set."""
    interval = max(float(boot.heartbeat_interval), 0.05)
    try:
        key = wire.SigningKey(bytes.fromhex(boot.heartbeat_key))
    except ValueError:
        # a boot file from before per-amphora keys (one shared text key): this
        # amphora cannot speak for itself any more and is to be rebuilt
        log.error("event=heartbeat_key_unusable amphora=%s: no heartbeats", boot.amphora_id)
        return
    seqs = seqs or seq_counter(store)
    sender = HeartbeatSender(boot.controller_addresses, boot.lb_network_ip)
    log.info(
        "event=heartbeat_start amphora=%s interval=%s targets=%s",
        boot.amphora_id,
        interval,
        ",".join(boot.controller_addresses),
    )
    due = time.monotonic()
    try:
        while not stop.is_set():
            try:
                # the version first: stats taken after a reload are at least that new
                version = store.version()
                payload = payload_from_stats(
                    boot.amphora_id, store.listener_stats(), config_version=version
                )
                if udp is not None:
                    merge_udp(payload, udp.report())
                sender.send(wire.encode(payload, key, seqs.next()))
            except Exception:  # a bad moment must not end the heartbeats
                log.exception("event=heartbeat_failed amphora=%s", boot.amphora_id)
            due += interval
            now = time.monotonic()
            if due < now:  # fell behind (a slow stats socket): do not burst to catch up
                due = now
            stop.wait(due - now)
    finally:
        sender.close()
