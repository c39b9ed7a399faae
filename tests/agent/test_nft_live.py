"""The nftables UDP engine for real, in namespaces this test makes.

client ns --veth-- amphora ns (VIP, the agent's UdpStore, its probes, the table)
--veth-- member ns (two UDP echo back-ends on two addresses). Datagrams from the
client to the VIP are balanced by the kernel: ROUND_ROBIN spreads, SOURCE_IP and
SOURCE_IP persistence stick, persistence_timeout expires (and every datagram
refreshes it), a member whose back-end stops is taken out by the UDP-CONNECT
probe and put back when it answers again, statistics move, and the table goes
with the configuration. Every namespace is removed, even on failure.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.render.nft import render_nft
from tests.support import nft_lab
from tests.support.nft_lab import PORT, V4, Lab
from tests.support.wait import wait_for

pytestmark = nft_lab.MARKS


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with nft_lab.running(V4, tmp_path / "udp") as made:
        yield made


def test_round_robin_probe_takes_a_dead_member_out_and_back_stats_move(lab: Lab) -> None:
    lab.apply(lab.lb(), 1)
    assert Counter(lab.ask(8)) == {"a": 4, "b": 4}  # numgen inc: one flow each in turn
    listener = lab.report()["listeners"]["li-1"]
    assert listener["status"] == "OPEN"
    assert listener["total_connections"] == 8
    assert listener["bytes_in"] > 0 and listener["bytes_out"] > 0
    assert listener["active_connections"] >= 1  # conntrack still holds the flows

    lab.echoes.pop("b").stop()  # the kernel now answers port-unreachable: UDP-CONNECT fails
    wait_for(lambda: lab.member_word("b") == "DOWN", what="member b DOWN", interval=0.1)
    # the probe reports DOWN, then applies the ruleset without b: wait for that too
    wait_for(lambda: not lab.in_map("b"), what="b out of the map", interval=0.1)
    assert lab.ask(6) == ["a"] * 6
    assert lab.report()["pools"]["p-1"]["status"] == "UP"

    lab.start_echo("b")
    wait_for(lambda: lab.member_word("b") == "UP", what="member b UP", interval=0.1)
    wait_for(lambda: lab.in_map("b"), what="b back in the map", interval=0.1)
    assert set(lab.ask(6)) == {"a", "b"}
    after = lab.report()["listeners"]["li-1"]
    assert after["total_connections"] == 20  # counters survive every re-applied ruleset
    assert after["bytes_in"] > listener["bytes_in"]


def test_a_client_that_keeps_its_socket_leaves_a_dead_member(lab: Lab) -> None:
    """The rules choose a member for a flow's first datagram only; the kernel sends
    the rest after the flow's conntrack entry. Once the probe takes the member out,
    its flows are deleted, so the same socket's next datagram reaches the live
    member instead of the dead one until the entry times out (each datagram would
    refresh it)."""
    if lab.store.nft.conntrack is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the conntrack tool is missing (scripts/install installs it)")
        pytest.skip("needs the conntrack tool")
    lab.apply(lab.lb(), 1)
    sock = lab.client_socket()
    try:
        first = lab.ask_on(sock)
        assert first in V4.members
        assert lab.ask_on(sock) == first  # one flow, one member
        other = next(name for name in V4.members if name != first)
        lab.echoes.pop(first).stop()
        wait_for(
            lambda: lab.member_word(first) == "DOWN", what=f"member {first} DOWN", interval=0.1
        )
        wait_for(lambda: not lab.in_map(first), what=f"{first} out of the map", interval=0.1)
        assert lab.ask_on(sock) == other
    finally:
        sock.close()


def _flows_to_listener() -> list[int]:
    """Seconds left on each conntrack entry to the listener (the amphora's namespace)."""
    left = []
    for line in Path("/proc/thread-self/net/nf_conntrack").read_text().splitlines():
        parts = line.split()
        if parts[2] == "udp" and f"dst={V4.vip}" in parts and f"dport={PORT}" in parts:
            left.append(int(parts[4]))
    return left


def test_timeout_client_data_ends_an_idle_flow(lab: Lab) -> None:
    """The listener's ``timeout_client_data`` is its flows' conntrack timeout, answered
    or not: a client that keeps its socket and stays silent longer starts a new
    flow, which ROUND_ROBIN gives the other member. With the kernel's own timeouts
    the answered flow would live 120 s (this test would wait 30 s and fail)."""
    lab.apply(lab.lb(monitor=False, timeout_client_data=2000), 1)
    sock = lab.client_socket()
    try:
        first = lab.ask_on(sock)
        assert first in V4.members
        assert lab.ask_on(sock) == first  # answered: the kernel alone would keep it 120 s
        left = lab.in_amp(_flows_to_listener)
        assert len(left) == 1 and left[0] <= 2, left
        wait_for(
            lambda: not lab.in_amp(_flows_to_listener), what="the idle flow ends", interval=0.1
        )
        other = next(name for name in V4.members if name != first)
        assert lab.ask_on(sock) == other
    finally:
        sock.close()


def test_source_ip_sticks(lab: Lab) -> None:
    lab.apply(lab.lb(algorithm="SOURCE_IP", monitor=False), 1)
    assert len(set(lab.ask(10))) == 1


def test_persistence_sticks_is_refreshed_and_expires(lab: Lab) -> None:
    timeout = 2
    persistence = g.SessionPersistence("SOURCE_IP", persistence_timeout=timeout)
    lab.apply(lab.lb(persistence=persistence, monitor=False), 1)
    first = lab.ask(5)
    assert len(set(first)) == 1 and first[0] is not None
    asked = 5
    # datagrams keep the entry alive well past the timeout
    refresh_until = time.monotonic() + 2 * timeout
    while time.monotonic() < refresh_until:
        assert lab.ask() == [first[0]]
        asked += 1
        time.sleep(timeout / 4)
    plan = render_nft(lab.lb(persistence=persistence, monitor=False), version=1).nft
    assert plan is not None
    # the flows the persistence entry sent (not the algorithm) carry their member's
    # mark too: every datagram is counted, on that member
    assert lab.in_amp(lab.store.nft.member_packets, plan) == {
        f"m-{first[0]}": asked,
        **{f"m-{name}": 0 for name in V4.members if name != first[0]},
    }

    def sticky_entries() -> int:
        items = lab.in_amp(lab.store.nft.listing, plan.table)
        return sum(len(i["map"].get("elem", ())) for i in items if "map" in i)

    assert sticky_entries() == 1
    wait_for(lambda: sticky_entries() == 0, what="the persistence entry expires", interval=0.1)
    # scheduled afresh: ROUND_ROBIN's next turn is the other member
    assert lab.ask() != [first[0]]


def test_a_configuration_without_udp_removes_the_table(lab: Lab) -> None:
    lab.apply(lab.lb(monitor=False), 1)
    table = render_nft(lab.lb(), version=1).nft
    assert table is not None
    assert lab.in_amp(lab.store.nft.exists, table.table)
    lab.in_amp(lab.store.apply, render_nft(lab.empty_lb(), version=2), 2)
    assert not lab.in_amp(lab.store.nft.exists, table.table)
    assert lab.ask() == [None]
