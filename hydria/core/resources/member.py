"""Octavia's member (``/v2/lbaas/pools/{pool_id}/members``)."""

from __future__ import annotations

from hydria.core import constants as c
from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Field, Resource, Show
from hydria.core.resources.types import UUID, IPAddress, Port, Weight, WsmeBool

MEMBER = Resource(
    "Member",
    "member",
    "members",
    (
        std.ID,
        std.NAME,
        std.OPERATING,
        std.PROVISIONING,
        std.ADMIN,
        Field("address", IPAddress, REQUIRED, create=True, filter=True),
        Field("protocol_port", Port, REQUIRED, create=True, filter=True),
        Field("weight", Weight, c.DEFAULT_WEIGHT, create=True, update=True, filter=True),
        Field("backup", WsmeBool, False, create=True, update=True, filter=True),
        Field("subnet_id", UUID, create=True, filter=True),
        std.PROJECT,
        std.TENANT,
        std.CREATED,
        std.UPDATED,
        Field("monitor_address", IPAddress, create=True, update=True, filter=True),
        Field("monitor_port", Port, create=True, update=True, filter=True),
        std.TAGS,
        Field("vnic_type", default="normal", show=Show.CONST),
        # Refused by the service when true: SR-IOV member ports need a flavor Hydria lacks.
        Field("request_sriov", WsmeBool, False, create=True, shown=False, stored=False),
    ),
    check_order=(
        "name",
        "admin_state_up",
        "address",
        "protocol_port",
        "weight",
        "backup",
        "subnet_id",
        "monitor_port",
        "monitor_address",
        "tags",
        "request_sriov",
        "project_id",
    ),
)
