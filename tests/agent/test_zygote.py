"""The ``local`` driver forks its agents from a zygote (``hydria.agent.zygote``):
each agent is a child of that warm process, reads as itself in ``ps`` (its command
line names its folder, which the driver and operators find it by), runs in its own
session, outlives the zygote, and the zygote goes with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.core.procs import cmdline, pid_alive
from hydria.drivers.amphora.agent_client import AgentClient
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.drivers.compute import zygote_client
from hydria.drivers.compute.local import LocalCompute
from hydria.drivers.compute.zygote_client import ZygoteClient
from tests.agent.conftest import boot_for
from tests.support.backends import free_port
from tests.support.procs import kill_all_mentioning
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

_hosts = iter(range(10, 250))


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(*pids: int) -> None:
    for pid in pids:
        wait_for(lambda pid=pid: not _alive(pid), what=f"process {pid} gone")


class Started:
    def __init__(self, tmp_path: Path) -> None:
        self.pki = ControllerCA.load_or_create(tmp_path / "pki")
        self.compute = LocalCompute(tmp_path / "amphorae")
        self.client = AgentClient(self.pki.ca_cert_path, *self.pki.client_cert_paths())
        self.net = int(os.environ.get("HYDRIA_TEST_NET", "42")) + 1

    def amphora(self) -> tuple[str, int]:
        """A new amphora, answering; its id and its agent's pid."""
        amp_id = str(uuid.uuid4())
        ip = f"127.{self.net}.252.{next(_hosts)}"
        port = free_port(ip)
        self.compute.create(boot_for(self.pki, amp_id, ip, port))
        self.compute.wait_booted(amp_id, timeout=60)
        assert self.client.wait_ready(ip, port, timeout=30)["amphora_id"] == amp_id
        pid = int(self.compute.layout(amp_id).agent_pid.read_text())
        return amp_id, pid


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Started]:
    made = Started(tmp_path)
    try:
        yield made
    finally:
        made.client.close()
        for amp_id in made.compute.list_ids():
            made.compute.delete(amp_id)
        made.compute.stop_all()
        kill_all_mentioning(str(tmp_path))


def test_an_agent_is_a_fork_of_the_zygote_and_reads_as_itself(started: Started) -> None:
    amp_id, pid = started.amphora()
    zygote = started.compute._zygote
    assert zygote is not None and zygote.pid is not None
    assert _ppid(pid) == zygote.pid  # forked, not a new interpreter of ours
    shown = cmdline(pid).replace(b"\0", b" ").decode()
    folder = str(started.compute.layout(amp_id).root)
    assert "amphora-agent" in shown and folder in shown, shown
    assert os.getsid(pid) == pid  # a session of its own, as a spawned agent had
    # the second one comes from the same zygote
    _second, pid2 = started.amphora()
    assert _ppid(pid2) == zygote.pid
    # stop_all stops the agents and then the zygote
    zygote_pid = zygote.pid
    started.compute.stop_all()
    _wait_gone(pid, pid2, zygote_pid)


def test_agents_outlive_their_zygote_and_a_new_one_starts(started: Started) -> None:
    amp_id, pid = started.amphora()
    zygote = started.compute._zygote
    assert zygote is not None and zygote.pid is not None
    first = zygote.pid
    os.kill(first, signal.SIGKILL)
    _wait_gone(first)
    assert started.compute.is_running(amp_id) and pid_alive(pid)
    _second, pid2 = started.amphora()
    assert zygote.pid not in (None, first)
    assert _ppid(pid2) == zygote.pid


def test_the_zygote_exits_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A controller killed outright leaves no zygote behind (its socket's end closes)."""
    root = tmp_path / "amphorae"
    root.mkdir()
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from hydria.drivers.compute.zygote_client import ZygoteClient\n"
        "z = ZygoteClient(Path(sys.argv[1]))\n"
        "try:\n"
        "    z.spawn(Path('/'), 0, 0)\n"
        "except OSError:\n"
        "    pass\n"
        "print(z.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=60
        )
        zygote_pid = int(out.stdout.split()[0])
        _wait_gone(zygote_pid)
    finally:
        kill_all_mentioning(str(tmp_path))


def test_the_zygote_forks_only_for_a_folder_under_its_root(tmp_path: Path) -> None:
    root = tmp_path / "amphorae"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    client = ZygoteClient(root)
    r, w = os.pipe()
    try:
        with pytest.raises(OSError, match="not an amphora folder"):
            client.spawn(tmp_path / "elsewhere", w, w)
        # a refusal leaves the zygote serving
        assert client.pid is not None and pid_alive(client.pid)
    finally:
        os.close(r)
        os.close(w)
        client.close()
        kill_all_mentioning(str(tmp_path))


def test_without_a_zygote_the_agent_starts_as_a_new_interpreter(
    started: Started, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zygote_client, "zygote_command", lambda *_: ["/nonexistent/python"])
    _amp_id, pid = started.amphora()
    assert _ppid(pid) == os.getpid()
