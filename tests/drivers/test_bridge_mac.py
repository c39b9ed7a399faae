"""A bridge the netns drivers make keeps its MAC address whatever ports come and go.

Left to itself a Linux bridge takes the lowest MAC of its ports: deleting a dead
amphora's management veth (or plugging a new one with a lower MAC) changed the
MAC of the controllers' address on the management bridge, the amphorae kept
sending heartbeats to the old one, and the failure detector failed over healthy,
freshly rebuilt amphorae. Real bridge and veths of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.drivers.network import iproute
from tests.support import netns_lab


def test_the_mac_is_fixed_per_bridge_name() -> None:
    mac = iproute.bridge_mac("hydbr-t1234")
    assert mac == iproute.bridge_mac("hydbr-t1234") != iproute.bridge_mac("hydbr-t1235")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01  # locally administered, unicast
    assert len(mac.split(":")) == 6


@pytest.fixture
def bridge() -> Iterator[str]:
    name = f"hydbr-m{uuid.uuid4().hex[:6]}"
    made: list[str] = [name]
    try:
        yield name
    finally:
        for link in reversed(made + [f"hyq{name[-6:]}{i}" for i in range(2)]):
            netns_lab.ip("link", "del", link, check=False)


def _mac(name: str) -> str:
    return (Path("/sys/class/net") / name / "address").read_text().strip()


@pytest.mark.netns
@pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2")
def test_ports_coming_and_going_do_not_move_the_bridge_mac(bridge: str) -> None:
    iproute.ensure_bridge(bridge)
    mac = _mac(bridge)
    assert mac == iproute.bridge_mac(bridge)
    # ports with MACs below and above it, as amphorae's veths come and go
    for i, port_mac in enumerate(("02:00:00:00:00:01", "fe:ff:ff:ff:ff:fe")):
        port = f"hyq{bridge[-6:]}{i}"
        netns_lab.ip("link", "add", port, "type", "veth", "peer", "name", port + "p")
        netns_lab.ip("link", "set", port, "address", port_mac)
        netns_lab.ip("link", "set", port, "master", bridge, "up")
        assert _mac(bridge) == mac
    netns_lab.ip("link", "del", f"hyq{bridge[-6:]}0")
    assert _mac(bridge) == mac
    iproute.ensure_bridge(bridge)  # idempotent: a second call changes nothing
    assert _mac(bridge) == mac
