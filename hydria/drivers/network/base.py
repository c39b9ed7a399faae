"""The network seam: VIP, member and management plumbing for an amphora.

Address *allocation* is bookkeeping in the database (``hydria.db.addresses``
and ``hydria.db.ports``); this seam makes allocated addresses reachable on the
amphora. The ``local`` driver needs to do nothing, as all of 127.0.0.0/8 is on
the loopback interface; the ``netns`` driver plugs veths into bridges, as
Neutron plugs ports into networks. Every call is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SubnetPort:
    """An amphora's port on a subnet and the address of its own there.

    ``address`` is empty for drivers that need none (``plugs_ports`` False).
    """

    subnet_id: str
    cidr: str
    address: str = ""


class NetworkDriver(Protocol):
    # True: each amphora has a port with an address of its own on the VIP subnet
    # (Octavia's vrrp_ip) and on every member subnet, which the controller allocates
    plugs_ports: bool

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: SubnetPort, *, hold_vip: bool = True
    ) -> None:
        """Plug the VIP-side port; put the VIP on it unless keepalived holds it."""
        ...

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None: ...

    def plug_members(
        self, amphora_id: str, ports: Sequence[SubnetPort], *, vip_subnet_id: str
    ) -> None:
        """Exactly these member ports (Octavia's plug network): missing ones are
        plugged, ports on other subnets (but the VIP's) unplugged."""
        ...
