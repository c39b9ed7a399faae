"""An idle agent sleeps on file descriptors: its servers stop through a pipe, its
supervisors wake when a daemon starts or exits (never on a poll), and HAProxy's
master tells it when a reload is done (``READY=1``) instead of being asked every
few milliseconds."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hydria.agent import haproxy as haproxy_module
from hydria.agent import sd_notify
from hydria.agent.haproxy import HAProxyError, HAProxyProcess
from hydria.agent.main import supervise_vrrp
from hydria.agent.wakeups import QuietServer, Waker
from hydria.wire.amphora_layout import AmphoraLayout


def test_notification_fields_are_key_value_lines() -> None:
    assert sd_notify.fields(b"READY=1\nMAINPID=42\nSTATUS=Ready.\n") == {
        "READY": "1",
        "MAINPID": "42",
        "STATUS": "Ready.",
    }
    assert sd_notify.fields(b"garbage") == {}


_SEND = (
    "import socket,sys;s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM);"
    "s.sendto(sys.argv[2].encode().replace(b'|',b'\\n'),sys.argv[1])"
)


def _send_from_a_child(path: Path, message: str) -> int:
    child = subprocess.Popen(["python3", "-c", _SEND, str(path), message])
    assert child.wait() == 0
    return child.pid


def test_the_listener_believes_ready_only_from_the_pid_it_waits_for(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with sd_notify.listening(path) as notices:
        _send_from_a_child(path, "READY=1")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"READY=1", str(path))
        # neither sender is the pid waited for (-1: no process): both are read, and
        # the wait ends on its timeout (bounding a wait for what must not come)
        assert not notices.wait_ready(-1, 0.2)
        child = _send_from_a_child(path, "RELOADING=1|STATUS=x")
        master = _send_from_a_child(path, "READY=1|MAINPID=1")
        assert child != master
        assert notices.wait_ready(master, 60)
    assert not path.exists()  # bound only while the agent waits


def test_a_quiet_server_serves_and_stops_without_a_poll_interval() -> None:
    class Server(QuietServer, ThreadingHTTPServer):
        daemon_threads = True

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = Server(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(url, timeout=30) as res:
            assert res.read() == b"ok"
    finally:
        server.shutdown()  # returns once serve_forever has
        assert not thread.is_alive()
        server.server_close()


class _FakeVrrp:
    """Keepalived's surface as the supervisor sees it, running ``sleep``."""

    def __init__(self) -> None:
        self.started = Waker()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = threading.Semaphore(0)
        self.wanted = False

    def configured(self) -> bool:
        return self.wanted

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.running() else None

    def start(self) -> None:
        self.proc = subprocess.Popen(["sleep", "600"])
        self.starts.release()
        self.started.wake()


def test_the_vrrp_supervisor_sleeps_on_the_daemon_and_wakes_when_it_starts_or_dies() -> None:
    vrrp = _FakeVrrp()
    lock = threading.Lock()
    store = type("Store", (), {"lock": lock})()
    stop = threading.Event()
    # the fallback looks are an hour apart: only a wake-up can make it act
    thread = threading.Thread(
        target=supervise_vrrp,
        args=(vrrp, store, stop, 3600.0),
        kwargs={"idle_check": 3600.0},
        daemon=True,
    )
    thread.start()
    try:
        vrrp.wanted = True
        vrrp.start()  # as the agent API does; it wakes the supervisor, which watches it
        assert vrrp.starts.acquire(timeout=60)
        first = vrrp.proc
        assert first is not None
        first.kill()
        first.wait()
        assert vrrp.starts.acquire(timeout=60)  # the supervisor brought it back
        assert vrrp.proc is not first and vrrp.running()
    finally:
        stop.set()
        vrrp.started.wake()
        thread.join(60)
        if vrrp.proc is not None:
            vrrp.proc.kill()
            vrrp.proc.wait()
        vrrp.started.close()


# -- with the real HAProxy ----------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[HAProxyProcess]:
    layout = AmphoraLayout(tmp_path / "amp")
    layout.root.mkdir()
    layout.config.write_text(
        f"global\n    stats socket {layout.stats_socket} mode 600 level admin "
        "expose-fd listeners\ndefaults\n    mode tcp\n    timeout connect 1s\n"
        "    timeout client 1s\n    timeout server 1s\n"
        f"frontend f\n    bind 127.0.0.1:{_port()}\n    default_backend b\n"
        "backend b\n    server s 127.0.0.1:9\n"
    )
    proc = HAProxyProcess(layout)
    yield proc
    proc.stop()


@pytest.mark.haproxy
def test_a_reload_waits_for_the_masters_word_not_on_a_poll(
    haproxy: HAProxyProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    query = haproxy_module.unix_query

    def counted(path: Path, command: str, **kwargs: float) -> str:
        asked.append(command)
        return query(path, command, **kwargs)

    monkeypatch.setattr(haproxy_module, "unix_query", counted)
    haproxy.start()
    pid = haproxy.master_pid()
    assert pid is not None and b"-Ws" in Path(f"/proc/{pid}/cmdline").read_bytes()
    asked.clear()
    workers = haproxy.proc_state()
    assert workers is not None
    haproxy.reload()
    state = haproxy.proc_state()
    assert state is not None and set(state.workers).isdisjoint(workers.workers)
    # one look before the signal, one after it, one after READY=1: polling every
    # 5 ms asked about twenty times per reload
    assert asked.count("show proc") <= 5, asked
    # a configuration the master cannot load: READY=1 too, and show proc says failed
    haproxy.layout.config.write_text(haproxy.layout.config.read_text() + "no-such-keyword\n")
    with pytest.raises(HAProxyError, match="could not load"):
        haproxy.reload()


@pytest.mark.haproxy
def test_a_master_started_without_notifications_still_reloads(haproxy: HAProxyProcess) -> None:
    """An older agent's master (``-W``, no NOTIFY_SOCKET) never says READY: the
    agent still sees its new worker, by its fallback look."""
    sockets = haproxy.layout.socket_dir
    haproxy_module.private_dir(sockets)
    subprocess.run(
        [
            haproxy.binary,
            "-W",
            "-D",
            "-S",
            f"{haproxy.layout.master_socket},mode,600",
            "-p",
            str(haproxy.layout.haproxy_pid),
            "-f",
            str(haproxy.layout.config),
        ],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
    )
    assert haproxy.running()
    before = None
    while before is None or not before.workers:  # the first worker, once it is up
        before = haproxy.proc_state()
    haproxy.reload()
    after = haproxy.proc_state()
    assert after is not None and set(after.workers).isdisjoint(before.workers)
