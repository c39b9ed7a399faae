"""The receiving end of systemd's notification protocol, for HAProxy's master.

Started with ``-Ws`` and ``NOTIFY_SOCKET`` in its environment, an HAProxy 2.6
master sends a datagram to that socket at each step of its life, as it would
to systemd: ``RELOADING=1`` when it starts or is told to reload, ``READY=1``
once a worker has finished loading (the new one after a reload), and also once
a reload has failed and the old worker keeps serving; ``STOPPING=1`` when it
exits. So the agent waits for ``READY=1`` instead of asking the master CLI
every few milliseconds whether a new worker is there, and then asks it once
which of the two happened (``hydria.agent.haproxy``).

The socket exists only while the agent waits (``listen``): the master keeps the
path it was started with across reloads and agent restarts, and a datagram
sent while nobody listens is dropped by the kernel, not queued. The folder is
the agent's alone (``private_dir``), and each datagram carries its sender's pid
(``SO_PASSCRED``), so only the master the agent waits for is believed.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

_CREDENTIALS = struct.Struct("iII")  # struct ucred: pid, uid, gid


def fields(datagram: bytes) -> dict[str, str]:
    """Pure: ``KEY=value`` lines of one notification to a dict."""
    out = {}
    for line in datagram.decode(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


class Listener:
    """The notification socket at ``path``, bound for the span of one wait."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            self.sock.bind(str(path))
        except OSError:
            self.sock.close()
            raise
        self.sock.setblocking(False)

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)

    def _read(self) -> Iterator[tuple[int | None, dict[str, str]]]:
        """Every datagram waiting: (its sender's pid, its fields)."""
        while True:
            try:
                data, ancillary, _flags, _addr = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(_CREDENTIALS.size)
                )
            except (BlockingIOError, InterruptedError):
                return
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _CREDENTIALS.unpack(payload[: _CREDENTIALS.size])[0]
            yield pid, fields(data)

    def wait_ready(self, pid: int | None, timeout: float, *, exit_fd: int | None = None) -> bool:
        """True once ``READY=1`` comes from ``pid`` (any sender if None); False when
        ``timeout`` passes or ``exit_fd`` (a pidfd of the master) becomes readable."""
        deadline = time.monotonic() + timeout
        watched = [self.sock.fileno()] + ([] if exit_fd is None else [exit_fd])
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(watched, [], [], remaining)
            if exit_fd is not None and exit_fd in readable:
                return False
            for sender, message in self._read():
                if message.get("READY") == "1" and pid in (None, sender):
                    return True
        return False


@contextlib.contextmanager
def listening(path: Path) -> Iterator[Listener]:
    listener = Listener(path)
    try:
        yield listener
    finally:
        listener.close()


@contextlib.contextmanager
def exit_watch(pid: int | None) -> Iterator[int | None]:
    """A pidfd of ``pid`` (readable once it exits), or None where there is none."""
    if pid is None or not hasattr(os, "pidfd_open"):
        yield None
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)
