"""Member bodies and view (Octavia's MemberPOST/SingleCreate/PUT/Response, MembersRootPUT)."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool

from hydria.api.schemas.common import iso, owned
from hydria.api.validation import (
    UUID,
    Body,
    IPAddress,
    Name,
    Nested,
    Port,
    ProjectId,
    Tags,
    Weight,
)
from hydria.db.models import Member


class _MemberFields(Body):
    name: Name | None = None
    admin_state_up: StrictBool = True
    address: IPAddress
    protocol_port: Port
    weight: Weight = 1
    backup: StrictBool = False
    subnet_id: UUID | None = None
    monitor_port: Port | None = None
    monitor_address: IPAddress | None = None
    tags: Tags | None = None
    request_sriov: StrictBool = False


class MemberPOST(_MemberFields):
    project_id: ProjectId | None = None


class MemberSingleCreate(Nested, _MemberFields):
    """A member inside a pool of a fully populated load balancer."""


class MemberPUT(Body):
    name: Name | None = None
    admin_state_up: StrictBool | None = None
    weight: Weight | None = None
    backup: StrictBool | None = None
    monitor_port: Port | None = None
    monitor_address: IPAddress | None = None
    tags: Tags | None = None


PUT_DEFAULTS: dict[str, Any] = {"admin_state_up": True, "weight": 1, "backup": False,
                                "tags": []}


def view(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name if m.name is not None else "",
        "operating_status": m.operating_status,
        "provisioning_status": m.provisioning_status,
        "admin_state_up": m.admin_state_up,
        "address": m.address,
        "protocol_port": m.protocol_port,
        "weight": m.weight,
        "backup": m.backup,
        "subnet_id": m.subnet_id,
        **owned(m.project_id),
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "monitor_address": m.monitor_address,
        "monitor_port": m.monitor_port,
        "tags": list(m.tags or []),
        "vnic_type": "normal",
    }
