"""Load balancer bodies and views (Octavia's LoadBalancerPOST/PUT/Response/FullResponse)."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool

from hydria.api.schemas import listener as listener_schema
from hydria.api.schemas import pool as pool_schema
from hydria.api.schemas.common import ids, iso, owned, text
from hydria.api.validation import UUID, Body, Description, IPAddress, Name, ProjectId, Tags
from hydria.db.models import HealthMonitor, Listener, LoadBalancer, Member, Pool


class LoadBalancerPOST(Body):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool = True
    vip_address: IPAddress | None = None
    vip_port_id: UUID | None = None
    vip_subnet_id: UUID | None = None
    vip_network_id: UUID | None = None
    vip_qos_policy_id: UUID | None = None
    vip_sg_ids: list[UUID] | None = None
    additional_vips: list[dict[str, Any]] | None = None
    project_id: ProjectId | None = None
    listeners: list[listener_schema.ListenerSingleCreate] | None = None
    pools: list[pool_schema.PoolSingleCreate] | None = None
    provider: str | None = None
    tags: Tags | None = None
    flavor_id: UUID | None = None
    availability_zone: Name | None = None


class LoadBalancerPUT(Body):
    name: Name | None = None
    description: Description | None = None
    vip_qos_policy_id: UUID | None = None
    admin_state_up: StrictBool | None = None
    vip_sg_ids: list[UUID] | None = None
    tags: Tags | None = None


def full_view(lb: LoadBalancer, listeners: list[Listener],
              pools: list[tuple[Pool, list[Member], HealthMonitor | None]]) -> dict[str, Any]:
    """The answer to a create: listeners and pools as full objects, not ids.

    Octavia answers its create with LoadBalancerFullResponse; GET shows ids.
    The children are passed in the order the request gave them.
    """
    out = view(lb)
    out["listeners"] = [listener_schema.full_view(li) for li in listeners]
    out["pools"] = [pool_schema.full_view(p, members, hm) for p, members, hm in pools]
    return out


def view(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "id": lb.id,
        "name": text(lb.name),
        "description": text(lb.description),
        "provisioning_status": lb.provisioning_status,
        "operating_status": lb.operating_status,
        "admin_state_up": lb.admin_state_up,
        **owned(lb.project_id),
        "created_at": iso(lb.created_at),
        "updated_at": iso(lb.updated_at),
        "vip_address": lb.vip_address,
        "vip_port_id": lb.vip_port_id,
        "vip_subnet_id": lb.vip_subnet_id,
        "vip_network_id": lb.vip_network_id,
        "vip_qos_policy_id": lb.vip_qos_policy_id,
        "vip_sg_ids": [],
        "vip_vnic_type": "normal",
        "additional_vips": [],
        "listeners": ids(lb.listeners),
        "pools": ids(lb.pools),
        "provider": lb.provider,
        "flavor_id": lb.flavor_id,
        "availability_zone": lb.availability_zone,
        "tags": list(lb.tags or []),
    }
