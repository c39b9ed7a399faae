"""Where an amphora's logs go: under its folder with rotation, and to syslog targets.

Two kinds, as in Octavia:

* **Tenant flow logs**: HAProxy's connection and HTTP log lines (the format is
  rendered into its configuration). HAProxy sends them straight to the
  operator's syslog targets, and, unless local storage is disabled, to a Unix
  datagram socket this module reads (``LocalLogReceiver``), which writes them
  to ``logs/haproxy.log`` in the amphora's folder, rotated at
  ``MAX_BYTES`` with ``BACKUPS`` old files kept, in batches (a line per request
  at full load: the receiver's cost is on every request's path).
* **Admin logs**: the agent's own log records, to ``logs/admin.log`` (same
  rotation, unless local storage is disabled) and to ``admin_log_targets``
  over UDP or TCP syslog (facility local1, Octavia's
  ``administrative_log_facility``). A TCP target that does not answer at start
  is tried ``log_retry_count`` times, then left out with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
from pathlib import Path
from typing import Final

from hydria.agent.wakeups import Waker
from hydria.wire.agent_api import AmphoraBoot

log = logging.getLogger("hydria.agent.logs")

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


class RotatingHandler(logging.Handler):
    """``logging``'s ``RotatingFileHandler`` over ``RotatingFile`` (same names, same
    limits), without importing ``logging.handlers`` for it: that module and what it
    imports (pickle, queue) are half a megabyte in every agent of a fleet, and only
    an agent with syslog targets needs them."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.file = RotatingFile(path)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.file.write((self.format(record) + "\n").encode(errors="backslashreplace"))
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock if self.lock is not None else contextlib.nullcontext():
            self.file.close()
        super().close()


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def admin_handlers(boot: AmphoraBoot, folder: Path) -> list[logging.Handler]:
    """The handlers the agent's root logger gets (besides stderr)."""
    handlers: list[logging.Handler] = []
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    if not boot.disable_local_log_storage:
        handlers.append(RotatingHandler(folder / "logs" / "admin.log"))
    tcp = boot.log_protocol.upper() == "TCP"
    if boot.admin_log_targets:
        from logging.handlers import SysLogHandler  # only here: see RotatingHandler
    for target in boot.admin_log_targets:
        for attempt in range(max(boot.log_retry_count, 0) + 1):
            try:
                handler = SysLogHandler(
                    _address(target),
                    facility=SysLogHandler.LOG_LOCAL1,
                    socktype=socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM,
                )
            except (OSError, ValueError) as exc:
                if attempt >= boot.log_retry_count:
                    log.warning(
                        "event=admin_log_target_unreachable target=%s reason=%s", target, exc
                    )
                    break
                time.sleep(min(2.0, 0.2 * (attempt + 1)))
                continue
            handler.setFormatter(
                logging.Formatter(
                    f"hydria-amphora[{boot.amphora_id}]: %(levelname)s %(name)s %(message)s"
                )
            )
            handlers.append(handler)
            break
    for each in handlers:
        if each.formatter is None:
            each.setFormatter(fmt)
    return handlers


class RotatingFile:
    """An append-only file rotated as ``logging``'s ``RotatingFileHandler`` does
    (``name.1`` the newest old file, ``name.<backups>`` the oldest), written in
    batches: one ``write`` and one flush for however many lines a batch holds."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._file = open(path, "ab")
        self._size = self._file.tell()

    def write(self, data: bytes) -> None:
        if self._size and self._size + len(data) >= self.max_bytes:
            self._rotate()
        self._file.write(data)
        self._file.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._file.close()
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = open(self.path, "wb")
        self._size = 0

    def close(self) -> None:
        self._file.close()


#: The most datagrams one write takes (bounds what a batch holds in memory).
BATCH: Final = 512


class LocalLogReceiver:
    """HAProxy's log datagrams on a Unix socket, written to a rotating file.

    HAProxy sends one datagram per request, so at full load this thread is on the
    path of every request (in the amphora's CPU, beside HAProxy). It wakes when
    datagrams wait (and only then), reads every one that waits and writes them with one ``write``.
    A ``logging`` record per line (its lock, formatting, rollover check and a
    flush, so a write system call, for each) cost the agent 15 to 18 us of CPU per
    keep-alive HTTPS request, more than half of what HAProxy spends terminating TLS
    and proxying it (about 25 us); batched, 7 to 9 us (``bench/tls.py``). A line
    that cannot be written (a full disk) is counted and the receiver goes on.
    """

    def __init__(self, socket_path: Path, log_file: Path | RotatingFile) -> None:
        self.socket_path = socket_path
        socket_path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(socket_path))
        os.chmod(socket_path, 0o600)
        self.sock.setblocking(False)
        self.file = log_file if isinstance(log_file, RotatingFile) else RotatingFile(log_file)
        self.lost = 0
        self._stop = threading.Event()
        self._waker = Waker()  # close() wakes the thread: no poll timeout while idle
        self.thread = threading.Thread(target=self._run, daemon=True, name="flow-logs")
        self.thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        poller.register(self._waker, select.POLLIN)
        while not self._stop.is_set():
            try:
                poller.poll()
                if self._stop.is_set():
                    return
                lines = self._drain()
            except OSError:
                return
            if lines:
                try:
                    self.file.write(b"".join(lines))
                except OSError as exc:
                    self.lost += len(lines)
                    if self.lost == len(lines):  # the first loss, not every one
                        log.warning("event=flow_log_write_failed reason=%s", exc)

    def _drain(self) -> list[bytes]:
        lines: list[bytes] = []
        while len(lines) < BATCH:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            lines.append(data.rstrip(b"\n") + b"\n")
        return lines

    def close(self) -> None:
        self._stop.set()
        self._waker.wake()
        self.thread.join(timeout=2)
        self._waker.close()
        self.sock.close()
        self.file.close()
        self.socket_path.unlink(missing_ok=True)
