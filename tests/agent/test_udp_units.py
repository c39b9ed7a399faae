"""The agent's UDP pieces without an amphora: rise/fall counting, the UDP-CONNECT
check against real sockets, session counters, and nginx managed for real."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from hydria.agent.nginx import NginxProcess
from hydria.agent.probe import DOWN, UP, Health, step, udp_connect
from hydria.agent.udp import UdpStore
from hydria.core import graph as g
from hydria.core.host import find_nginx
from hydria.render.nginx import NginxOptions, render_udp
from tests.support.udp_echo import UDPEchoBackend, udp_ask


@pytest.mark.parametrize(
    ("results", "rise", "fall", "status"),
    [
        ([True, True], 2, 3, UP),
        ([False, False], 2, 3, UP),
        ([False, False, False], 2, 3, DOWN),
        ([False, True, False], 2, 2, UP),  # a success breaks the streak
        ([False, False, True], 2, 2, DOWN),
        ([False, False, True, True], 2, 2, UP),
        ([False], 1, 1, DOWN),
    ],
)
def test_rise_and_fall(results: list[bool], rise: int, fall: int, status: str) -> None:
    state = Health()
    for ok in results:
        state = step(state, ok, rise=rise, fall=fall)
    assert state.status == status


def test_udp_connect_sees_port_unreachable() -> None:
    echo = UDPEchoBackend("e")
    try:
        assert udp_connect(echo.host, echo.port, 1.0)
    finally:
        echo.stop()
    # nothing listens there any more: the kernel answers ICMP port-unreachable
    assert not udp_connect("127.0.0.1", echo.port, 1.0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        assert udp_connect("127.0.0.1", silent.getsockname()[1], 0.2)


NGINX, _ = find_nginx()


def _one_listener(
    port: int,
    members: tuple[g.Member, ...],
    *,
    timeout: int = 50000,
    persistence: g.SessionPersistence | None = None,
    monitor: g.HealthMonitor | None = None,
) -> g.LoadBalancer:
    """A load balancer on 127.0.0.1 with one UDP listener on ``port`` and one
    ROUND_ROBIN pool of ``members``."""
    return g.LoadBalancer(
        id="lb-1",
        vip_address="127.0.0.1",
        listeners=(
            g.Listener(
                id="li-1",
                protocol="UDP",
                protocol_port=port,
                default_pool_id="p-1",
                timeout_client_data=timeout,
            ),
        ),
        pools=(
            g.Pool(
                id="p-1",
                protocol="UDP",
                lb_algorithm="ROUND_ROBIN",
                health_monitor=monitor,
                session_persistence=persistence,
                members=members,
            ),
        ),
    )


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_store_applies_reloads_marks_and_counts(tmp_path: Path) -> None:
    echoes = [UDPEchoBackend("a"), UDPEchoBackend("b")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")
    nginx: NginxProcess = store.nginx

    def config(*members: g.Member) -> g.LoadBalancer:
        return _one_listener(port, members, timeout=200)

    a = g.Member(id="m-a", address="127.0.0.1", protocol_port=echoes[0].port)
    b = g.Member(id="m-b", address="127.0.0.1", protocol_port=echoes[1].port)
    options = NginxOptions(run_dir=str(store.folder), stream_module=nginx.module)
    try:
        store.apply(render_udp(config(a), options, version=1), 1)
        assert udp_ask("127.0.0.1", port) == "a:hi"
        master = nginx.master_pid()
        store.apply(render_udp(config(a, b), options, version=2), 2)
        assert nginx.master_pid() == master  # a reload, not a restart
        # once apply returns, no old worker opens sessions with version 1 (a only)
        seen = {udp_ask("127.0.0.1", port) for _ in range(6)}
        assert seen == {"a:hi", "b:hi"}
        # a stale version is refused; the same one is a no-op
        with pytest.raises(Exception, match="older"):
            store.apply(render_udp(config(a), options, version=1), 1)
        assert store.apply(render_udp(config(a, b), options, version=2), 2) == 2
        # sessions end after 200 ms idle, then nginx logs them and the counters move
        deadline = time.monotonic() + 10
        while (totals := store.counters.read("li-1"))["total_connections"] < 7:
            assert time.monotonic() < deadline, totals
            time.sleep(0.1)
        # every answered datagram is one session counted, none lost across the reload
        assert totals["total_connections"] == 7
        assert totals["bytes_in"] == 2 * totals["total_connections"]  # "hi" each
        report = store.report()
        assert report["listeners"]["li-1"]["status"] == "OPEN"
        assert report["pools"]["p-1"]["members"] == {"m-a": "no check", "m-b": "no check"}
        # nginx killed: nothing reported (its listeners turn ERROR), resume brings it back
        nginx.stop()
        assert store.report()["listeners"] == {}
        store.resume()
        assert udp_ask("127.0.0.1", port) in {"a:hi", "b:hi"}
        store.apply(
            render_udp(g.LoadBalancer(id="lb-1", vip_address="127.0.0.1"), options, version=3), 3
        )
        assert not nginx.running()
    finally:
        store.remove()
        for e in echoes:
            e.stop()


def test_proc_address_reads_both_families() -> None:
    import sys

    from hydria.agent.udp import _proc_address

    if sys.byteorder != "little":
        pytest.skip("the samples are a little-endian kernel's")
    assert _proc_address("0100007F:1F90") == "127.0.0.1:8080"
    assert _proc_address("00000000000000000000000001000000:0035") == "::1:53"
    assert _proc_address("0000000000000000FFFF00000100007F:0035") == "127.0.0.1:53"
    assert _proc_address("zz:1") is None


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_report_counts_live_sessions(tmp_path: Path) -> None:
    """active_connections is nginx's live sessions to the listener's members, read from
    the kernel; it falls back to 0 when the sessions time out, and the heartbeat merge
    carries it as TCP's."""
    from hydria.agent.heartbeat import merge_udp

    echo = UDPEchoBackend("a")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")
    lb = _one_listener(
        port,
        (g.Member(id="m-a", address="127.0.0.1", protocol_port=echo.port),),
        timeout=1500,
    )
    options = NginxOptions(run_dir=str(store.folder), stream_module=store.nginx.module)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        store.apply(render_udp(lb, options, version=1), 1)
        assert store.report()["listeners"]["li-1"]["active_connections"] == 0
        for sock in clients:  # three clients, three sessions held open by their sockets
            sock.settimeout(2)
            sock.sendto(b"hi", ("127.0.0.1", port))
            assert sock.recv(100) == b"a:hi"
        listener = store.report()["listeners"]["li-1"]
        assert listener["active_connections"] == 3
        beat = merge_udp({"listeners": {}, "pools": {}}, store.report())
        assert beat["listeners"]["li-1"]["active_connections"] == 3
        deadline = time.monotonic() + 10
        while (report := store.report())["listeners"]["li-1"]["active_connections"]:
            assert time.monotonic() < deadline, report
            time.sleep(0.1)
        while store.counters.read("li-1")["total_connections"] < 3:  # logged as they end
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for sock in clients:
            sock.close()
        store.remove()
        echo.stop()


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_backup_member_under_source_ip(tmp_path: Path) -> None:
    """SOURCE_IP persistence (a hash, where nginx has no backup): the backup member gets
    no datagram while the primary serves, takes every client once UDP-CONNECT finds the
    primary dead, and gives them back when it returns."""
    primary, backup = UDPEchoBackend("a"), UDPEchoBackend("b")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")
    monitor = g.HealthMonitor(
        id="hm-1", type="UDP-CONNECT", delay=1, timeout=1, max_retries=1, max_retries_down=1
    )
    lb = _one_listener(
        port,
        (
            g.Member(id="m-a", address="127.0.0.1", protocol_port=primary.port),
            g.Member(id="m-b", address="127.0.0.1", protocol_port=backup.port, backup=True),
        ),
        timeout=100,
        persistence=g.SessionPersistence("SOURCE_IP", persistence_timeout=60),
        monitor=monitor,
    )
    options = NginxOptions(run_dir=str(store.folder), stream_module=store.nginx.module)
    sources = [f"127.0.0.{i}" for i in range(1, 6)]

    def answers() -> set[str | None]:
        return {udp_ask("127.0.0.1", port, source=src, timeout=1.0) for src in sources}

    def until(expected: set[str | None]) -> None:
        deadline = time.monotonic() + 15
        while (seen := answers()) != expected:
            assert time.monotonic() < deadline, (seen, store.prober.statuses())
            time.sleep(0.2)

    try:
        store.apply(render_udp(lb, options, version=1), 1)
        assert answers() == {"a:hi"}  # five clients, none on the backup (only probes are)
        primary_port = primary.port
        primary.stop()
        until({"b:hi"})
        assert store.report()["pools"]["p-1"]["members"]["m-a"] == "DOWN"
        primary = UDPEchoBackend("a", port=primary_port)
        until({"a:hi"})
    finally:
        store.remove()
        primary.stop()
        backup.stop()


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_a_burst_waits_in_the_listen_queue(tmp_path: Path) -> None:
    """While nginx's worker is off the CPU (stopped here, descheduled on a busy host),
    datagrams wait in the listening socket: 2000 small ones (several times what a
    default receive buffer holds) all reach the member once the worker runs again."""
    import os
    import signal

    from hydria.render.nginx import LISTEN_RCVBUF

    burst = 2000
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    if rmem_max < 2 << 20:
        pytest.skip(f"net.core.rmem_max is {rmem_max}: the kernel caps rcvbuf={LISTEN_RCVBUF}")
    sink = UDPEchoBackend("a")
    sink.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")
    lb = _one_listener(port, (g.Member(id="m-a", address="127.0.0.1", protocol_port=sink.port),))
    options = NginxOptions(run_dir=str(store.folder), stream_module=store.nginx.module)
    stopped: set[int] = set()
    try:
        store.apply(render_udp(lb, options, version=1), 1)
        assert udp_ask("127.0.0.1", port) == "a:hi"
        master = store.nginx.master_pid()
        assert master is not None
        stopped = store.nginx.workers(master)
        assert stopped
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        before = sink.received
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for _ in range(burst):
                client.sendto(b"x" * 64, ("127.0.0.1", port))
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            stopped = set()
            seen, still = -1, 0
            while sink.received - before < burst and still < 50:  # 5 s without one more
                still = still + 1 if sink.received == seen else 0
                seen = sink.received
                time.sleep(0.1)
        assert sink.received - before == burst
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        store.remove()
        sink.stop()


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_source_ip_persistence_outlives_its_timeout(tmp_path: Path) -> None:
    """What docs/udp.md says of SOURCE_IP persistence on nginx, with real datagrams:
    the granularity groups clients (a /24 here: eight source addresses, one member,
    where ROUND_ROBIN alone spreads them), and idle time beyond ``persistence_timeout``
    does not reschedule them (IPVS would; nginx keeps no table to expire)."""
    echoes = [UDPEchoBackend(name) for name in ("a", "b", "c")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")

    def balancer(persistence: g.SessionPersistence | None) -> g.LoadBalancer:
        members = tuple(
            g.Member(id=f"m-{e.name}", address="127.0.0.1", protocol_port=e.port) for e in echoes
        )  # sessions end 100 ms after their datagram
        return _one_listener(port, members, timeout=100, persistence=persistence)

    options = NginxOptions(run_dir=str(store.folder), stream_module=store.nginx.module)
    sources = [f"127.0.0.{i}" for i in range(1, 9)]

    def answers() -> set[str | None]:
        return {udp_ask("127.0.0.1", port, source=src, timeout=1.0) for src in sources}

    sticky = g.SessionPersistence(
        "SOURCE_IP", persistence_timeout=1, persistence_granularity="255.255.255.0"
    )
    try:
        store.apply(render_udp(balancer(None), options, version=1), 1)
        assert len(answers()) > 1  # ROUND_ROBIN alone spreads the eight clients
        store.apply(render_udp(balancer(sticky), options, version=2), 2)
        first = answers()
        assert len(first) == 1 and None not in first, first
        time.sleep(1.5)  # idle past persistence_timeout (and every session's end)
        assert answers() == first
    finally:
        store.remove()
        for e in echoes:
            e.stop()


@pytest.mark.integration
@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
def test_timeout_client_data_ends_an_idle_session(tmp_path: Path) -> None:
    """The listener's ``timeout_client_data`` is nginx's ``proxy_timeout``: a client that
    keeps its socket stays with its member while it talks, and once it has been
    silent longer its session ends and its next datagram is a new session, which
    ROUND_ROBIN gives the other member (tests/agent/test_nft_live.py: the same on
    nftables)."""
    echoes = [UDPEchoBackend("a"), UDPEchoBackend("b")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = UdpStore(tmp_path / "udp")
    members = tuple(
        g.Member(id=f"m-{e.name}", address="127.0.0.1", protocol_port=e.port) for e in echoes
    )
    options = NginxOptions(run_dir=str(store.folder), stream_module=store.nginx.module)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(2)
    try:
        store.apply(render_udp(_one_listener(port, members, timeout=1000), options, version=1), 1)

        def ask() -> str:
            client.sendto(b"hi", ("127.0.0.1", port))
            return client.recv(100).decode().split(":", 1)[0]

        first = ask()
        assert [ask() for _ in range(3)] == [first] * 3  # one session, one member
        deadline = time.monotonic() + 30
        while store.counters.read("li-1")["total_connections"] < 1:  # logged as it ends
            assert time.monotonic() < deadline, "the idle session never ended"
            time.sleep(0.05)
        assert ask() == ({"a", "b"} - {first}).pop()
    finally:
        client.close()
        store.remove()
        for echo in echoes:
            echo.stop()
