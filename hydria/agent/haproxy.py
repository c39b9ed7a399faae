"""HAProxy as the agent runs it: master-worker mode, daemonised, seamless reloads.

The master (``-Ws -D``) owns the workers; the agent talks to it through its
pidfile, signals and the master CLI socket (``-S``), and hears from it through
systemd's notification protocol (``hydria.agent.sd_notify``). A reload is SIGUSR2: the
master re-executes itself, re-reads the configuration file, and the new
worker takes the listening sockets over from the old one (the stats socket is
declared with ``expose-fd listeners``), so no connection is refused while the
old worker finishes the ones it has.

The agent sleeps until the master says ``READY=1`` (a worker finished loading,
or a reload failed), then the master CLI's ``show proc`` says which: a new
worker pid under ``# workers`` means it worked; a higher ``failed`` count means
the new configuration did not load and the old worker still serves. Asking
``show proc`` every 5 ms instead cost the master and the agent a CLI round trip
each time, tens of them per reload.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hydria.agent import sd_notify
from hydria.agent.processes import output_of, run_tool, terminate
from hydria.agent.wakeups import Waker
from hydria.core.procs import pid_alive, signal_and_wait
from hydria.wire.amphora_layout import AmphoraLayout


class HAProxyError(Exception):
    """HAProxy would not start or reload; ``details`` says why. May heal on retry."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class ConfigInvalid(HAProxyError):
    """``haproxy -c`` refused the text: sending it again will not help."""


class RuntimeRefused(Exception):
    """A runtime API command was not accepted (the change needs a reload)."""

    def __init__(self, command: str, answer: str) -> None:
        super().__init__(f"{command!r}: {answer[:300]}")


# what the stats socket answers to a runtime command that worked
_RUNTIME_OK = frozenset({"", "New server registered.", "Server deleted."})


# HAProxy's built-in HTTP client (for Lua scripts, which Hydria's configurations
# never load) reads and parses the system's whole CA bundle at every start and
# every reload unless told not to verify: three quarters of the CPU of a reload
# of a small configuration (about 30 ms of 40 here). It goes in a global section
# of its own, given before the configuration with a second ``-f``, so the
# rendered text stays the controller's and a reload (which re-executes the
# master with the same arguments) keeps it.
BASE_CONFIG = "global\n    httpclient.ssl.verify none\n"


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise HAProxyError("haproxy is not installed")
    return found


@dataclass(frozen=True)
class ProcState:
    """What ``show proc`` on the master CLI says."""

    master_pid: int
    reloads: int
    failed: int
    workers: tuple[int, ...]


_MASTER_RE = re.compile(r"^(\d+)\s+master\s+(\d+)\s+\[failed:\s*(\d+)\]")
_WORKER_RE = re.compile(r"^(\d+)\s+worker\s")


def parse_show_proc(text: str) -> ProcState | None:
    """Pure: ``show proc`` output to ``ProcState`` (only current workers count)."""
    master = None
    workers: list[int] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("# "):
            section = line[2:].strip()
            continue
        if m := _MASTER_RE.match(line):
            master = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif section == "workers" and (m := _WORKER_RE.match(line)):
            workers.append(int(m.group(1)))
    if master is None:
        return None
    return ProcState(master[0], master[1], master[2], tuple(workers))


_PID_RE = re.compile(r"^Pid:\s*(\d+)\s*$", re.MULTILINE)


def parse_info_and_stat(text: str) -> tuple[int | None, list[dict[str, str]]]:
    """Pure: the answer to ``show info;show stat`` -> (worker pid, stat rows)."""
    pid_match = _PID_RE.search(text)
    start = text.find("# pxname")
    if start < 0:
        return (int(pid_match.group(1)) if pid_match else None), []
    table = text[start:].lstrip("# ")
    rows = [dict(row) for row in csv.DictReader(io.StringIO(table)) if row.get("pxname")]
    return (int(pid_match.group(1)) if pid_match else None), rows


# how often a waiting agent asks ``show proc`` anyway: a master started without
# ``-Ws`` (by an older agent) never says READY
NOTIFY_FALLBACK = 1.0


# section keywords after which HAProxy has nothing to run: a configuration made of
# these alone (a load balancer without listeners or pools) serves nothing
_IDLE_SECTIONS = frozenset({"global", "defaults"})
_SECTION_RE = re.compile(r"^([A-Za-z][\w-]*)(?:\s|$)")


def serves_nothing(config: str) -> bool:
    """Pure: the configuration has only ``global`` and ``defaults`` sections (no
    frontend, backend, listen, peers or anything else HAProxy would run)."""
    for line in config.splitlines():
        if not line or line[0] in " \t#":
            continue  # indented lines belong to the section above; comments
        m = _SECTION_RE.match(line)
        if m is None or m.group(1) not in _IDLE_SECTIONS:
            return False
    return True


