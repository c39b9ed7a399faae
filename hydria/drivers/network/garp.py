"""Announce a VIP that moved to another amphora (as keepalived does on takeover).

A SINGLE amphora rebuilt by a failover puts the VIP on a new port with a new
MAC address; clients on the VIP subnet still have the old one in their ARP or
neighbour caches and would keep sending there until the entry goes stale and is
probed again (seconds to half a minute). The network driver announces the VIP
from inside the amphora right after plugging it:

- IPv4: gratuitous ARP, a request and a reply with the VIP as sender and
  target, broadcast, which Linux applies to an entry it already has;
- IPv6: an unsolicited neighbour advertisement (RFC 4861 7.2.6) to all nodes,
  Override set, with the new MAC as the target link-layer address, which
  Linux applies to an entry it already has (and ignores where it has none).
  The kernel does not send one for an address added with ``nodad`` unless
  ``ndisc_notify`` is set on the device at that instant, so it is sent here.

``frames`` and ``neighbour_advert`` are pure; ``announce_in`` sends them
from the caller's process, from a thread that enters the amphora's network
namespace (``setns`` moves only that thread), so a failover does not wait for
a Python process to start (100-400 ms on a busy host); ``main`` (run inside
the namespace, as ``python -m hydria.drivers.network.garp DEV ADDRESS``) is
the same from a process of its own.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import sys
from pathlib import Path

from hydria.drivers.network import iproute

_BROADCAST = b"\xff" * 6
_ETH_P_ARP = 0x0806


def frames(mac: bytes, address: str) -> tuple[bytes, bytes]:
    """The gratuitous ARP request and reply announcing ``address`` at ``mac``."""
    ip = ipaddress.IPv4Address(address).packed
    if len(mac) != 6:
        raise ValueError(f"not a MAC address: {mac.hex()}")
    header = _BROADCAST + mac + struct.pack("!H", _ETH_P_ARP)

    def arp(op: int, target_mac: bytes) -> bytes:
        return header + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac + ip + target_mac + ip

    return arp(1, b"\x00" * 6), arp(2, _BROADCAST)


_NA_TYPE = 136
_NA_OVERRIDE = 0x20000000
_OPT_TARGET_LLADDR = 2
_ALL_NODES = "ff02::1"


def neighbour_advert(mac: bytes, address: str) -> bytes:
    """The ICMPv6 body of an unsolicited neighbour advertisement of ``address`` at
    ``mac``: not a router, not solicited, Override; checksum 0 (the kernel fills
    it in on a raw ICMPv6 socket)."""
    target = ipaddress.IPv6Address(address).packed
    if len(mac) != 6:
        raise ValueError(f"not a MAC address: {mac.hex()}")
    return (
        struct.pack("!BBHI", _NA_TYPE, 0, 0, _NA_OVERRIDE)
        + target
        + struct.pack("!BB", _OPT_TARGET_LLADDR, 1)
        + mac
    )


_SIOCGIFHWADDR = 0x8927
_CLONE_NEWNET = 0x40000000


def _mac(dev: str) -> bytes:
    """``dev``'s MAC address, asked of the kernel of this thread's namespace
    (``/sys`` shows the namespace it was mounted in, not this thread's)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = fcntl.ioctl(s.fileno(), _SIOCGIFHWADDR, struct.pack("256s", dev.encode()[:15]))
    return ifreq[18:24]


def announce_v6(dev: str, address: str, *, count: int = 2) -> None:
    """Send the advertisement from ``address`` on ``dev`` with hop limit 255 (a
    receiver drops any other), to all nodes on the link."""
    ifindex = socket.if_nametoindex(dev)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        s.bind((address, 0, 0, ifindex))
        body = neighbour_advert(_mac(dev), address)
        for _ in range(count):
            s.sendto(body, (_ALL_NODES, 0, 0, ifindex))


def announce(dev: str, address: str, *, count: int = 2) -> None:
    """Send the frames on ``dev`` (needs CAP_NET_RAW in the namespace of ``dev``)."""
    if ipaddress.ip_address(address).version == 6:
        announce_v6(dev, address, count=count)
        return
    mac = _mac(dev)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        for _ in range(count):
            for frame in frames(mac, address):
                s.send(frame)


def announce_in(netns: Path, dev: str, address: str, *, count: int = 2) -> None:
    """``announce`` from inside the network namespace at ``netns`` (a
    ``/run/netns`` file), from a thread of this process that joins it
    (``iproute.run_in_ns``; needs CAP_SYS_ADMIN); raises ``OSError`` if it could not."""
    try:
        iproute.run_in_ns(netns, lambda: announce(dev, address, count=count))
    except OSError as exc:
        raise OSError(f"announce {address} on {dev} in {netns}: {exc}") from exc


def main(argv: list[str]) -> int:
    dev, address = argv
    announce(dev, address)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
