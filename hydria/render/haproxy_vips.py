"""Octavia's ``additional_vips`` in HAProxy: every frontend binds each of them too.

A dual-stack load balancer has its VIP on one subnet and an additional VIP on
another subnet of the same network (an IPv6 one beside an IPv4 one, say).
Each listener answers on all of them at its one port: the frontend's ``bind``
line is repeated with the address swapped, its options kept as they are (so
whatever a listener's bind carries applies to every VIP alike).
"""

from __future__ import annotations

import ipaddress

from hydria.render import values as v


def additional_binds(bind: str, addresses: tuple[str, ...]) -> tuple[str, ...]:
    """``bind`` (``addr:port [options]``) once per address in ``addresses``."""
    first, _, options = bind.partition(" ")
    port = first.rsplit(":", 1)[1]
    rest = f" {options}" if options else ""
    return tuple(f"{v.host(ip)}:{port}{rest}" for ip in _ips(addresses))


def _ips(addresses: tuple[str, ...]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [v.ip(a, "additional VIP") for a in addresses]
