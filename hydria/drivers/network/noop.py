"""``noop`` network: VIP plumbing that does nothing, for the no-op amphora driver.

Addresses are still allocated in the database as always; nothing is plugged
because no amphora runs (see ``hydria.drivers.compute.noop``).
"""

from __future__ import annotations

from collections.abc import Sequence

from hydria.drivers.network.base import SubnetPort


class NoopNetwork:
    plugs_ports = False

    def plug_vip(
        self, amphora_id: str, vip_address: str, port: SubnetPort, *, hold_vip: bool = True
    ) -> None:
        return None

    def plug_members(
        self, amphora_id: str, ports: Sequence[SubnetPort], *, vip_subnet_id: str
    ) -> None:
        return None

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        return None