_BIND_RE = re.compile(r"^\s*bind\s+(\[[^\]]+\]|[^\s:]+):(\d+)\b", re.MULTILINE)


def bind_addresses(config: str) -> set[tuple[str, int]]:
    """Pure: the ``bind host:port`` addresses of a configuration's text."""
    return {(m.group(1).strip("[]"), int(m.group(2))) for m in _BIND_RE.finditer(config)}


def diagnose_binds(new_config: str, old_config: str) -> list[str]:
    """Why a checked configuration may not have loaded: the addresses it binds that
    the running one does not, and that this host refuses to bind right now.

    A daemonised HAProxy master writes its own start-up errors nowhere the agent can
    read, and ``haproxy -c`` does not bind; so the agent tries each new address
    itself (a plain bind, never listened on, closed at once) and says what the
    kernel answered, e.g. an address some other process holds.
    """
    problems = []
    for host, port in sorted(bind_addresses(new_config) - bind_addresses(old_config)):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
        except OSError as exc:
            where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
            problems.append(f"cannot bind {where}: {exc.strerror or exc}")
    return problems


def unix_query(path: Path, command: str, *, timeout: float = 2.0) -> str:
    """Send one command to an HAProxy CLI socket and read the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def private_dir(path: Path) -> None:
    """Make ``path`` (and a missing parent) ours alone, or refuse to use it.

    The sockets may live under /tmp (see ``AmphoraLayout.socket_dir``): a folder
    someone else made first, or that others can enter, must not hold an admin
    socket that hands out the VIP's listening sockets.
    """
    for folder in (path.parent, path):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise HAProxyError(f"cannot create {folder}", str(exc)) from exc
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise HAProxyError(f"{folder} belongs to uid {info.st_uid}, not to us")
        if info.st_mode & 0o077:
            os.chmod(folder, 0o700)


class HAProxyProcess:
    """One HAProxy master for one amphora folder."""

    def __init__(
        self, layout: AmphoraLayout, *, binary: str | None = None, started: Waker | None = None
    ) -> None:
        self.layout = layout
        self.binary = binary or haproxy_binary()
        # woken at every start, so a supervisor asleep on nothing watches the new master
        self.started = started

    # -- observing -----------------------------------------------------------

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True, timeout=10)
        first = out.stdout.splitlines()[0] if out.stdout else ""
        m = re.search(r"version (\S+)", first)
        return m.group(1) if m else first

    def master_pid(self) -> int | None:
        pid = None
        for _ in range(5):  # the master rewrites its pidfile while it reloads
            try:
                pid = int(self.layout.haproxy_pid.read_text().split()[0])
                break
            except FileNotFoundError:
                return None
            except (OSError, ValueError, IndexError):
                time.sleep(0.01)
        if pid is None:
            return None
        if not pid_alive(pid):
            return None
        try:  # the pid may have been reused by something else
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if str(self.layout.config).encode() in cmdline else None

    @property
    def notify_socket(self) -> Path:
        """Where the master sends its notifications (``hydria.agent.sd_notify``)."""
        return self.layout.socket_dir / "notify.sock"

    def running(self) -> bool:
        return self.master_pid() is not None

    def proc_state(self) -> ProcState | None:
        try:
            return parse_show_proc(unix_query(self.layout.master_socket, "show proc"))
        except OSError:
            return None

    def show_stat(self) -> list[dict[str, str]]:
        """HAProxy's ``show stat`` as a list of rows (empty when not running)."""
        return self.worker_stats()[1]

    def worker_stats(self) -> tuple[int | None, list[dict[str, str]]]:
        """The worker's pid (``show info``) and its ``show stat`` rows, asked in one
        go so both come from the same worker; ``(None, [])`` when none answers."""
        try:
            text = unix_query(self.layout.stats_socket, "show info;show stat")
        except OSError:
            return None, []
        return parse_info_and_stat(text)

    # -- acting --------------------------------------------------------------

    def runtime(self, commands: list[str]) -> None:
        """Send runtime API commands to the running worker, one connection each, in
        order; raise ``RuntimeRefused`` at the first one HAProxy does not accept
        (the caller reloads instead, which undoes any that went through)."""
        for command in commands:
            try:
                answer = unix_query(self.layout.stats_socket, command).strip()
            except OSError as exc:
                raise RuntimeRefused(command, str(exc)) from exc
            if answer not in _RUNTIME_OK:
                raise RuntimeRefused(command, answer)

    def check(self, path: Path) -> None:
        """``haproxy -c``: raise ``ConfigInvalid`` with its output if it refuses."""
        run_tool(
            [self.binary, "-c", "-q", *self._base_args(), "-f", str(path)],
            name="haproxy -c",
            failed="haproxy -c refused the configuration",
            error=HAProxyError,
            refused=ConfigInvalid,
        )

    def start(self) -> None:
        """Start the master on ``layout.config`` unless it already runs."""
        if self.running():
            return
        private_dir(self.layout.socket_dir)
        for stale in (self.layout.master_socket, self.layout.stats_socket):
            stale.unlink(missing_ok=True)
        cmd = [
            self.binary,
            "-Ws",
            "-D",
            "-S",
            f"{self.layout.master_socket},mode,600",
            "-p",
            str(self.layout.haproxy_pid),
            *self._base_args(),
            "-f",
            str(self.layout.config),
        ]
        with sd_notify.listening(self.notify_socket) as notices:
            res = run_tool(
                cmd,
                name="haproxy",
                failed="haproxy did not start",
                error=HAProxyError,
                env={**os.environ, "NOTIFY_SOCKET": str(self.notify_socket)},
            )
            pid = self._wait_master(timeout=10)  # written before ``-D`` returns, as a rule
            if pid is None:
                raise HAProxyError("haproxy started but left no master process", output_of(res))
            self._wait_for_worker(pid, None, notices, timeout=10)
        if self.started is not None:
            self.started.wake()

    def reload(self, *, timeout: float = 15.0) -> None:
        """Seamless reload; raise ``HAProxyError`` if the new config did not load."""
        pid = self.master_pid()
        if pid is None:
            self.start()
            return
        before = self._wait_state(timeout=5)
        if before is None:  # without a baseline, the old worker would pass for a new one
            raise HAProxyError("haproxy's master CLI did not answer; reload not attempted")
        with sd_notify.listening(self.notify_socket) as notices:
            try:
                os.kill(pid, signal.SIGUSR2)
            except ProcessLookupError as exc:
                raise HAProxyError("haproxy exited before its reload") from exc
            self._wait_for_worker(pid, before, notices, timeout=timeout)

    def stop(self, *, timeout: float = 10.0, drain: float = 0.0) -> None:
        """Stop the master and its workers; idempotent.

        With ``drain``, a soft stop first (SIGUSR1: listeners close, connections
        in flight finish), for at most that long; then the hard stop.
        """
        pid = self.master_pid()
        if pid is not None and drain > 0:
            signal_and_wait(pid, signal.SIGUSR1, timeout=drain)
            pid = self.master_pid()  # gone already, its pid maybe reused: look again
        terminate(pid, timeout=timeout)
        self.layout.haproxy_pid.unlink(missing_ok=True)

    # -- helpers -------------------------------------------------------------

    def _base_args(self) -> list[str]:
        """``-f`` and the agent's own global section (``BASE_CONFIG``), written once."""
        path = self.layout.config.with_name("haproxy-base.cfg")
        try:
            if path.read_text() == BASE_CONFIG:
                return ["-f", str(path)]
        except OSError:
            pass
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(BASE_CONFIG)
            tmp.replace(path)
        except OSError as exc:
            raise HAProxyError(f"cannot write {path}", str(exc)) from exc
        return ["-f", str(path)]

    def _wait_master(self, *, timeout: float) -> int | None:
        """The daemonised master writes its pidfile a moment after ``-D`` returns."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.master_pid()
            if pid is not None or time.monotonic() > deadline:
                return pid
            time.sleep(0.005)

    def _wait_state(self, *, timeout: float) -> ProcState | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.proc_state()
            if state is not None:
                return state
            time.sleep(0.01)
        return None

    def _wait_for_worker(
        self,
        master: int,
        before: ProcState | None,
        notices: sd_notify.Listener,
        *,
        timeout: float,
    ) -> None:
        """Return once ``show proc`` lists a worker ``before`` did not; raise if the
        master counts a failed reload or exits. Between looks, sleep until the
        master notifies (``READY=1``) or exits."""
        old = set(before.workers) if before else set()
        deadline = time.monotonic() + timeout
        with sd_notify.exit_watch(master) as exited:
            while True:
                state = self.proc_state()
                if state is not None:
                    if any(w not in old for w in state.workers):
                        return
                    if before is not None and state.failed > before.failed:
                        raise HAProxyError(
                            "haproxy could not load the new configuration",
                            "the master reported a failed reload; the previous worker keeps serving",
                        )
                elif not pid_alive(master):
                    raise HAProxyError("haproxy exited")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HAProxyError(f"haproxy had no new worker after {timeout:.0f}s")
                notices.wait_ready(master, min(remaining, NOTIFY_FALLBACK), exit_fd=exited)
