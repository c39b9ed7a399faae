"""Octavia's load balancer (``/v2/lbaas/loadbalancers``)."""

from __future__ import annotations

from typing import Any

from hydria.core.resources import common as std
from hydria.core.resources.field import Child, Field, Resource, Show
from hydria.core.resources.types import UUID, IPAddress, Name

LOADBALANCER = Resource(
    "Load Balancer",
    "loadbalancer",
    "loadbalancers",
    (
        *std.HEAD,
        std.PROJECT,
        std.TENANT,
        std.CREATED,
        std.UPDATED,
        Field("vip_address", IPAddress, create=True, filter=True),
        Field("vip_port_id", UUID, create=True, filter=True),
        Field("vip_subnet_id", UUID, create=True, filter=True),
        Field("vip_network_id", UUID, create=True, filter=True),
        Field("vip_qos_policy_id", UUID, create=True, update=True, off=(None,), filter=True),
        Field(
            "vip_sg_ids", list[UUID], [], create=True, update=True, off=(None, []), show=Show.CONST
        ),
        Field("vip_vnic_type", default="normal", show=Show.CONST),
        Field("additional_vips", list[dict[str, Any]], [], create=True, show=Show.LIST),
        Field("listeners", child=Child("listener", many=True), create=True, show=Show.RELATED),
        Field("pools", child=Child("pool", many=True), create=True, show=Show.RELATED),
        Field("provider", str, create=True, filter=True),
        Field("flavor_id", UUID, create=True, filter=True),
        Field("availability_zone", Name, create=True, filter=True),
        std.TAGS,
    ),
    check_order=(
        "name",
        "description",
        "admin_state_up",
        "vip_address",
        "vip_port_id",
        "vip_subnet_id",
        "vip_network_id",
        "vip_qos_policy_id",
        "vip_sg_ids",
        "additional_vips",
        "project_id",
        "listeners",
        "pools",
        "provider",
        "tags",
        "flavor_id",
        "availability_zone",
    ),
)
