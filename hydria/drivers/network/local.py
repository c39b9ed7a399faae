"""``local`` network: VIPs and management addresses on the loopback interface.

All of 127.0.0.0/8 answers on ``lo`` without any set-up, so plugging a VIP is
nothing to do; HAProxy binds the address directly, and members are reached
through the host's own routes. (``::1`` is the only IPv6 loopback address, so
IPv6 VIP subnets need the ``netns`` driver.)
"""

from __future__ import annotations

from collections.abc import Sequence

from hydria.drivers.network.base import SubnetPort


class LocalNetwork:
    plugs_ports = False

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: SubnetPort, *, hold_vip: bool = True
    ) -> None:
        return None

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        return None

    def plug_members(
        self, amphora_id: str, ports: Sequence[SubnetPort], *, vip_subnet_id: str
    ) -> None:
        return None
