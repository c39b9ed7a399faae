"""``noop`` network: VIP plumbing that does nothing, for the no-op amphora driver.

Addresses are still allocated in the database as always; nothing is plugged
because no amphora runs (see ``hydria.drivers.compute.noop``).
"""

from __future__ import annotations


class NoopNetwork:
    def plug_vip(self, amphora_id: str, vip_address: str, subnet_cidr: str) -> None:
        return None

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        return None
