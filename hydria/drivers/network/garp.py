"""Gratuitous ARP for a VIP that moved to another amphora (as keepalived sends on takeover).

A SINGLE amphora rebuilt by a failover puts the VIP on a new port with a new
MAC address; clients on the VIP subnet still have the old one in their ARP
caches and would keep sending there until the entry goes stale and is probed
again (seconds to half a minute). The network driver announces the VIP from
inside the amphora right after plugging it: an ARP request and an ARP reply
with the VIP as sender and target, broadcast, which Linux applies to an entry
it already has. ``frames`` is pure; ``main`` (run inside the namespace, as
``python -m hydria.drivers.network.garp DEV ADDRESS``) sends them. IPv6 VIPs
need none of this: an address added without duplicate detection is announced
by unsolicited neighbour advertisements when ``ndisc_notify`` is set, and
neighbour entries are confirmed far more often.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from pathlib import Path

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


def announce(dev: str, address: str, *, count: int = 2) -> None:
    """Send the frames on ``dev`` (needs CAP_NET_RAW in the namespace of ``dev``)."""
    mac = bytes.fromhex(Path(f"/sys/class/net/{dev}/address").read_text().strip().replace(":", ""))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        for _ in range(count):
            for frame in frames(mac, address):
                s.send(frame)


def main(argv: list[str]) -> int:
    dev, address = argv
    announce(dev, address)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
