"""The network seam: VIP and management plumbing for an amphora.

Address *allocation* is bookkeeping in the database (``hydria.db.addresses``);
this seam makes an allocated address reachable on the amphora. The ``local``
driver needs to do nothing, as all of 127.0.0.0/8 is on the loopback
interface; a namespace or Neutron driver plugs ports here.
"""

from __future__ import annotations

from typing import Protocol


class NetworkDriver(Protocol):
    def plug_vip(self, amphora_id: str, vip_address: str, subnet_cidr: str) -> None:
        ...

    def unplug_vip(self, amphora_id: str, vip_address: str) -> None:
        ...
