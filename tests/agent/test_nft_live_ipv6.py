"""The nftables UDP engine on an IPv6 VIP, for real, in namespaces this test makes.

client ns --veth-- amphora ns (IPv6 VIP, the agent's UdpStore, its probes, an
``ip6`` table) --veth-- member ns (two UDP echo back-ends on two IPv6
addresses). The IPv4 twin is ``test_nft_live.py``; this one proves the same
behaviour over IPv6: the kernel balances and NATs the datagrams, statistics and
live flows are counted (conntrack writes IPv6 addresses in full), a member
whose back-end stops is taken out and its flows deleted, SOURCE_IP persistence
with an IPv6 netmask sticks, ``timeout_client_data`` ends an idle flow, and the
table goes with the configuration. Every namespace is removed, even on failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hydria.agent.nft import NftTable
from hydria.agent.udp import UdpStore
from hydria.core import graph as g
from hydria.core.udp import ENGINE_NFT
from hydria.render.nft import render_nft
from tests.support.netns_lab import ip, kill_namespace
from tests.support.netns_thread import call_in
from tests.support.udp_echo import UDPEchoBackend, udp_ask

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None,
        reason="needs root, nft and ip",
    ),
]

T = TypeVar("T")
VIP, CLIENT, AMP_CLIENT_SIDE = "fd40:201::10", "fd40:201::2", "fd40:201::1"
# a second client address in the same /64: one persistence key with a /64 mask
CLIENT_TWIN = "fd40:201::3"
AMP_MEMBER_SIDE = "fd40:202::1"
MEMBERS = {"a": "fd40:202::a", "b": "fd40:202::b"}
PORT, MEMBER_PORT = 5353, 7001


@dataclass
class Lab:
    amp: str
    client: str
    member: str
    store: UdpStore
    echoes: dict[str, UDPEchoBackend]

    def in_amp(self, fn: Callable[..., T], *args: Any) -> T:
        return call_in(self.amp, fn, *args)

    def ask(self, n: int = 1, source: str = CLIENT) -> list[str | None]:
        def go() -> list[str | None]:
            out = []
            for _ in range(n):
                answer = udp_ask(VIP, PORT, b"x", timeout=1.0, source=source)
                out.append(None if answer is None else answer.split(":", 1)[0])
            return out

        return call_in(self.client, go)

    def start_echo(self, name: str) -> None:
        self.echoes[name] = call_in(self.member, UDPEchoBackend, name, MEMBERS[name], MEMBER_PORT)

    def apply(self, lb: g.LoadBalancer, version: int) -> None:
        doc = render_nft(lb, version=version)
        assert doc.engine == ENGINE_NFT and doc.nft is not None and doc.nft.family == "ip6"
        self.in_amp(self.store.apply, doc, version)

    def report(self) -> dict[str, Any]:
        return self.in_amp(self.store.report)


def _until(what: str, check: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    tag = uuid.uuid4().hex[:4]
    amp, client, member = f"hyd6{tag}a", f"hyd6{tag}c", f"hyd6{tag}m"
    made: list[str] = []
    echoes: dict[str, UDPEchoBackend] = {}
    store: UdpStore | None = None
    try:
        for ns in (amp, client, member):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", amp, "link", "add", "c0", "type", "veth", "peer", "name", "eth0", "netns", client)
        ip("-n", amp, "link", "add", "m0", "type", "veth", "peer", "name", "eth0", "netns", member)
        for ns, dev, addresses in (
            (amp, "c0", (AMP_CLIENT_SIDE, VIP)),
            (amp, "m0", (AMP_MEMBER_SIDE,)),
            (client, "eth0", (CLIENT, CLIENT_TWIN)),
            (member, "eth0", tuple(MEMBERS.values())),
        ):
            for address in addresses:  # nodad: usable at once, no duplicate detection wait
                ip("-n", ns, "-6", "addr", "add", f"{address}/64", "dev", dev, "nodad")
            ip("-n", ns, "link", "set", dev, "up")
        folder = tmp_path / "udp"
        store = UdpStore(folder, nft=NftTable(folder, own_network=True))
        the_lab = Lab(amp, client, member, store, echoes)
        for name in MEMBERS:
            the_lab.start_echo(name)
        yield the_lab
    finally:
        if store is not None:
            try:
                call_in(amp, store.remove)
            finally:
                store.prober.stop()
        for echo in echoes.values():
            echo.stop()
        for ns in made:
            kill_namespace(ns)  # its table, veths and conntrack go with it


def _lb(
    *,
    algorithm: str = "ROUND_ROBIN",
    persistence: g.SessionPersistence | None = None,
    monitor: bool = True,
    timeout_client_data: int = 50000,
) -> g.LoadBalancer:
    hm = (
        g.HealthMonitor(
            id="hm-1", type="UDP-CONNECT", delay=1, timeout=1, max_retries=1, max_retries_down=1
        )
        if monitor
        else None
    )
    return g.LoadBalancer(
        id="lb-nft6-1",
        vip_address=VIP,
        listeners=(
            g.Listener(
                id="li-1",
                protocol="UDP",
                protocol_port=PORT,
                default_pool_id="p-1",
                timeout_client_data=timeout_client_data,
            ),
        ),
        pools=(
            g.Pool(
                id="p-1",
                protocol="UDP",
                lb_algorithm=algorithm,
                health_monitor=hm,
                session_persistence=persistence,
                members=tuple(
                    g.Member(id=f"m-{name}", address=address, protocol_port=MEMBER_PORT)
                    for name, address in MEMBERS.items()
                ),
            ),
        ),
    )


def _in_map(lab: Lab, name: str) -> bool:
    return f"goto lli1_mm{name}" in lab.store.nft.file.read_text()


def _member_word(lab: Lab, name: str) -> str:
    return str(lab.report()["pools"]["p-1"]["members"][f"m-{name}"])


def _client_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind((CLIENT, 0))
    sock.settimeout(1.0)
    return sock


def _ask_on(sock: socket.socket) -> str | None:
    sock.sendto(b"x", (VIP, PORT))
    try:
        return sock.recv(65535).decode().split(":", 1)[0]
    except (TimeoutError, ConnectionRefusedError):
        return None


def test_round_robin_stats_and_a_dead_members_flows_move(lab: Lab) -> None:
    lab.apply(_lb(), 1)
    assert Counter(lab.ask(8)) == {"a": 4, "b": 4}
    listener = lab.report()["listeners"]["li-1"]
    assert listener["status"] == "OPEN"
    assert listener["total_connections"] == 8
    assert listener["bytes_in"] > 0 and listener["bytes_out"] > 0
    # conntrack writes fd40:0201:0000:...: the live flows are still found by the VIP
    assert listener["active_connections"] >= 1

    if lab.store.nft.conntrack is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the conntrack tool is missing (scripts/install installs it)")
        pytest.skip("needs the conntrack tool")
    sock = call_in(lab.client, _client_socket)
    try:
        first = _ask_on(sock)
        assert first in MEMBERS and _ask_on(sock) == first  # one flow, one member
        other = next(name for name in MEMBERS if name != first)
        lab.echoes.pop(first).stop()
        _until(f"member {first} DOWN", lambda: _member_word(lab, first) == "DOWN")
        _until(f"{first} out of the map", lambda: not _in_map(lab, first))
        # its IPv6 flows were deleted (conntrack -f ipv6): the same socket moves
        assert _ask_on(sock) == other
    finally:
        sock.close()
    assert lab.ask(4) == [other] * 4
    lab.start_echo(first)
    _until(f"member {first} UP", lambda: _member_word(lab, first) == "UP")
    _until(f"{first} back in the map", lambda: _in_map(lab, first))
    assert set(lab.ask(6)) == {"a", "b"}
    assert lab.report()["listeners"]["li-1"]["total_connections"] > 8


def test_persistence_with_an_ipv6_netmask_sticks_a_whole_prefix(lab: Lab) -> None:
    persistence = g.SessionPersistence(
        "SOURCE_IP", persistence_timeout=30, persistence_granularity="ffff:ffff:ffff:ffff::"
    )
    lab.apply(_lb(persistence=persistence, monitor=False), 1)
    first = lab.ask(4)
    assert len(set(first)) == 1 and first[0] is not None
    # another address of the same /64 is the same key: the same member, where
    # ROUND_ROBIN alone would give it the other one. Its first datagram may go
    # unanswered within the second (seen once in CI at load ~2.5: the amphora
    # learns the new address's neighbour first); it must not reach another member.
    assert lab.ask(1, source=CLIENT_TWIN)[0] in (None, first[0])
    assert lab.ask(4, source=CLIENT_TWIN) == [first[0]] * 4


def _flows_to_listener() -> list[int]:
    """Seconds left on each conntrack entry to the listener (the amphora's namespace)."""
    vip = f"dst={socket.inet_pton(socket.AF_INET6, VIP).hex()}"
    left = []
    for line in Path("/proc/thread-self/net/nf_conntrack").read_text().splitlines():
        parts = line.split()
        full = next((p for p in parts if p.startswith("dst=")), "").replace(":", "")
        if parts[2] == "udp" and full == vip and f"dport={PORT}" in parts:
            left.append(int(parts[4]))
    return left


def test_timeout_client_data_ends_an_idle_flow_and_the_table_goes(lab: Lab) -> None:
    lab.apply(_lb(monitor=False, timeout_client_data=2000), 1)
    sock = call_in(lab.client, _client_socket)
    try:
        first = _ask_on(sock)
        assert first in MEMBERS and _ask_on(sock) == first
        left = lab.in_amp(_flows_to_listener)
        assert len(left) == 1 and left[0] <= 2, left
        _until("the idle flow ends", lambda: not lab.in_amp(_flows_to_listener))
        assert _ask_on(sock) == next(name for name in MEMBERS if name != first)
    finally:
        sock.close()
    plan = render_nft(_lb(), version=1).nft
    assert plan is not None
    assert lab.in_amp(lab.store.nft.exists, plan.table, "ip6")
    empty = g.LoadBalancer(id="lb-nft6-1", vip_address=VIP)
    lab.in_amp(lab.store.apply, render_nft(empty, version=2), 2)
    assert not lab.in_amp(lab.store.nft.exists, plan.table, "ip6")
    assert lab.ask() == [None]
