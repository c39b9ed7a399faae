"""One warm process that forks the ``local`` driver's amphora agents.

Starting an agent as a new interpreter costs ~0.15 s of CPU before it does anything
(the interpreter and the agent's imports), most of an amphora's start-up: in a burst
of 100 creates the agents took 0.163 s of CPU each against the controller's 0.054 s
per load balancer. The zygote pays the imports once; each agent is then a ``fork``
of it, starting with the agent's code already loaded, and a fleet's agents share
those pages until they write to them.

It runs as ``python -m hydria.agent zygote --dir ROOT --control FD`` (``ROOT``: the
driver's amphorae folder, so the zygote is found by it like every process of the
deployment). The protocol, on the ``AF_UNIX`` stream socket ``FD``:
the driver sends one line of JSON, ``{"dir": FOLDER}``, with two descriptors
(``SCM_RIGHTS``): the agent's log (its stdout and stderr) and the write end of its
readiness pipe (``READY_FD_ENV``); the zygote answers one line, ``{"pid": PID}``
or ``{"error": TEXT}``. The child starts a session of its own, as a spawned agent
did, so it outlives the zygote and the controller alike; its command line is
rewritten to name its folder (``setproctitle``), because the driver and operators
find an amphora's processes by that.

The zygote reaps the agents it forked and exits when the driver's end of the
socket closes (the controller stopped or died): agents left behind are reparented
and reaped by init, as an agent the controller spawned was.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

from setproctitle import setproctitle

from hydria.agent.main import run
from hydria.wire.agent_api import READY_FD_ENV

# the descriptors one request carries: the log and the readiness pipe
FDS_PER_REQUEST = 2
_MAX_LINE = 64 * 1024


def agent_title(folder: Path) -> str:
    """The command line an agent shows (``ps``), as if started on its own."""
    return f"{sys.executable} -P -m hydria.agent amphora-agent --dir {folder}"


def serve(control: socket.socket, root: Path) -> int:
    """Fork an agent for each request until the driver closes its end; only for a
    folder directly under ``root`` (the driver's amphorae)."""
    signal.signal(signal.SIGCHLD, _reap)
    root = root.resolve()
    while True:
        try:
            line, fds = _receive(control)
        except OSError:
            return 0
        if not line:
            return 0
        try:
            folder = Path(json.loads(line)["dir"]).resolve()
            if folder.parent != root or not folder.is_dir():
                raise ValueError(f"{folder} is not an amphora folder under {root}")
            pid = _fork_agent(folder, fds, control)
            answer: dict[str, object] = {"pid": pid}
        except (KeyError, TypeError, ValueError, OSError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        control.sendall(json.dumps(answer).encode() + b"\n")


def _receive(control: socket.socket) -> tuple[bytes, list[int]]:
    """One request line and the descriptors sent with its first byte."""
    data, fds, _flags, _addr = socket.recv_fds(control, _MAX_LINE, FDS_PER_REQUEST)
    while data and not data.endswith(b"\n"):
        more = control.recv(_MAX_LINE)
        if not more:
            break
        data += more
    return data, fds


def _fork_agent(folder: Path, fds: list[int], control: socket.socket) -> int:
    if len(fds) != FDS_PER_REQUEST:
        raise ValueError(f"expected {FDS_PER_REQUEST} descriptors, got {len(fds)}")
    log_fd, ready_fd = fds
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    # the child: nothing of the zygote's but the agent's code
    try:
        control.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(null)
        os.close(log_fd)
        os.environ[READY_FD_ENV] = str(ready_fd)
        setproctitle(agent_title(folder))
        code = run(folder)
    except BaseException as exc:  # noqa: BLE001 - a forked child must never return
        print(f"event=agent_failed reason={type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _reap(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(control_fd: int, root: Path) -> int:
    return serve(socket.socket(fileno=control_fd), root)
