"""What the VIP subnet carried around a failover, with kernel timestamps.

``bench/failover.py`` kills an amphora and times the first 200 through the VIP;
that one figure hides where the time goes. This recorder listens on the VIP
subnet's bridge (promiscuous, so frames forwarded between the bridge's ports
reach it too; an ``AF_PACKET`` socket, no tcpdump needed) and keeps, with the
kernel's receive time (``SO_TIMESTAMPNS``, the same clock as ``time.time()``):

- VRRP adverts (IP protocol 112): who sent one and when. A BACKUP sends none,
  so the survivor's first advert after the kill is the moment it became
  MASTER, and the victim's last one is where its down timer started;
- gratuitous ARP for the VIP (sender address = target address): the survivor
  announcing the VIP's new MAC;
- TCP segments from the VIP's port 80 with SYN+ACK or RST: the first SYN+ACK
  from the survivor's MAC is the first connection it took; and the client's
  SYNs: its first after the gratuitous ARP says whether a late first
  connection was the client's own lateness (a busy host) or the network's;
- on the management bridge, UDP datagrams to the health port: what heartbeats
  cost (packets per second per amphora, bytes each).

``breakdown`` turns one run's frames into those instants; the bench prints
their percentiles. Linux only, root.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass

_ETH_P_ALL = 0x0003
_SOL_PACKET = 263
_PACKET_ADD_MEMBERSHIP = 1
_PACKET_MR_PROMISC = 1
_SO_TIMESTAMPNS = 35
_VRRP = 112
_TCP = 6
_UDP = 17
_SYN, _RST, _ACK = 0x02, 0x04, 0x10


@dataclass(frozen=True)
class Frame:
    at: float  # kernel receive time, epoch seconds
    kind: str  # "vrrp", "garp", "syn", "synack", "rst", "udp" (to ``udp_port``)
    src_mac: str
    src_ip: str
    size: int = 0  # bytes on the wire (Ethernet frame, no FCS)


def parse(at: float, data: bytes, *, udp_port: int | None = None) -> Frame | None:
    """The frame as one of the kinds above, or None (pure)."""
    if len(data) < 14:
        return None
    src_mac = data[6:12].hex(":")
    ethertype = struct.unpack("!H", data[12:14])[0]
    if ethertype == 0x0806 and len(data) >= 42:
        sender, target = data[28:32], data[38:42]
        if sender == target:
            return Frame(at, "garp", src_mac, socket.inet_ntoa(sender))
        return None
    if ethertype != 0x0800 or len(data) < 34:
        return None
    ihl = (data[14] & 0x0F) * 4
    proto = data[23]
    src_ip = socket.inet_ntoa(data[26:30])
    if proto == _VRRP:
        return Frame(at, "vrrp", src_mac, src_ip)
    if proto == _UDP and udp_port is not None and len(data) >= 14 + ihl + 8:
        if struct.unpack("!H", data[14 + ihl + 2 : 14 + ihl + 4])[0] == udp_port:
            return Frame(at, "udp", src_mac, src_ip, len(data))
        return None
    if proto == _TCP and len(data) >= 14 + ihl + 14:
        tcp = data[14 + ihl :]
        sport = struct.unpack("!H", tcp[0:2])[0]
        flags = tcp[13]
        if sport == 80 and flags & _SYN and flags & _ACK:
            return Frame(at, "synack", src_mac, src_ip)
        if sport == 80 and flags & _RST:
            return Frame(at, "rst", src_mac, src_ip)
        dport = struct.unpack("!H", tcp[2:4])[0]
        if dport == 80 and flags & _SYN and not flags & _ACK:
            return Frame(at, "syn", src_mac, src_ip)
    return None


class Recorder:
    """Records frames on ``bridge`` in a thread until ``close()``; ``udp_port``:
    datagrams to that port too (heartbeats on the management bridge)."""

    def __init__(self, bridge: str, *, udp_port: int | None = None) -> None:
        self.udp_port = udp_port
        self.frames: list[Frame] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ALL))
        self._sock.bind((bridge, 0))
        mreq = struct.pack("iHH8s", socket.if_nametoindex(bridge), _PACKET_MR_PROMISC, 0, b"")
        self._sock.setsockopt(_SOL_PACKET, _PACKET_ADD_MEMBERSHIP, mreq)
        self._sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, anc, _flags, _addr = self._sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            except OSError:
                return
            at = 0.0
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    at = sec + nsec / 1e9
            frame = parse(at, data, udp_port=self.udp_port)
            if frame is not None:
                with self._lock:
                    self.frames.append(frame)

    def between(self, start: float, end: float) -> list[Frame]:
        with self._lock:
            return [f for f in self.frames if start <= f.at <= end]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


@dataclass(frozen=True)
class Breakdown:
    """Seconds from the kill (negative: before it)."""

    last_advert: float | None  # the victim's last advert: its peer's down timer starts
    became_master: float | None  # the survivor's first advert
    garp: float | None  # the survivor's first gratuitous ARP for the VIP
    syn_after_garp: float | None  # the client's first SYN after that ARP
    first_synack: float | None  # the survivor's first SYN+ACK from the VIP
    refused: int  # RSTs from the VIP between the kill and the survivor's first SYN+ACK


def breakdown(
    frames: list[Frame], *, killed: float, victim_ip: str, survivor_ip: str, vip: str
) -> Breakdown:
    """Where one run's time went (pure)."""

    def first(kind: str, *, ip: str | None = None, mac: str | None = None) -> float | None:
        for f in frames:
            if f.at >= killed and f.kind == kind and ip in (None, f.src_ip):
                if mac in (None, f.src_mac):
                    return f.at - killed
        return None

    before = [f.at for f in frames if f.kind == "vrrp" and f.src_ip == victim_ip]
    survivor_macs = {f.src_mac for f in frames if f.kind == "vrrp" and f.src_ip == survivor_ip}
    synack = None
    for f in frames:
        if f.at >= killed and f.kind == "synack" and f.src_mac in survivor_macs:
            synack = f.at - killed
            break
    cutoff = killed + synack if synack is not None else float("inf")
    garp = first("garp", ip=vip)
    syn_after = None
    if garp is not None:
        for f in frames:
            if f.kind == "syn" and f.at >= killed + garp:
                syn_after = f.at - killed
                break
    return Breakdown(
        last_advert=(max(before) - killed) if before else None,
        became_master=first("vrrp", ip=survivor_ip),
        garp=garp,
        syn_after_garp=syn_after,
        first_synack=synack,
        refused=sum(1 for f in frames if f.kind == "rst" and killed <= f.at < cutoff),
    )
