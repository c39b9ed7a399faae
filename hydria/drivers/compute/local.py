"""``local`` compute: an amphora is an agent process (and the HAProxy it
supervises) on this host, in a folder of its own under ``<state>/amphorae``.

Each agent starts in a new session, detached from whoever created it, as a VM
is from Nova: a controller or ``hydria up`` that crashes leaves the data plane
serving. The folder name is the amphora id and the agent's command line names
the folder, so the driver can always find its processes again from the files.
Agents are forked from a zygote that has the agent's code loaded
(``zygote_client``): a new interpreter per amphora was most of a burst's CPU.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from hydria.core.ids import derived_id
from hydria.core.procs import cmdline, lock_held, pid_alive, pids_mentioning
from hydria.drivers.compute.zygote_client import ZygoteClient
from hydria.wire.agent_api import READY_FD_ENV, AmphoraBoot, boot_to_json
from hydria.wire.amphora_layout import AmphoraLayout

log = logging.getLogger("hydria.compute.local")


def _agent_command() -> list[str]:
    # the agent's own entry point: the same process as `hydria amphora-agent`
    # without the CLI's imports (a fleet pays them once per amphora); -P: the
    # installed package, never a `hydria` folder in the controller's working folder
    return [sys.executable, "-P", "-m", "hydria.agent", "amphora-agent"]


class LocalCompute:
    def __init__(self, root: Path, *, fork_agents: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # agents are forked from a warm zygote (``hydria.agent.zygote``): no
        # interpreter start and no imports per amphora
        self._zygote = ZygoteClient(self.root) if fork_agents else None
        # agents we spawned: polled now and then so exited ones leave no zombie
        self._children: list[subprocess.Popen[bytes]] = []
        # the read end of each starting agent's readiness pipe (``wait_booted``)
        self._booting: dict[str, int] = {}

    def _reap(self) -> None:
        self._children = [p for p in self._children if p.poll() is None]

    def layout(self, amphora_id: str) -> AmphoraLayout:
        return AmphoraLayout(self.root / amphora_id)

    def _agent_pid(self, amphora_id: str) -> int | None:
        layout = self.layout(amphora_id)
        try:
            pid = int(layout.agent_pid.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and str(layout.root).encode() in cmdline(pid):
            return pid
        return None

    def _lock_held(self, amphora_id: str) -> bool:
        """The running agent holds ``agent.lock``; if we can take it, none runs."""
        return lock_held(self.layout(amphora_id).agent_lock)

    # -- ComputeDriver ---------------------------------------------------------

    def create(self, boot: AmphoraBoot) -> str:
        layout = self.layout(boot.amphora_id)
        if self._lock_held(boot.amphora_id):
            # running but asked again: the controller gave up waiting on it; restart it
            # with the boot it has now (e.g. a fresh certificate)
            self._stop_running(boot.amphora_id)
        layout.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(layout.boot_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(boot_to_json(boot))
        # the agent writes a byte to this pipe once it listens (READY_FD_ENV), so
        # wait_booted wakes at that moment instead of the controller polling its port
        ready_r, ready_w = os.pipe()
        try:
            with open(layout.agent_log, "ab") as out:
                # the agent records its own pid once it holds agent.lock
                pid = self._start_agent(layout.root, out.fileno(), ready_w)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        self._forget_boot(boot.amphora_id)
        self._booting[boot.amphora_id] = ready_r
        log.info("event=agent_spawned amphora=%s pid=%s", boot.amphora_id, pid)
        return derived_id("compute", boot.amphora_id)  # a UUID, as Nova's server ids

    def _start_agent(self, folder: Path, log_fd: int, ready_w: int) -> int:
        """Fork the agent from the zygote; if the zygote fails, start it as a new
        interpreter (as every agent started before the zygote)."""
        if self._zygote is not None:
            try:
                return self._zygote.spawn(folder, log_fd, ready_w)
            except OSError as exc:
                log.warning("event=zygote_failed reason=%s", exc)
        proc = subprocess.Popen(
            [*_agent_command(), "--dir", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
            pass_fds=(ready_w,),
            env={**os.environ, READY_FD_ENV: str(ready_w)},
        )
        self._reap()
        self._children.append(proc)
        return proc.pid

    def is_running(self, amphora_id: str) -> bool:
        return self._lock_held(amphora_id)

    def wait_booted(self, amphora_id: str, timeout: float) -> None:
        """Until the agent started by ``create`` listens: its byte on the pipe, or
        the pipe's end when it exits first (``SignalsBoot``)."""
        fd = self._booting.pop(amphora_id, None)
        if fd is None:
            return
        try:
            waiter = select.poll()  # not select(): a busy controller's fds pass 1024
            waiter.register(fd, select.POLLIN)
            waiter.poll(max(timeout, 0.0) * 1000)
        finally:
            os.close(fd)

    def _forget_boot(self, amphora_id: str) -> None:
        fd = self._booting.pop(amphora_id, None)
        if fd is not None:
            os.close(fd)

    def delete(self, amphora_id: str) -> None:
        self._reap()
        self._forget_boot(amphora_id)
        layout = self.layout(amphora_id)
        self._stop_running(amphora_id)
        self._kill_haproxy(layout)
        # anything else that names the folder: an agent still starting (no lock
        # yet), or HAProxy whose pidfile was lost
        stray = pids_mentioning(str(layout.root))
        for pid in stray:
            self._signal(pid, signal.SIGTERM)
        self._wait_gone(stray, timeout=5)
        shutil.rmtree(layout.root, ignore_errors=True)
        self._reap()
        sock_dir = layout.socket_dir
        if sock_dir.exists() and not str(sock_dir).startswith(str(layout.root)):
            shutil.rmtree(sock_dir, ignore_errors=True)

    def list_ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if (p / "boot.json").exists())

    def stop_all(self) -> None:
        pids = [p for p in (self._agent_pid(i) for i in self.list_ids()) if p is not None]
        for pid in pids:
            self._signal(pid, signal.SIGTERM)
        self._wait_gone(pids, timeout=15)
        for amp_id in self.list_ids():
            self._kill_haproxy(self.layout(amp_id))
        if self._zygote is not None:
            self._zygote.close()

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _wait_gone(self, pids: list[int], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in pids if pid_alive(p)]
            if not pids:
                return
            time.sleep(0.02)
        for pid in pids:
            self._signal(pid, signal.SIGKILL)

    def _stop_agent(self, pid: int) -> None:
        self._signal(pid, signal.SIGTERM)
        self._wait_gone([pid], timeout=10)

    def _stop_running(self, amphora_id: str) -> None:
        """Stop the agent holding the lock (waiting for a starting one to say its pid)."""
        deadline = time.monotonic() + 10
        while self._lock_held(amphora_id) and time.monotonic() < deadline:
            pid = self._agent_pid(amphora_id)
            if pid is not None:
                self._stop_agent(pid)
            else:
                time.sleep(0.02)

    def _kill_haproxy(self, layout: AmphoraLayout) -> None:
        """HAProxy outlives a SIGKILLed agent; make sure it goes with the amphora."""
        try:
            pid = int(layout.haproxy_pid.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if pid_alive(pid) and str(layout.config).encode() in cmdline(pid):
            self._signal(pid, signal.SIGTERM)
            self._wait_gone([pid], timeout=10)
