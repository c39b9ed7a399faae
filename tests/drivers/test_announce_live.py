"""A VIP that moved to a new port is announced: a client's neighbour entry for it
takes the new MAC at once, without the client sending anything (real namespaces
on a bridge of the test's own; the announcer runs as the netns driver runs it, from a
thread that joined the namespace, and as a process started there).

Without the announcement the client keeps the old MAC (STALE) and sends its next
packets to a port that is gone until its neighbour probe times out."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.drivers.network import garp
from tests.support import netns_lab
from tests.support.netns_lab import Lab

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2"),
]


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab()
    try:
        yield lab
    finally:
        lab.cleanup()


def _mac(lab: Lab, ns: str) -> str:
    return lab.run(ns, "cat", "/sys/class/net/eth0/address").stdout.strip()


def _neighbour(lab: Lab, ns: str, address: str) -> str:
    """The client's entry for ``address``: "<mac> <state>" ("" if it has none)."""
    out = lab.run(ns, "ip", "neigh", "show", address, "dev", "eth0").stdout.split()
    return f"{out[out.index('lladdr') + 1]} {out[-1]}" if "lladdr" in out else ""


@pytest.mark.parametrize("sender", ["process", "thread"])
@pytest.mark.parametrize(
    ("client", "vip", "prefix"),
    [("10.253.77.250", "10.253.77.5", 24), ("fd73:77::fa", "fd73:77::5", 64)],
    ids=["ipv4-garp", "ipv6-unsolicited-na"],
)
def test_a_moved_vip_is_announced_to_the_client(
    lab: Lab, client: str, vip: str, prefix: int, sender: str
) -> None:
    bridge = lab.bridge(f"hydbr-a{lab.tag}")
    c = lab.host("c", bridge, f"{client}/{prefix}")
    old = lab.host("o", bridge, f"{vip}/{prefix}")
    assert lab.run(c, "ping", "-c", "1", "-W", "3", vip).returncode == 0
    assert _neighbour(lab, c, vip).split()[0] == _mac(lab, old)

    # the old port dies (as a fenced or deleted amphora's), the VIP comes up on a new one
    netns_lab.ip("-n", old, "link", "set", "eth0", "down")
    new = lab.host("n", bridge, "10.253.78.1/24")
    netns_lab.ip("-n", new, "addr", "add", f"{vip}/{prefix}", "dev", "eth0", "nodad")
    assert _mac(lab, new) != _mac(lab, old)
    if sender == "process":  # python -m in the namespace
        sent = lab.run(new, sys.executable, "-m", "hydria.drivers.network.garp", "eth0", vip)
        assert sent.returncode == 0, sent.stderr
    else:  # a thread of this process enters it (as the netns driver does)
        here = os.readlink("/proc/thread-self/ns/net")
        garp.announce_in(Path("/run/netns") / new, "eth0", vip)
        assert os.readlink("/proc/thread-self/ns/net") == here  # only that thread moved

    deadline = time.monotonic() + 5
    while (seen := _neighbour(lab, c, vip)).split()[:1] != [_mac(lab, new)]:
        assert time.monotonic() < deadline, f"the client still has {seen!r} for {vip}"
        time.sleep(0.05)
