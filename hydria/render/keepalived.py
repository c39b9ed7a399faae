"""keepalived configuration for an ACTIVE_STANDBY amphora: a pure function.

Both amphorae start as ``BACKUP`` with ``nopreempt``: the first to win the
election keeps the VIP until it fails, so a rebuilt amphora never takes the
VIP back from a healthy survivor. VRRPv3 over unicast between the two ports'
own addresses (no multicast on the VIP subnet), a sub-second ``advert_int``,
and a check script that asks HAProxy's stats socket whether it answers: an
amphora whose HAProxy is gone gives the VIP up. Additional VIPs (Octavia's
``additional_vips``, maybe of the other address family) move with the VIP, as
``virtual_ipaddress_excluded`` (not in the adverts, which hold one family).

Takeover time, when the MASTER dies outright (no priority-0 advert): the
BACKUP's down timer, ``3 x advert_int + (256 - priority) / 256 x advert_int``
(VRRPv3) counted from the dead MASTER's last advert, then the VIP is added
and the first gratuitous ARP goes at once (``vrrp_garp_master_delay`` only
spaces the later refresh). At ``advert_int`` 0.05 and priority 90 that is
182 ms. keepalived's VRRP process runs at the highest nice priority
(``vrrp_priority -20``): an advert sent late by a MASTER on a busy host looks,
to its peer, like a dead MASTER (a false takeover resets connections), and a
BACKUP scheduled late adds that lateness to every takeover. Not real-time
(``vrrp_rt_priority``): keepalived then caps its CPU time between blocking
calls (``RLIMIT_RTTIME``, 10 ms by default), and on a busy host a reload
overran it and the kernel killed the VRRP process, so the VIP flapped.
The check script runs once a second (keepalived's smallest interval) and
gives the VIP up after two failures: it covers HAProxy dying alone, where
the MASTER's keepalived still advertises.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./-]+$")
#: nice value of keepalived's VRRP process (-20: first among normal tasks)
VRRP_NICE = -20


@dataclass(frozen=True)
class VrrpPeerSet:
    """What one amphora's keepalived needs to know."""

    amphora_id: str
    lb_id: str
    interface: str  # the VIP port inside the amphora
    vip: str
    vip_prefixlen: int
    own_ip: str  # this amphora's address on the VIP subnet (vrrp_ip)
    peer_ips: tuple[str, ...]
    priority: int
    vrrp_id: int = 1
    advert_int: float = 0.05
    check_script: str = ""
    # additional VIPs: (address, prefix length, interface) each
    extra_vips: tuple[tuple[str, int, str], ...] = ()


def render_keepalived(v: VrrpPeerSet) -> str:
    if not _NAME.match(v.interface):
        raise ValueError(f"bad interface name {v.interface!r}")
    for ip in (v.vip, v.own_ip, *v.peer_ips, *(e[0] for e in v.extra_vips)):
        ipaddress.ip_address(ip)
    for _ip, _len, dev in v.extra_vips:
        if not _NAME.match(dev):
            raise ValueError(f"bad interface name {dev!r}")
    if not 1 <= v.priority <= 254 or not 1 <= v.vrrp_id <= 255:
        raise ValueError("priority 1-254 and vrrp_id 1-255")
    if v.check_script and not _PATH.match(v.check_script):
        raise ValueError(f"bad check script path {v.check_script!r}")
    name = "hyd_" + v.lb_id.replace("-", "")[:12]
    lines = [
        "global_defs {",
        f"    router_id amphora-{v.amphora_id[:8]}",
        "    vrrp_version 3",
        "    enable_script_security",
        "    script_user root",
        f"    vrrp_priority {VRRP_NICE}",
        "    vrrp_garp_master_delay 1",
        "    vrrp_garp_master_repeat 3",
        "}",
    ]
    if v.check_script:
        lines += [
            "vrrp_script check_haproxy {",
            f'    script "{v.check_script}"',
            "    interval 1",
            "    timeout 1",
            "    fall 2",
            "    rise 2",
            "}",
        ]
    lines += [
        f"vrrp_instance {name} {{",
        "    state BACKUP",
        "    nopreempt",
        f"    interface {v.interface}",
        f"    virtual_router_id {v.vrrp_id}",
        f"    priority {v.priority}",
        f"    advert_int {v.advert_int:g}",
        f"    unicast_src_ip {v.own_ip}",
        "    unicast_peer {",
        *(f"        {ip}" for ip in v.peer_ips),
        "    }",
        "    virtual_ipaddress {",
        f"        {v.vip}/{v.vip_prefixlen} dev {v.interface}",
        "    }",
    ]
    if v.extra_vips:
        lines += [
            "    virtual_ipaddress_excluded {",
            *(f"        {ip}/{int(n)} dev {dev}" for ip, n, dev in v.extra_vips),
            "    }",
        ]
    if v.check_script:
        lines += ["    track_script {", "        check_haproxy", "    }"]
    lines += ["}", ""]
    return "\n".join(lines)
