"""nginx as the agent runs it for UDP listeners: daemonised master, SIGHUP reloads.

The master (``nginx -c <amphora>/udp/nginx.conf``) holds the listening UDP
sockets for its whole life. A reload is SIGHUP: the master re-reads the file,
starts new workers on the same sockets and asks the old ones to finish
gracefully, so datagrams queued on a listening socket are read by the new
worker and replies to sessions in flight still reach their clients through the
old one (for at most ``worker_shutdown_timeout``). ``reload`` returns once a
new worker runs and no old one still opens sessions with the old file. If the new file does not
load, the master keeps its old workers; the agent sees no new worker and says
so. ``nginx -t`` runs before every swap.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from hydria.agent.haproxy import ConfigInvalid, HAProxyError
from hydria.agent.processes import run_tool, terminate
from hydria.core.host import find_nginx
from hydria.core.procs import cmdline, pid_alive

log = logging.getLogger("hydria.agent.nginx")


class EngineError(HAProxyError):
    """nginx would not start or reload (the agent API answers it like HAProxy's)."""


class NginxProcess:
    """One nginx master for one amphora's UDP listeners."""

    def __init__(
        self, folder: Path, *, binary: str | None = None, module: str | None = None
    ) -> None:
        self.folder = folder
        if binary is None:
            binary, module = find_nginx()
        self.binary = binary
        self.module = module

    @property
    def available(self) -> bool:
        return self.binary is not None

    @property
    def config(self) -> Path:
        return self.folder / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.folder / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.folder / "nginx-error.log"

    # -- observing -----------------------------------------------------------

    def master_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        if not pid_alive(pid) or str(self.config).encode() not in cmdline(pid):
            return None
        return pid

    def running(self) -> bool:
        return self.master_pid() is not None

    def workers(self, master: int) -> set[int]:
        out = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1] == str(master) and fields[0] != "Z":
                out.add(int(entry.name))
        return out

    # -- acting --------------------------------------------------------------

    def _cmd(self, path: Path) -> list[str]:
        if self.binary is None:
            raise EngineError("nginx with its stream module is not installed")
        return [self.binary, "-c", str(path), "-e", str(self.error_log)]

    def check(self, path: Path) -> None:
        """``nginx -t``: raise ``ConfigInvalid`` with its output if it refuses."""
        run_tool(
            [*self._cmd(path), "-t", "-q"],
            name="nginx -t",
            failed="nginx -t refused the configuration",
            error=EngineError,
            refused=ConfigInvalid,
        )

    @property
    def workers_file(self) -> Path:
        return self.folder / "nginx.workers"

    def _remember_workers(self, master: int) -> None:
        self.workers_file.write_text(" ".join(str(p) for p in sorted(self.workers(master))))

    def _kill_orphans(self) -> None:
        """Workers outlive a SIGKILLed master and keep the UDP port: end the ones we saw."""
        try:
            pids = [int(p) for p in self.workers_file.read_text().split()]
        except (OSError, ValueError):
            return
        for pid in pids:
            if pid_alive(pid) and cmdline(pid).startswith(b"nginx: worker process"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.workers_file.unlink(missing_ok=True)

    def start(self) -> None:
        if self.running():
            return
        self._kill_orphans()
        self.folder.mkdir(parents=True, exist_ok=True)
        run_tool(
            self._cmd(self.config), name="nginx", failed="nginx did not start", error=EngineError
        )
        deadline = time.monotonic() + 10
        while (pid := self.master_pid()) is None or not self.workers(pid):
            if time.monotonic() > deadline:
                raise EngineError("nginx started but left no master or worker")
            time.sleep(0.005)
        self._remember_workers(pid)

    def reload(self, *, timeout: float = 10.0) -> None:
        """SIGHUP, then wait for a new worker; raise if the master kept the old ones."""
        pid = self.master_pid()
        if pid is None:
            self.start()
            return
        before = self.workers(pid)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.workers(pid) - before:
                self._remember_workers(pid)
                break
            if not pid_alive(pid):
                raise EngineError("nginx exited during its reload")
            time.sleep(0.005)
        else:
            raise EngineError("nginx had no new worker after its reload", self._log_tail())
        # the new file runs; wait (bounded) until the old workers stop opening sessions
        while (serving := self._serving(before)) and time.monotonic() < deadline:
            time.sleep(0.005)
        if serving:
            log.warning("event=nginx_old_workers_still_serving pids=%s", sorted(serving))

    @staticmethod
    def _serving(old: set[int]) -> set[int]:
        """The old workers still reading the listening sockets (new sessions go to them).

        The master starts the new workers first and only then tells the old ones to quit;
        until an old worker takes that in, it goes on opening sessions with the old
        configuration. It retitles itself "is shutting down" in the same step as it
        closes its listening sockets, so a reload is complete once none is left untitled.
        """
        return {
            pid
            for pid in old
            if (title := cmdline(pid)).startswith(b"nginx: worker process")
            and b"shutting down" not in title
        }

    def reopen_logs(self) -> None:
        pid = self.master_pid()
        if pid is not None:
            os.kill(pid, signal.SIGUSR1)

    def stop(self, *, timeout: float = 10.0) -> None:
        terminate(self.master_pid(), timeout=timeout)
        self._kill_orphans()
        self.pid_file.unlink(missing_ok=True)

    def _log_tail(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""
