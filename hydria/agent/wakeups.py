"""How the agent's threads sleep: on file descriptors, never on a poll interval.

An idle amphora's agent has nothing to do between heartbeats, and a fleet has
hundreds of them on one host: every timed wake-up of every thread (a server
loop that looks for a shutdown request five times a second, a supervisor that
looks at its daemon every second) is CPU the host pays for nothing. So each
thread blocks in ``select`` or ``poll`` on what it serves and on a ``Waker``,
a pipe another thread writes one byte to when it wants it to look again
(a shutdown, a daemon just started).

``QuietServer`` is that for ``socketserver``: ``serve_forever`` without its
poll, ``shutdown`` through a ``Waker``, with the standard library's contract
(``shutdown`` returns once ``serve_forever`` has).
"""

from __future__ import annotations

import os
import selectors
import socketserver
import threading
from typing import Any


class Waker:
    """A pipe: ``wake`` from any thread makes ``fileno`` readable until ``clear``."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def fileno(self) -> int:
        return self._read

    def wake(self) -> None:
        try:
            os.write(self._write, b"!")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (it is readable already) or closed (nobody waits)

    def clear(self) -> None:
        try:
            while os.read(self._read, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


class QuietServer(socketserver.TCPServer):
    """Put first among the bases of a ``socketserver`` server (TCP or Unix): it sleeps until a connection or a
    shutdown comes, instead of waking every ``poll_interval`` to look for one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._waker = Waker()
        self._stopped = threading.Event()
        self._stopping = False
        super().__init__(*args, **kwargs)

    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until ``shutdown``; ``poll_interval`` is accepted and ignored."""
        self._stopped.clear()
        try:
            with selectors.PollSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._waker, selectors.EVENT_READ)
                while not self._stopping:
                    ready = {key.fileobj for key, _ in selector.select()}
                    if self._stopping:
                        break
                    if self.socket in ready:
                        self.handle_request()
        finally:
            self._stopping = False
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait for it (from another thread)."""
        self._stopping = True
        self._waker.wake()
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._waker.close()
