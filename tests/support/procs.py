"""Finding and killing every process a test started, even after a failure."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from hydria.core.procs import pids_mentioning

__all__ = ["pids_mentioning", "kill_all_mentioning"]


def kill_all_mentioning(text: str, *, grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL; again while anything new shows up (a supervisor may
    have restarted a child in the meantime)."""
    for _ in range(3):
        if not pids_mentioning(text):
            return
        _kill_round(text, grace)


def _kill_round(text: str, grace: float) -> None:
    pids = pids_mentioning(text)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            if not pids:
                return
            time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
