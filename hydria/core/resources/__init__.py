"""One description of each Octavia resource (see ``field.py``)."""

from hydria.core.resources.catalog import FLAVOR, FLAVOR_PROFILE, FLAVORS, ZONE, ZONE_PROFILE, ZONES
from hydria.core.resources.healthmonitor import HEALTHMONITOR
from hydria.core.resources.l7policy import L7POLICY, L7RULE
from hydria.core.resources.listener import LISTENER
from hydria.core.resources.loadbalancer import LOADBALANCER
from hydria.core.resources.member import MEMBER
from hydria.core.resources.pool import POOL

__all__ = [
    "FLAVOR",
    "FLAVORS",
    "FLAVOR_PROFILE",
    "HEALTHMONITOR",
    "L7POLICY",
    "L7RULE",
    "LISTENER",
    "LOADBALANCER",
    "MEMBER",
    "POOL",
    "ZONE",
    "ZONES",
    "ZONE_PROFILE",
]
