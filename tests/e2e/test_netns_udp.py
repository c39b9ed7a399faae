"""UDP through a ``netns`` amphora: the controller picks the nftables engine, the
agent's table in the amphora's namespace balances real datagrams from a client
namespace to echo back-ends in member namespaces, UDP-CONNECT takes a stopped
back-end's member to ERROR and back, statistics reach the API, and the table
goes with the load balancer. The same on an IPv6 VIP with IPv6 members: an
``ip6`` table, which Hydria refused with a 501 before.

The ``net`` fixture (namespaces, bridges, ``hydria up`` with the ``netns``
driver) is test_netns.py's, removed in its ``finally``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.e2e.test_netns import V6, Net, net, v6  # noqa: F401  (the module's fixtures)
from tests.support import netns_lab
from tests.support.netns_thread import call_in
from tests.support.udp_echo import UDPEchoBackend, udp_ask

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netns,
    pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2"),
]
T = TypeVar("T")
PORT, MEMBER_PORT = 5353, 7001


def _until(what: str, check: Callable[[], T], timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} never happened")


def _asker(vip: str, client_ip: str, client_ns: str) -> Callable[[], set[str]]:
    """The names of the back-ends that answer 8 datagrams from the client, each from
    a new socket (a new flow)."""

    def names() -> set[str]:
        def ask() -> set[str]:
            answers = (udp_ask(vip, PORT, b"x", timeout=1.0, source=client_ip) for _ in range(8))
            return {a.split(":", 1)[0] for a in answers if a}

        return call_in(client_ns, ask)

    return names


def _udp_listener_and_pool(
    where: Net, lb_id: str, member_subnet: str, addresses: tuple[str, ...]
) -> tuple[dict, dict, list[dict]]:
    """A UDP listener on ``PORT``, a ROUND_ROBIN pool and a member on ``MEMBER_PORT``
    for each address, through the real CLI, each waiting for ACTIVE."""
    os_ = where.up.openstack
    listener = os_(
        "loadbalancer", "listener", "create", "--protocol", "UDP", "--protocol-port",
        str(PORT), "--wait", lb_id,
    )  # fmt: skip
    pool = os_(
        "loadbalancer", "pool", "create", "--protocol", "UDP", "--lb-algorithm",
        "ROUND_ROBIN", "--listener", listener["id"], "--wait",
    )  # fmt: skip
    members = [
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            address,
            "--subnet-id",
            member_subnet,
            "--protocol-port",
            str(MEMBER_PORT),
            "--wait",
            pool["id"],
        )  # fmt: skip
        for address in addresses
    ]
    return listener, pool, members


def test_udp_on_nftables_in_a_netns_amphora(net: Net) -> None:  # noqa: F811
    member_ns = [f"hydt{net.lab.tag}m{i}" for i in range(2)]
    echoes = [
        call_in(ns, UDPEchoBackend, f"echo-{i}", net.members[i], MEMBER_PORT)
        for i, ns in enumerate(member_ns)
    ]
    client_ip = f"10.251.{net.n}.250"
    os_ = net.up.openstack
    lb = os_("loadbalancer", "create", "--name", "netns-udp", "--vip-subnet-id", "public", "--wait")
    vip = lb["vip_address"]

    names = _asker(vip, client_ip, net.client)
    try:
        listener, pool, members = _udp_listener_and_pool(net, lb["id"], "members", net.members)
        os_(
            "loadbalancer", "healthmonitor", "create", "--type", "UDP-CONNECT", "--delay", "3",
            "--timeout", "1", "--max-retries", "1", "--max-retries-down", "1", "--wait",
            pool["id"],
        )  # fmt: skip
        assert _until("both back-ends answer", lambda: names() == {"echo-0", "echo-1"})

        amphora_ns = "hyd-" + _amphora_id(net, lb["id"]).replace("-", "")[:8]
        tables = netns_lab.ip("netns", "exec", amphora_ns, "nft", "list", "tables", check=False)
        table = "hydria_" + lb["id"].replace("-", "")[:12]
        assert table in tables.split(), tables  # the kernel's NAT serves it, not nginx

        def status(i: int) -> str:
            return str(
                os_("loadbalancer", "member", "show", pool["id"], members[i]["id"])[
                    "operating_status"
                ]
            )

        _until("both members ONLINE", lambda: status(0) == status(1) == "ONLINE")
        echoes[1].stop()
        _until("member 1 ERROR", lambda: status(1) == "ERROR")
        _until("traffic to echo-0 only", lambda: names() == {"echo-0"})
        echoes[1] = call_in(member_ns[1], UDPEchoBackend, "echo-1", net.members[1], MEMBER_PORT)
        _until("member 1 ONLINE again", lambda: status(1) == "ONLINE")
        assert _until("both again", lambda: names() == {"echo-0", "echo-1"})
        _until(
            "listener stats moving",
            lambda: (
                (s := os_("loadbalancer", "listener", "stats", "show", listener["id"]))[
                    "total_connections"
                ]
                > 0
                and s["bytes_in"] > 0
                and s["bytes_out"] > 0
            ),
        )
    finally:
        os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
        for echo in echoes:
            echo.stop()


def test_udp_on_nftables_with_an_ipv6_vip(net: Net, v6: V6) -> None:  # noqa: F811
    member_ns = [f"hydt{net.lab.tag}m6{i}" for i in range(2)]
    echoes = [
        call_in(ns, UDPEchoBackend, f"echo6-{i}", v6.members[i], MEMBER_PORT)
        for i, ns in enumerate(member_ns)
    ]
    client_ip = f"fd70:{net.n:x}::fa"
    os_ = net.up.openstack
    lb = os_(
        "loadbalancer", "create", "--name", "netns-udp6", "--vip-subnet-id", v6.vip_subnet,
        "--wait",
    )  # fmt: skip
    vip = lb["vip_address"]

    names = _asker(vip, client_ip, v6.client)
    try:
        listener, _pool, _members = _udp_listener_and_pool(
            net, lb["id"], v6.member_subnet, tuple(v6.members)
        )
        assert _until("both IPv6 back-ends answer", lambda: names() == {"echo6-0", "echo6-1"})
        amphora_ns = "hyd-" + _amphora_id(net, lb["id"]).replace("-", "")[:8]
        tables = netns_lab.ip("netns", "exec", amphora_ns, "nft", "list", "tables", check=False)
        assert f"table ip6 hydria_{lb['id'].replace('-', '')[:12]}" in tables, tables
        _until(
            "listener stats moving",
            lambda: (
                os_("loadbalancer", "listener", "stats", "show", listener["id"])["bytes_in"] > 0
            ),
        )
    finally:
        os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
        for echo in echoes:
            echo.stop()


def _amphora_id(where: Net, lb_id: str) -> str:
    amps = where.up.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb_id)
    assert len(amps) == 1, amps
    return str(amps[0]["id"])
