"""The ``netns`` network driver plugs an amphora's ports once: every later change
of its load balancer (each one plugs again, idempotently) looks at the
namespace's addresses over rtnetlink and the host's links in sysfs, starts no
process and finds nothing to do. Real namespace, bridges and veths of the
test's own, removed even on failure."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hydria.drivers.network import iproute, names
from hydria.drivers.network.base import SubnetPort
from hydria.drivers.network.netns import FLOW_LOG_QUEUE, ManagementNet, NetnsNetwork, _plugged
from tests.support import netns_lab

VIP_PORT = SubnetPort("5e1e0000-0000-4000-8000-00000000aaaa", "10.254.31.0/24", "10.254.31.20")


def test_a_port_counts_as_plugged_only_with_its_address_and_the_vip() -> None:
    dev = names.inside_port(VIP_PORT.subnet_id)
    both = {dev: {"10.254.31.20/24", "10.254.31.5/24"}}
    assert _plugged(both, VIP_PORT, "10.254.31.5")
    assert _plugged(both, VIP_PORT)
    assert not _plugged({dev: {"10.254.31.20/24"}}, VIP_PORT, "10.254.31.5")
    assert not _plugged({}, VIP_PORT)
    assert not _plugged(both, SubnetPort(VIP_PORT.subnet_id, VIP_PORT.cidr))  # no address


@pytest.fixture
def amp_ns() -> Iterator[str]:
    amp_id = str(uuid.uuid4())
    try:
        iproute.ensure_ns(names.namespace(amp_id))
        yield amp_id
    finally:
        iproute.delete_ns(names.namespace(amp_id))
        for name in (
            names.host_port_veth(amp_id, VIP_PORT.subnet_id),
            names.host_port_veth(amp_id, MEMBERS.subnet_id),
            names.subnet_bridge(VIP_PORT.subnet_id),
            names.subnet_bridge(MEMBERS.subnet_id),
        ):
            iproute.delete_link(name)


MEMBERS = SubnetPort("5e1e0000-0000-4000-8000-00000000bbbb", "10.254.32.0/24", "10.254.32.20")


@pytest.mark.netns
@pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2")
def test_plugging_again_is_one_look(amp_ns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = NetnsNetwork(ManagementNet("unused", "10.254.30.0/24", "10.254.30.1"))
    driver.plug_vip(amp_ns, "10.254.31.5", VIP_PORT)
    driver.plug_members(amp_ns, [MEMBERS], vip_subnet_id=VIP_PORT.subnet_id)
    seen = iproute.addresses_by_link(names.namespace(amp_ns))
    assert {"10.254.31.20/24", "10.254.31.5/24"} <= seen[names.inside_port(VIP_PORT.subnet_id)]
    assert "10.254.32.20/24" in seen[names.inside_port(MEMBERS.subnet_id)]

    calls: list[list[str]] = []
    real = subprocess.run

    def counted(cmd: list[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(cmd))
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(iproute.subprocess, "run", counted)
    driver.plug_vip(amp_ns, "10.254.31.5", VIP_PORT)
    driver.plug_members(amp_ns, [MEMBERS], vip_subnet_id=VIP_PORT.subnet_id)
    # a look inside (rtnetlink), one at the host's links (sysfs): no process at all
    assert calls == []

    # a new port is two calls: the host's side and the amphora's side
    monkeypatch.undo()
    other = SubnetPort("5e1f0000-0000-4000-8000-00000000cccc", "10.254.33.0/24", "10.254.33.20")
    try:
        calls.clear()
        monkeypatch.setattr(iproute.subprocess, "run", counted)
        driver.plug_members(amp_ns, [MEMBERS, other], vip_subnet_id=VIP_PORT.subnet_id)
        # (and the new subnet's bridge is made, once)
        bridge = names.subnet_bridge(other.subnet_id)
        port_calls = [c for c in calls if bridge not in c]
        assert [c[-2:] for c in port_calls] == [["-batch", "-"], ["-batch", "-"]], calls
        monkeypatch.undo()
        seen = iproute.addresses_by_link(names.namespace(amp_ns))
        assert "10.254.33.20/24" in seen[names.inside_port(other.subnet_id)]
        # and one no member uses any more is unplugged
        driver.plug_members(amp_ns, [MEMBERS], vip_subnet_id=VIP_PORT.subnet_id)
        assert names.inside_port(other.subnet_id) not in iproute.addresses_by_link(
            names.namespace(amp_ns)
        )
    finally:
        iproute.delete_link(names.host_port_veth(amp_ns, other.subnet_id))
        iproute.delete_link(names.subnet_bridge(other.subnet_id))

    # a port that lost its address (or never finished) is plugged again
    monkeypatch.undo()
    iproute.ip(
        "addr",
        "del",
        "10.254.31.5/24",
        "dev",
        names.inside_port(VIP_PORT.subnet_id),
        ns=names.namespace(amp_ns),
    )
    driver.plug_vip(amp_ns, "10.254.31.5", VIP_PORT)
    seen = iproute.addresses_by_link(names.namespace(amp_ns))
    assert "10.254.31.5/24" in seen[names.inside_port(VIP_PORT.subnet_id)]


@pytest.mark.netns
@pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2")
def test_sysctls_are_set_in_the_namespace_only(amp_ns: str) -> None:
    ns = names.namespace(amp_ns)

    def read(key: str, *where: str) -> str:
        cmd = [*where, "sysctl", "-n", key]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

    host = read("net.ipv4.ip_nonlocal_bind")
    wanted = "0" if host == "1" else "1"
    iproute.set_sysctls(ns, {"net.ipv4.ip_nonlocal_bind": wanted})
    assert read("net.ipv4.ip_nonlocal_bind", "ip", "netns", "exec", ns) == wanted
    assert read("net.ipv4.ip_nonlocal_bind") == host  # the host's is untouched
    with pytest.raises(iproute.NetnsError):
        iproute.set_sysctls(ns, {"net.ipv4.no_such_key": "1"})


@pytest.mark.netns
@pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2")
def test_rtnetlink_reads_what_ip_shows(amp_ns: str) -> None:
    """Interfaces with and without addresses, IPv4 and IPv6, several on one: as
    ``ip -j addr show`` has them; a namespace that is gone has none."""
    ns = names.namespace(amp_ns)
    iproute.batch(
        [
            ["link", "add", "t0", "type", "veth", "peer", "name", "t1"],
            ["addr", "add", "10.254.34.9/24", "dev", "t0"],
            ["addr", "add", "10.254.34.10/24", "dev", "t0"],
            ["addr", "add", "fd00:254:34::5/64", "dev", "t0", "nodad"],
            ["link", "set", "t0", "up"],
        ],
        ns=ns,
    )
    out = iproute.ip("-j", "addr", "show", ns=ns)
    shown = {
        i["ifname"]: {f"{a['local']}/{a['prefixlen']}" for a in i.get("addr_info", [])}
        for i in json.loads(out)
    }
    read = iproute.addresses_by_link(ns)
    assert read == shown
    assert {"10.254.34.9/24", "10.254.34.10/24", "fd00:254:34::5/64"} <= read["t0"]
    assert read["t1"] == set()
    assert iproute.addresses_by_link("hyd-gone0000") == {}


@pytest.mark.netns
@pytest.mark.skipif(not netns_lab.can_use_netns(), reason="needs root and iproute2")
def test_the_management_plug_gives_the_flow_log_a_deep_queue(amp_ns: str) -> None:
    """HAProxy sends the agent one datagram per request; with the kernel's default
    queue of 10 a busy amphora dropped up to 29 % of its flow log lines."""
    bridge = f"hyt-mg{uuid.uuid4().hex[:6]}"
    mgmt = ManagementNet(bridge, "10.254.33.0/24", "10.254.33.1")
    try:
        mgmt.plug(amp_ns, "10.254.33.20")
        ns = names.namespace(amp_ns)
        cmd = ["ip", "netns", "exec", ns, "sysctl", "-n", "net.unix.max_dgram_qlen"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        assert int(out) == FLOW_LOG_QUEUE
    finally:
        iproute.delete_link(names.host_mgmt_veth(amp_ns))
        iproute.delete_link(bridge)
