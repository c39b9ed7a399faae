"""Looking at this host's processes through /proc (Linux only, as the local driver is).

Local amphorae are plain processes, found again by the folder their command line
names; that is how a restarted ``hydria up`` or housekeeping recognises its own.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def signal_and_wait(pid: int, sig: int, *, timeout: float) -> bool:
    """Send ``sig`` to ``pid`` and wait at most ``timeout`` seconds for it to exit;
    True if it is gone (a process already gone counts)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not pid_alive(pid)


def cmdline(pid: int) -> bytes:
    """The raw command line (arguments separated by NUL), empty if it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pids_mentioning(text: str) -> list[int]:
    """Other processes whose command line contains ``text`` (e.g. an amphora's folder)."""
    needle = text.encode()
    me = os.getpid()
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and int(entry.name) != me and needle in cmdline(int(entry.name))
    ]


def lock_held(path: Path) -> bool:
    """Whether a process holds ``path``'s exclusive lock (an agent's ``agent.lock``).

    If we can take the lock, no process holds it; we give it back at once.
    """
    if not path.exists():
        return False
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
