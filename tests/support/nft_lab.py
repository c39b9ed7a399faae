"""A lab for the nftables UDP engine, in namespaces a test makes, for either family.

client ns --veth-- amphora ns (VIP, the agent's ``UdpStore``, its probes, the
table) --veth-- member ns (two UDP echo back-ends on two addresses). ``V4`` and
``V6`` are the two address plans; ``tests/agent/test_nft_live.py`` and
``test_nft_live_ipv6.py`` run the engine on each. Every namespace is removed,
even on failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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

T = TypeVar("T")
PORT, MEMBER_PORT = 5353, 7001

# a test module's ``pytestmark``: it starts processes in namespaces of its own
MARKS = [
    pytest.mark.integration,
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None or shutil.which("ip") is None,
        reason="needs root, nft and ip",
    ),
]


@dataclass(frozen=True)
class Plan:
    """One family's addresses (all on /``prefix`` networks) and names."""

    family: socket.AddressFamily
    nft_family: str
    prefix: int
    vip: str
    client: str
    amp_client_side: str
    amp_member_side: str
    members: dict[str, str]
    lb_id: str
    tag: str  # the namespaces' prefix
    # more addresses of the client (IPv6: one in the same /64, a persistence key)
    client_extra: tuple[str, ...] = field(default=())


V4 = Plan(
    socket.AF_INET,
    "ip",
    24,
    vip="10.70.201.10",
    client="10.70.201.2",
    amp_client_side="10.70.201.1",
    amp_member_side="10.70.202.1",
    members={"a": "10.70.202.2", "b": "10.70.202.3"},
    lb_id="lb-nft-1",
    tag="hydu",
)
V6 = Plan(
    socket.AF_INET6,
    "ip6",
    64,
    vip="fd40:201::10",
    client="fd40:201::2",
    amp_client_side="fd40:201::1",
    amp_member_side="fd40:202::1",
    members={"a": "fd40:202::a", "b": "fd40:202::b"},
    lb_id="lb-nft6-1",
    tag="hyd6",
    client_extra=("fd40:201::3",),
)


@dataclass
class Lab:
    plan: Plan
    amp: str
    client: str
    member: str
    store: UdpStore
    echoes: dict[str, UDPEchoBackend]

    def in_amp(self, fn: Callable[..., T], *args: Any) -> T:
        return call_in(self.amp, fn, *args)

    def ask(self, n: int = 1, source: str | None = None) -> list[str | None]:
        """``n`` datagrams from the client (a new socket each), the names answering."""
        vip, sender = self.plan.vip, source or self.plan.client

        def go() -> list[str | None]:
            out = []
            for _ in range(n):
                answer = udp_ask(vip, PORT, b"x", timeout=1.0, source=sender)
                out.append(None if answer is None else answer.split(":", 1)[0])
            return out

        return call_in(self.client, go)

    def client_socket(self) -> socket.socket:
        """Made in the client's namespace: a socket stays in the one it was made in."""

        def make() -> socket.socket:
            sock = socket.socket(self.plan.family, socket.SOCK_DGRAM)
            sock.bind((self.plan.client, 0))
            sock.settimeout(1.0)
            return sock

        return call_in(self.client, make)

    def ask_on(self, sock: socket.socket) -> str | None:
        """One datagram on a socket the test keeps (one flow): the name answering."""
        sock.sendto(b"x", (self.plan.vip, PORT))
        try:
            return sock.recv(65535).decode().split(":", 1)[0]
        except (TimeoutError, ConnectionRefusedError):
            return None

    def start_echo(self, name: str) -> None:
        self.echoes[name] = call_in(
            self.member, UDPEchoBackend, name, self.plan.members[name], MEMBER_PORT
        )

    def apply(self, lb: g.LoadBalancer, version: int) -> None:
        doc = render_nft(lb, version=version)
        assert doc.engine == ENGINE_NFT
        assert doc.nft is not None and doc.nft.family == self.plan.nft_family
        self.in_amp(self.store.apply, doc, version)

    def report(self) -> dict[str, Any]:
        return self.in_amp(self.store.report)

    def in_map(self, name: str) -> bool:
        """Does the applied ruleset send new flows to member ``name``?"""
        return f"goto lli1_mm{name}" in self.store.nft.file.read_text()

    def member_word(self, name: str) -> str:
        return str(self.report()["pools"]["p-1"]["members"][f"m-{name}"])

    def lb(
        self,
        *,
        algorithm: str = "ROUND_ROBIN",
        persistence: g.SessionPersistence | None = None,
        monitor: bool = True,
        timeout_client_data: int = 50000,
    ) -> g.LoadBalancer:
        """One UDP listener on ``PORT`` and a pool of the two echo back-ends."""
        hm = (
            g.HealthMonitor(
                id="hm-1", type="UDP-CONNECT", delay=1, timeout=1, max_retries=1, max_retries_down=1
            )
            if monitor
            else None
        )
        return g.LoadBalancer(
            id=self.plan.lb_id,
            vip_address=self.plan.vip,
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
                        for name, address in self.plan.members.items()
                    ),
                ),
            ),
        )

    def empty_lb(self) -> g.LoadBalancer:
        return g.LoadBalancer(id=self.plan.lb_id, vip_address=self.plan.vip)


@contextlib.contextmanager
def running(plan: Plan, folder: Path) -> Iterator[Lab]:
    """The three namespaces, the two echo back-ends and the amphora's ``UdpStore``."""
    tag = uuid.uuid4().hex[:4]
    amp, client, member = f"{plan.tag}{tag}a", f"{plan.tag}{tag}c", f"{plan.tag}{tag}m"
    made: list[str] = []
    echoes: dict[str, UDPEchoBackend] = {}
    store: UdpStore | None = None
    ip_family = "-6" if plan.family == socket.AF_INET6 else "-4"
    try:
        for ns in (amp, client, member):
            ip("netns", "add", ns)
            made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", amp, "link", "add", "c0", "type", "veth", "peer", "name", "eth0", "netns", client)
        ip("-n", amp, "link", "add", "m0", "type", "veth", "peer", "name", "eth0", "netns", member)
        for ns, dev, addresses in (
            (amp, "c0", (plan.amp_client_side, plan.vip)),
            (amp, "m0", (plan.amp_member_side,)),
            (client, "eth0", (plan.client, *plan.client_extra)),
            (member, "eth0", tuple(plan.members.values())),
        ):
            for address in addresses:
                extra = ["nodad"] if plan.family == socket.AF_INET6 else []  # usable at once
                ip(
                    "-n",
                    ns,
                    ip_family,
                    "addr",
                    "add",
                    f"{address}/{plan.prefix}",
                    "dev",
                    dev,
                    *extra,
                )
            ip("-n", ns, "link", "set", dev, "up")
        store = UdpStore(folder, nft=NftTable(folder, own_network=True))
        lab = Lab(plan, amp, client, member, store, echoes)
        for name in plan.members:
            lab.start_echo(name)
        yield lab
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
