"""``local`` network: VIPs and management addresses on the loopback interface.

All of 127.0.0.0/8 answers on ``lo`` without any set-up, so plugging a VIP is
nothing to do; HAProxy binds the address directly. (``::1`` is the only IPv6
loopback address, so IPv6 VIP subnets need the ``netns`` driver.)
"""

from __future__ import annotations


class LocalNetwork:
    def plug_vip(self, amphora_id: str, vip_address: str, subnet_cidr: str) -> None:
        return None

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        return None
