"""Where an amphora's logs go: under its folder with rotation, and to syslog targets.

Two kinds, as in Octavia:

* **Tenant flow logs**: HAProxy's connection and HTTP log lines (the format is
  rendered into its configuration). HAProxy sends them straight to the
  operator's syslog targets, and, unless local storage is disabled, to a Unix
  datagram socket this module reads (``LocalLogReceiver``), which writes them
  to ``logs/haproxy.log`` in the amphora's folder, rotated at
  ``MAX_BYTES`` with ``BACKUPS`` old files kept.
* **Admin logs**: the agent's own log records, to ``logs/admin.log`` (same
  rotation, unless local storage is disabled) and to ``admin_log_targets``
  over UDP or TCP syslog (facility local1, Octavia's
  ``administrative_log_facility``). A TCP target that does not answer at start
  is tried ``log_retry_count`` times, then left out with a warning.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
import threading
import time
from pathlib import Path

from hydria.wire.agent_api import AmphoraBoot

log = logging.getLogger("hydria.agent.logs")

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5


def _rotating(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS)
    return handler


def _address(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def admin_handlers(boot: AmphoraBoot, folder: Path) -> list[logging.Handler]:
    """The handlers the agent's root logger gets (besides stderr)."""
    handlers: list[logging.Handler] = []
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    if not boot.disable_local_log_storage:
        handlers.append(_rotating(folder / "logs" / "admin.log"))
    tcp = boot.log_protocol.upper() == "TCP"
    for target in boot.admin_log_targets:
        for attempt in range(max(boot.log_retry_count, 0) + 1):
            try:
                handler = logging.handlers.SysLogHandler(
                    _address(target),
                    facility=logging.handlers.SysLogHandler.LOG_LOCAL1,
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


class LocalLogReceiver:
    """HAProxy's log datagrams on a Unix socket, written to a rotating file."""

    def __init__(self, socket_path: Path, log_file: Path) -> None:
        self.socket_path = socket_path
        socket_path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(socket_path))
        os.chmod(socket_path, 0o600)
        self.sock.settimeout(0.5)
        self.writer = logging.getLogger(f"hydria.amphora.flow.{id(self)}")
        self.writer.propagate = False
        handler = _rotating(log_file)
        handler.setFormatter(logging.Formatter("%(message)s"))
        self.writer.addHandler(handler)
        self.writer.setLevel(logging.INFO)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="flow-logs")
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.writer.info(data.decode(errors="replace").rstrip("\n"))

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()
        for handler in self.writer.handlers:
            handler.close()
        self.socket_path.unlink(missing_ok=True)
