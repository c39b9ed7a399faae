"""``ConfigStore`` with the real HAProxy: the start or reload is the check, and a
configuration HAProxy cannot parse is still refused as ``ConfigInvalid``
(permanent) with nothing of it left running."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.agent.config_store import ConfigStore
from hydria.agent.haproxy import ConfigInvalid, HAProxyProcess
from hydria.wire.amphora_layout import AmphoraLayout
from tests.support.backends import HTTPBackend

pytestmark = pytest.mark.haproxy


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(layout: AmphoraLayout, port: int) -> bytes:
    return (
        f"global\n    stats socket {layout.stats_socket} mode 600 level admin "
        "expose-fd listeners\ndefaults\n    mode tcp\n    timeout connect 1s\n"
        "    timeout client 1s\n    timeout server 1s\n"
        f"frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n"
        "backend b\n    server s 127.0.0.1:9\n"
    ).encode()


@pytest.fixture
def store(tmp_path: Path):
    layout = AmphoraLayout(tmp_path / "amp")
    layout.root.mkdir()
    proc = HAProxyProcess(layout)
    yield ConfigStore(layout, proc)
    proc.stop()


def test_a_bad_first_config_is_invalid_and_starts_nothing(store: ConfigStore) -> None:
    with pytest.raises(ConfigInvalid):
        store.apply(b"global\n    no-such-keyword\nfrontend f\n    bind 127.0.0.1:9\n", 1)
    assert not store.haproxy.running()
    assert store.version() is None
    assert not store.layout.config.exists()


def test_a_bad_reload_is_invalid_and_the_held_config_keeps_running(store: ConfigStore) -> None:
    port = _port()
    good = _config(store.layout, port)
    assert store.apply(good, 1) == 1
    pid = store.haproxy.master_pid()
    with pytest.raises(ConfigInvalid):
        store.apply(b"global\n    no-such-keyword\nfrontend f\n    bind 127.0.0.1:9\n", 2)
    assert store.version() == 1
    assert store.layout.config.read_bytes() == good
    assert store.haproxy.master_pid() == pid
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    assert not store.layout.config.with_name("haproxy.cfg.refused").exists()
    assert store.apply(_config(store.layout, port), 3) == 3  # and the next good one loads


# -- member changes through HAProxy's runtime API ------------------------------


def _http_config(
    layout: AmphoraLayout, port: int, servers: list[HTTPBackend], **extra: str
) -> bytes:
    lines = "".join(f"    server {s.name} {s.host}:{s.port} weight 1\n" for s in servers)
    return (
        f"global\n    stats socket {layout.stats_socket} mode 600 level admin "
        "expose-fd listeners\ndefaults\n    mode http\n    timeout connect 1s\n"
        f"    timeout client {extra.get('client', '5s')}\n    timeout server 30s\n"
        f"frontend f\n    bind 127.0.0.1:{port}\n    default_backend b\n"
        f"backend b\n    balance roundrobin\n{lines}"
    ).encode()


def _get(port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as res:
        return str(res.read().decode())


def _worker(store: ConfigStore) -> int | None:
    return store.haproxy.worker_stats()[0]


@pytest.fixture
def members() -> Iterator[list[HTTPBackend]]:
    found = [HTTPBackend("member-a"), HTTPBackend("member-b")]
    yield found
    for b in found:
        b.stop()


def test_member_changes_go_through_the_runtime_api_without_a_reload(
    store: ConfigStore, members: list[HTTPBackend]
) -> None:
    a, b = members
    port = _port()
    store.apply(_http_config(store.layout, port, [a]), 1)
    worker = _worker(store)
    assert worker is not None and store.runtime_changes == 0

    added = _http_config(store.layout, port, [a, b])
    assert store.apply(added, 2) == 2
    assert store.runtime_changes == 1 and _worker(store) == worker
    assert {_get(port) for _ in range(6)} == {"member-a", "member-b"}
    # the file is the new one, for the next reload or restart
    assert store.layout.config.read_bytes() == added and store.version() == 2

    assert store.apply(_http_config(store.layout, port, [b]), 3) == 3
    assert store.runtime_changes == 2 and _worker(store) == worker
    assert {_get(port) for _ in range(6)} == {"member-b"}

    # anything else is a reload: a new worker, which reads the servers from the file
    assert store.apply(_http_config(store.layout, port, [b], client="6s"), 4) == 4
    assert store.runtime_changes == 2 and _worker(store) != worker
    assert {_get(port) for _ in range(4)} == {"member-b"}


def test_a_removed_member_with_a_request_in_flight_is_a_reload_that_finishes_it(
    store: ConfigStore, members: list[HTTPBackend]
) -> None:
    a, b = members
    port = _port()
    store.apply(_http_config(store.layout, port, [b]), 1)
    worker = _worker(store)
    held: list[str] = []
    thread = threading.Thread(target=lambda: held.append(_get(port, "/held")))
    thread.start()
    try:
        assert b.held_started.wait(10)
        # HAProxy refuses to delete a server with a connection: the agent reloads instead
        assert store.apply(_http_config(store.layout, port, [a]), 2) == 2
        assert store.runtime_changes == 0 and _worker(store) != worker
        assert {_get(port) for _ in range(4)} == {"member-a"}
    finally:
        b.release_held.set()
        thread.join(30)
    assert held == ["member-b"]  # the old worker finished it


def test_the_same_version_reloads_only_when_its_text_changed(store: ConfigStore) -> None:
    """A failover re-renders the survivor's peers at the same generation: the same
    version with new text is applied; with the same text it is a no-op."""
    port = _port()
    first = _config(store.layout, port)
    assert store.apply(first, 4) == 4
    worker = store.haproxy.worker_stats()[0]
    assert store.apply(first, 4) == 4
    assert store.haproxy.worker_stats()[0] == worker  # nothing reloaded

    other = _port()
    second = first.replace(f"bind 127.0.0.1:{port}".encode(), f"bind 127.0.0.1:{other}".encode())
    assert store.apply(second, 4) == 4
    assert store.layout.config.read_bytes() == second and store.version() == 4
    assert store.haproxy.worker_stats()[0] != worker
    with socket.create_connection(("127.0.0.1", other), timeout=2):
        pass


def _idle_config(layout: AmphoraLayout) -> bytes:
    return (
        f"# version 1\nglobal\n    stats socket {layout.stats_socket} mode 600 level admin "
        "expose-fd listeners\ndefaults\n    mode tcp\n    timeout connect 1s\n"
    ).encode()


def test_a_config_that_serves_nothing_starts_nothing_until_a_listener_comes(
    store: ConfigStore,
) -> None:
    """A new load balancer (no listeners yet) is recorded without starting HAProxy;
    the first listener starts it, and a bad one is refused as at any start."""
    idle = _idle_config(store.layout)
    assert store.apply(idle, 1) == 1
    assert store.version() == 1 and store.layout.config.read_bytes() == idle
    assert not store.haproxy.running()
    assert store.apply(idle, 1) == 1  # the same again: a no-op
    store.resume()  # an agent restarting starts nothing either
    assert not store.haproxy.running()

    with pytest.raises(ConfigInvalid):
        store.apply(idle + b"frontend f\n    no-such-keyword\n", 2)
    assert store.version() == 1 and store.layout.config.read_bytes() == idle
    assert not store.haproxy.running()

    port = _port()
    assert store.apply(_config(store.layout, port), 3) == 3
    assert store.haproxy.running()
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass

    # the last listener gone: a running HAProxy reloads onto it, as for any change
    worker = store.haproxy.worker_stats()[0]
    assert store.apply(_idle_config(store.layout), 4) == 4
    assert store.haproxy.running() and store.haproxy.worker_stats()[0] != worker


def test_the_supervisor_does_not_start_haproxy_for_a_config_that_serves_nothing(
    store: ConfigStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hydria.agent.main import supervise

    assert store.apply(_idle_config(store.layout), 1) == 1
    looked = threading.Semaphore(0)
    asked = store.wants_haproxy

    def counted() -> bool:
        looked.release()
        return asked()

    monkeypatch.setattr(store, "wants_haproxy", counted)
    stop = threading.Event()
    thread = threading.Thread(
        target=supervise, args=(store, stop, 0.01), kwargs={"idle_check": 0.01}, daemon=True
    )
    thread.start()
    try:
        for _ in range(3):  # three rounds of the supervisor, each finding nothing to run
            assert looked.acquire(timeout=30)
        assert not store.haproxy.running()
    finally:
        stop.set()
        thread.join(30)
