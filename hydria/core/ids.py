"""UUIDs Hydria derives where Octavia shows the id of something OpenStack made.

An Octavia amphora names its Nova server (``compute_id``), its Glance image
(``image_id``) and its Neutron ports (``vrrp_port_id``, ``ha_port_id``) by UUID;
clients and conformance tests check that they are UUIDs. Hydria's local drivers
have no such objects, so they derive a stable UUID (version 5) from what they
stand for: the same thing always gets the same id, across restarts and processes.
"""

from __future__ import annotations

import uuid
from typing import Final

NAMESPACE: Final = uuid.UUID("6f1c2b4e-3d0a-4c55-9d3e-7a8b1c2d3e4f")


def derived_id(kind: str, name: str) -> str:
    """The UUID of ``kind`` (e.g. "compute", "image", "vrrp-port") called ``name``."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}/{name}"))
