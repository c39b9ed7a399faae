"""``netns`` network: Linux bridges as networks, veths as ports.

The management network (Octavia's ``lb-mgmt-net``) is one bridge with the
controllers' address on its host side (as Octavia's ``o-hm0``): agents are
reached there and heartbeats arrive there. Every VIP or member subnet is a
bridge of its own with no host address, so tenant traffic never reaches the
host and the host never routes between subnets (nothing is forwarded).

An amphora's port on a subnet is a veth: one end on the subnet's bridge, the
other in the amphora's namespace with its own address (Octavia's
``vrrp_ip``) and, for the VIP port, the VIP as a second address.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from hydria.drivers.network import garp, iproute, names
from hydria.drivers.network.base import SubnetPort

log = logging.getLogger("hydria.netns")


def with_prefix(address: str, cidr: str) -> str:
    return f"{address}/{ipaddress.ip_network(cidr, strict=False).prefixlen}"


# Unix datagrams queued for the agent's flow log socket (systemd's default too)
FLOW_LOG_QUEUE = 512


@dataclass(frozen=True)
class ManagementNet:
    """The management bridge and its host-side address (``host_ip`` in ``cidr``)."""

    bridge: str
    cidr: str
    host_ip: str

    def ensure(self) -> None:
        iproute.ensure_bridge(self.bridge)
        iproute.ensure_address(self.bridge, with_prefix(self.host_ip, self.cidr))

    def plug(self, amphora_id: str, address: str) -> None:
        """The amphora's management port, and its agent and sshd reachable there only.

        Linux accepts a packet for any local address on any interface (the weak
        host model), so a client on a VIP subnet that routes the management
        address through the VIP port would reach the agent. Policy rules in the
        amphora's namespace let packets for the management address in through
        the management port (and from the amphora itself) and refuse the rest.
        """
        ns = names.namespace(amphora_id)
        self.ensure()
        iproute.ensure_veth(names.host_mgmt_veth(amphora_id), ns, names.INSIDE_MGMT, self.bridge)
        iproute.ensure_address(names.INSIDE_MGMT, with_prefix(address, self.cidr), ns=ns)
        rules = iproute.ip("rule", "show", ns=ns)
        if "prohibit" not in rules:
            host = f"{address}/{ipaddress.ip_address(address).max_prefixlen}"
            iproute.ip(
                "rule",
                "add",
                "pref",
                "10",
                "to",
                host,
                "iif",
                names.INSIDE_MGMT,
                "lookup",
                "local",
                ns=ns,
            )
            iproute.ip(
                "rule", "add", "pref", "11", "to", host, "iif", "lo", "lookup", "local", ns=ns
            )
            iproute.ip("rule", "add", "pref", "12", "to", host, "prohibit", ns=ns)
            iproute.ip("rule", "add", "pref", "100", "lookup", "local", ns=ns)
            iproute.ip("rule", "del", "pref", "0", ns=ns, check=False)
        # answer ARP only for addresses of the interface asked on; HAProxy may bind
        # the VIP before it is plugged (the controller plugs while HAProxy starts,
        # and keepalived holds it in ACTIVE_STANDBY); HAProxy's flow log reaches the
        # agent as one Unix datagram per request, and the kernel's default queue of
        # 10 drops lines whenever the agent waits for a CPU (set before the agent
        # opens its socket: a socket takes the queue length it is created with)
        iproute.set_sysctls(
            ns,
            {
                "net.ipv4.conf.all.arp_ignore": "1",
                "net.ipv4.conf.all.arp_announce": "2",
                "net.ipv4.ip_forward": "0",
                "net.ipv4.ip_nonlocal_bind": "1",
                "net.ipv6.ip_nonlocal_bind": "1",
                "net.unix.max_dgram_qlen": str(FLOW_LOG_QUEUE),
            },
        )


def announce_vip(ns: str, dev: str, vip_address: str) -> None:
    """Tell the VIP subnet the VIP's new MAC address (a rebuilt SINGLE amphora's
    port is a new one): gratuitous ARP (IPv4) or an unsolicited neighbour
    advertisement (IPv6) from inside the amphora, best effort: from a thread
    that enters the namespace (no process to start, on a failover's path), else
    from a process started in it."""
    try:
        garp.announce_in(iproute.NETNS_DIR / ns, dev, vip_address)
        return
    except OSError as exc:
        log.info("event=garp_in_process_failed namespace=%s reason=%s", ns, exc)
    try:
        iproute.in_ns(
            ns, sys.executable, "-P", "-m", "hydria.drivers.network.garp", dev, vip_address
        )
    except iproute.NetnsError as exc:
        log.warning("event=garp_failed namespace=%s vip=%s reason=%s", ns, vip_address, exc)


class NetnsNetwork:
    plugs_ports = True

    def __init__(self, management: ManagementNet) -> None:
        self.management = management

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: SubnetPort, *, hold_vip: bool = True
    ) -> None:
        ns = names.namespace(amphora_id)
        dev = names.inside_port(port.subnet_id)
        seen = iproute.addresses_by_link(ns)
        if hold_vip and _plugged(seen, port, vip_address):
            return  # every change of a load balancer plugs again: one look, not ~10 calls
        vip = with_prefix(vip_address, port.cidr) if hold_vip else ""
        announce = bool(vip) and vip not in seen.get(dev, set())
        self._plug(amphora_id, port, seen, vip=vip)
        if announce:
            announce_vip(ns, dev, vip_address)
        if not hold_vip:  # keepalived holds it; HAProxy binds it either way
            iproute.set_sysctls(
                ns, {"net.ipv4.ip_nonlocal_bind": "1", "net.ipv6.ip_nonlocal_bind": "1"}
            )
        log.info(
            "event=vip_plugged amphora=%s vip=%s port=%s", amphora_id, vip_address, port.address
        )

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        ns = names.namespace(amphora_id)
        if not iproute.ns_exists(ns):
            return
        for dev in iproute.links(ns):
            for addr in iproute.addresses(dev, ns):
                if addr.split("/")[0] == vip_address:
                    iproute.remove_address(dev, addr, ns=ns)

    def plug_members(
        self, amphora_id: str, ports: Sequence[SubnetPort], *, vip_subnet_id: str
    ) -> None:
        seen = iproute.addresses_by_link(names.namespace(amphora_id))
        for port in ports:
            if not _plugged(seen, port):
                self._plug(amphora_id, port, seen)
        wanted = {names.host_port_veth(amphora_id, p.subnet_id) for p in ports}
        wanted.add(names.host_port_veth(amphora_id, vip_subnet_id))
        prefix = names.host_port_veth(amphora_id, "")
        for name in iproute.host_links():
            if name.startswith(prefix) and name not in wanted:
                iproute.delete_link(name)  # its peer in the namespace goes with it
                log.info("event=member_port_unplugged amphora=%s port=%s", amphora_id, name)

    def _plug(
        self, amphora_id: str, port: SubnetPort, seen: dict[str, set[str]], *, vip: str = ""
    ) -> None:
        """The port's veth on its subnet's bridge, up, with its address (and ``vip``):
        two calls of ``ip`` (the host's side, the amphora's side) for a new one.
        ``seen`` is what the namespace holds (``addresses_by_link``). The addresses
        come last, so an address found there means the plug before it finished."""
        ns = names.namespace(amphora_id)
        bridge = names.subnet_bridge(port.subnet_id)
        iproute.ensure_bridge(bridge)
        dev = names.inside_port(port.subnet_id)
        host = names.host_port_veth(amphora_id, port.subnet_id)
        outside: list[list[str]] = []
        if dev not in seen:
            if iproute.host_link_exists(host):  # a half-made pair from an interrupted plug
                outside.append(["link", "del", host])
            outside.append(["link", "add", host, "type", "veth", "peer", "name", dev, "netns", ns])
        outside.append(["link", "set", host, "master", bridge, "up"])
        iproute.batch(outside)
        inside = [["link", "set", dev, "up"]]
        for address in (with_prefix(port.address, port.cidr) if port.address else "", vip):
            if address:
                inside.append(["addr", "replace", address, "dev", dev, *iproute.nodad(address)])
        iproute.batch(inside, ns=ns)


def _plugged(seen: dict[str, set[str]], port: SubnetPort, vip_address: str = "") -> bool:
    """Pure: the port's inside end has its address (and the VIP): a plug adds the
    address last, after the veth joined its bridge and came up, so it is done.
    A port without an address of its own is never taken as plugged."""
    if not port.address:
        return False
    want = {with_prefix(port.address, port.cidr)}
    if vip_address:
        want.add(with_prefix(vip_address, port.cidr))
    return want <= seen.get(names.inside_port(port.subnet_id), set())
