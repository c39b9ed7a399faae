"""keepalived as the agent runs it in an ACTIVE_STANDBY amphora.

The controller renders the configuration (``hydria.render.keepalived``) and
puts it with ``PUT /1.0/vrrp``; the agent checks it with ``keepalived -t``,
swaps it in and starts keepalived, or makes the running one re-read it
(SIGHUP), and starts it again if it dies. keepalived runs in the foreground as
the agent's child (``-n``), so it lives and dies with the amphora. The check
script it runs asks HAProxy's stats socket for ``show info``.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from hydria.agent.wakeups import Waker
from hydria.wire.amphora_layout import AmphoraLayout

log = logging.getLogger("hydria.agent.keepalived")


class KeepalivedError(Exception):
    """The configuration was refused (``details``: keepalived's words)."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def check_script_text(stats_socket: Path) -> str:
    return (
        "#!/bin/sh\n# is HAProxy answering on its stats socket?\n"
        f"echo 'show info' | socat -t 1 - UNIX-CONNECT:{stats_socket} | grep -q '^Pid:'\n"
    )


class Keepalived:
    def __init__(self, layout: AmphoraLayout, *, started: Waker | None = None) -> None:
        self.layout = layout
        # woken at every start, so a supervisor asleep on nothing watches the new pid
        self.started = started
        self.config = layout.root / "keepalived.conf"
        self.check_script = layout.root / "check_haproxy.sh"
        self.proc: subprocess.Popen[bytes] | None = None

    def binary(self) -> str:
        found = shutil.which("keepalived") or shutil.which("keepalived", path="/usr/sbin")
        if not found:
            raise KeepalivedError("keepalived is not installed")
        return found

    def write_check_script(self) -> None:
        tmp = self.check_script.with_suffix(".tmp")
        tmp.write_text(check_script_text(self.layout.stats_socket))
        os.chmod(tmp, 0o700)
        tmp.replace(self.check_script)

    def configured(self) -> bool:
        return self.config.exists()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.running() else None

    def apply(self, text: str) -> bool:
        """Check and swap in ``text``; start or reload. False if it was already running it."""
        if self.configured() and self.config.read_text() == text and self.running():
            return False
        self.write_check_script()
        staged = self.config.with_suffix(".new")
        staged.write_text(text)
        os.chmod(staged, 0o600)
        res = subprocess.run(
            [self.binary(), "-t", "-f", str(staged)], capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            staged.unlink(missing_ok=True)
            raise KeepalivedError(
                "keepalived refused the configuration", (res.stdout + res.stderr)[-2000:]
            )
        staged.replace(self.config)
        if self.running():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGHUP)
            log.info("event=keepalived_reloaded")
        else:
            self.start()
        return True

    def start(self) -> None:
        out = open(self.layout.root / "keepalived.log", "ab")  # noqa: SIM115 - child holds it
        self.proc = subprocess.Popen(
            [
                self.binary(),
                "-n",
                "-l",
                "-D",
                "-P",
                "-f",
                str(self.config),
                "-p",
                str(self.layout.root / "keepalived.pid"),
                "-r",
                str(self.layout.root / "vrrp.pid"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            close_fds=True,
        )
        out.close()
        log.info("event=keepalived_started pid=%s", self.proc.pid)
        if self.started is not None:
            self.started.wake()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
