"""The ``local`` driver's end of the agent zygote (``hydria.agent.zygote``).

The zygote starts on the first create and lives as long as the process that
started it: its socket's other end is ours and is not inherited, so when this
process stops or dies the zygote reads the end of it and exits. Requests are one
at a time (a lock): a fork takes a millisecond and the answer is the child's pid.
A zygote that died is started again on the next request; one that cannot start or
answer raises ``OSError`` and the driver spawns that agent as a new interpreter.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger("hydria.compute.local")

# a fork is quick; a zygote that has not answered by then is stuck
_ANSWER_TIMEOUT = 10.0


def zygote_command(root: Path, control_fd: int) -> list[str]:
    # -P: the installed package, never a ``hydria`` folder in the working folder
    return [
        sys.executable,
        "-P",
        "-m",
        "hydria.agent",
        "zygote",
        "--dir",
        str(root),
        "--control",
        str(control_fd),
    ]


class ZygoteClient:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    def spawn(self, folder: Path, log_fd: int, ready_fd: int) -> int:
        """Fork the agent of ``folder`` with its log and readiness pipe; its pid."""
        with self._lock:
            sock = self._running()
            try:
                socket.send_fds(
                    sock, [json.dumps({"dir": str(folder)}).encode() + b"\n"], [log_fd, ready_fd]
                )
                answer = json.loads(self._read_line(sock))
            except (OSError, ValueError) as exc:
                self._stop()
                raise OSError(f"agent zygote: {type(exc).__name__}: {exc}") from exc
        if "pid" not in answer:
            raise OSError(f"agent zygote: {answer.get('error', answer)}")
        return int(answer["pid"])

    def close(self) -> None:
        with self._lock:
            self._stop()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _running(self) -> socket.socket:
        if self._sock is not None and self._proc is not None and self._proc.poll() is None:
            return self._sock
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._proc = subprocess.Popen(
                zygote_command(self.root, theirs.fileno()),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                pass_fds=(theirs.fileno(),),
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(_ANSWER_TIMEOUT)
        self._sock = ours
        log.info("event=zygote_started pid=%s", self._proc.pid)
        return ours

    @staticmethod
    def _read_line(sock: socket.socket) -> bytes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("the zygote closed its socket")
            data += chunk
        return data

    def _stop(self) -> None:
        """Close our end (the zygote exits on reading its end) and reap it."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
