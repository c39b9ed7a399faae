"""PING monitors and SOURCE_IP_PORT on the real HAProxy, with the real ping script.

A PING monitor must really send ICMP: a member whose address answers ping is UP
even with nothing listening on its port (a TCP connect would say DOWN), and a
member whose address does not answer is DOWN. SOURCE_IP_PORT must keep one
client address and port on one member while a client's different source ports
spread over the members.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from hydria.agent.main import install_ping_check
from hydria.core import graph as g
from hydria.render.haproxy import render
from hydria.wire.amphora_layout import AmphoraLayout

from .cases import AMPHORA, hm, lb, listener, member, pool
from .test_haproxy_check import _free_port, _haproxy, _member, _server_status, _stats, _wait_for

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _options(tmp_path: Path) -> g.RenderOptions:
    script = install_ping_check(AmphoraLayout(tmp_path))
    return g.RenderOptions(
        stats_socket=str(tmp_path / "stats.sock"), ping_check=str(script), max_connections=100
    )


def _check_status(sock: Path, backend: str, server: str) -> str:
    for row in _stats(sock, "show stat").splitlines():
        fields = row.split(",")
        if fields[:2] == [backend, server]:
            return fields[36]
    return "missing"


def test_ping_monitor_pings_instead_of_connecting(tmp_path: Path) -> None:
    closed_port = _free_port()  # nothing listens there: a connect check would fail
    balancer = lb(
        vip="127.0.0.1",
        listeners=[listener("listener-tcp", "TCP", _free_port())],
        pools=[
            pool(
                protocol="TCP",
                members=[member("member-a", "127.0.0.1", closed_port)],
                health_monitor=hm("PING", delay=1, timeout=1, max_retries=1, max_retries_down=1),
            )
        ],
    )
    with _haproxy(render(balancer, AMPHORA, _options(tmp_path), version=1), tmp_path) as sock:
        _wait_for(lambda: _check_status(sock, "pool-1", "member-a") == "PROCOK", "an answered ping")
        assert _server_status(sock, "pool-1", "member-a") == "UP"


@pytest.mark.netns
def test_ping_monitor_marks_an_unreachable_member_down(tmp_path: Path) -> None:
    """In a network namespace of its own (only ``lo``), 10.255.255.1 has no route:
    ping fails at once, while 127.0.0.1 still answers."""
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False).returncode
    ):
        pytest.skip("cannot create a network namespace here (needs root and unshare)")
    netns = ("unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh")
    balancer = lb(
        vip="127.0.0.1",
        listeners=[listener("listener-tcp", "TCP", 9000)],
        pools=[
            pool(
                protocol="TCP",
                members=[
                    member("member-up", "127.0.0.1", 9),
                    member("member-down", "10.255.255.1", 9),
                ],
                health_monitor=hm("PING", delay=1, timeout=1, max_retries=1, max_retries_down=1),
            )
        ],
    )
    text = render(balancer, AMPHORA, _options(tmp_path), version=1)
    with _haproxy(text, tmp_path, prefix=netns) as sock:
        _wait_for(
            lambda: _server_status(sock, "pool-1", "member-down") == "DOWN",
            "the unreachable member DOWN",
        )
        _wait_for(
            lambda: _check_status(sock, "pool-1", "member-up") == "PROCOK",
            "the reachable member checked",
        )
        assert _server_status(sock, "pool-1", "member-up") == "UP"
        assert _check_status(sock, "pool-1", "member-down") in ("PROCERR", "* PROCERR")


def _fetch_from(port: int, source_port: int) -> bytes:
    """One HTTP GET through a TCP listener from 127.0.0.1:<source_port>, closed with
    a reset so that the same source port can be used again at once (no TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(5)
        s.bind(("127.0.0.1", source_port))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.rpartition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("protocol", ["TCP", "HTTP"])
def test_source_ip_port_hashes_address_and_port(tmp_path: Path, protocol: str) -> None:
    with (
        _member("127.0.0.1", b"a") as (port_a, _),
        _member("127.0.0.1", b"b") as (port_b, _),
        _member("127.0.0.1", b"c") as (port_c, _),
    ):
        vip_port = _free_port()
        balancer = lb(
            vip="127.0.0.1",
            listeners=[listener("listener-1", protocol, vip_port)],
            pools=[
                pool(
                    protocol=protocol,
                    algorithm="SOURCE_IP_PORT",
                    members=[
                        member("member-a", "127.0.0.1", port_a),
                        member("member-b", "127.0.0.1", port_b),
                        member("member-c", "127.0.0.1", port_c),
                    ],
                )
            ],
        )
        with _haproxy(render(balancer, AMPHORA, _options(tmp_path), version=1), tmp_path):
            sources = [_free_port() for _ in range(24)]
            first = {sp: _fetch_from(vip_port, sp) for sp in sources}
            again = {sp: _fetch_from(vip_port, sp) for sp in sources}
    assert first == again, "one client address and port must stay on one member"
    assert set(first.values()) == {b"a", b"b", b"c"}, "source ports must spread the load"
