"""An amphora's addresses read over rtnetlink, in the caller's process.

``ip -j addr show`` is a process, and every change of a load balancer asks for
an amphora's addresses (a plug looks before it acts): on a busy host a process
start costs tens of ms. The kernel answers the same dump over a netlink socket
in well under a millisecond; opened from a thread that joined the amphora's
namespace (``iproute.run_in_ns``), the socket is that namespace's.

``parse_addresses`` is pure (netlink messages in, addresses out); ``dump`` does
the one request.
"""

from __future__ import annotations

import socket
import struct

_NLMSG = struct.Struct("=LHHLL")  # nlmsghdr: length, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # length, type

NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2


def _align(n: int) -> int:
    return (n + 3) & ~3


def parse_addresses(data: bytes, names: dict[int, str]) -> tuple[dict[str, set[str]], bool]:
    """Pure: ``RTM_NEWADDR`` messages to ``{interface: {"address/prefix"}}`` (the
    ``local`` address, as ``ip`` shows it), and whether the dump is done.
    ``names``: interface index to name. Raises ``OSError`` on a netlink error."""
    found: dict[str, set[str]] = {}
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
        if length < _NLMSG.size:
            break
        if kind == NLMSG_DONE:
            return found, True
        if kind == NLMSG_ERROR:
            (errno,) = struct.unpack_from("=i", data, offset + _NLMSG.size)
            raise OSError(-errno, f"rtnetlink: {-errno}")
        if kind == RTM_NEWADDR:
            body = offset + _NLMSG.size
            family, prefixlen, _f, _scope, index = _IFADDRMSG.unpack_from(data, body)
            attrs: dict[int, bytes] = {}
            at = body + _IFADDRMSG.size
            while at + _RTATTR.size <= offset + length:
                size, attr = _RTATTR.unpack_from(data, at)
                if size < _RTATTR.size:
                    break
                attrs[attr] = data[at + _RTATTR.size : at + size]
                at += _align(size)
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw is not None and family in (socket.AF_INET, socket.AF_INET6):
                name = names.get(index, str(index))
                found.setdefault(name, set()).add(f"{socket.inet_ntop(family, raw)}/{prefixlen}")
        offset += _align(length)
    return found, False


def dump() -> dict[str, set[str]]:
    """Every interface of the caller's network namespace and its ``address/prefix``
    strings (an interface without any maps to an empty set). Raises ``OSError``."""
    names = dict(socket.if_nameindex())
    found: dict[str, set[str]] = {name: set() for name in names.values()}
    request = _NLMSG.pack(
        _NLMSG.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    ) + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.send(request)
        done = False
        while not done:
            part, done = parse_addresses(sock.recv(1 << 16), names)
            for name, addresses in part.items():
                found.setdefault(name, set()).update(addresses)
    return found
