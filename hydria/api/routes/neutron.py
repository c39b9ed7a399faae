"""A read-only slice of Neutron's API: the VIP subnets and their networks.

The ``openstack`` CLI and openstacksdk resolve ``--vip-subnet-id NAME`` and
``--vip-network-id NAME`` through the network endpoint; with
``--os-endpoint`` (noauth) that endpoint is this server. Subnets are operator
data (``hydria subnet ...``) shared by every project, like a shared network.
Bodies use Neutron's envelopes and attribute names; only equality filters on
the listed attributes and ``fields`` are supported.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from hydria.api.deps import Services
from hydria.services import subnets as service

router = APIRouter()


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def _common(row: Any) -> dict[str, Any]:
    """What every Neutron resource carries: its id, name and project (also as the older
    ``tenant_id``), and Neutron's standard attributes (Hydria keeps no description,
    tags or revisions of its subnets and networks)."""
    return {
        "id": row.id,
        "name": row.name,
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "description": "",
        "tags": [],
        "revision_number": 0,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at or row.created_at),
    }


def subnet_view(s: Any) -> dict[str, Any]:
    return {
        **_common(s),
        "network_id": s.network_id,
        "ip_version": s.ip_version,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "allocation_pools": [{"start": s.allocation_start, "end": s.allocation_end}],
        "enable_dhcp": False,
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "segment_id": None,
        "service_types": [],
        "shared": True,
    }


def network_view(n: Any) -> dict[str, Any]:
    return {
        **_common(n),
        "admin_state_up": True,
        "status": "ACTIVE",
        "shared": True,
        "mtu": 1500,
        "subnets": [s.id for s in n.subnets],
        "router:external": False,
        "availability_zone_hints": [],
        "availability_zones": [],
        "ipv4_address_scope": None,
        "ipv6_address_scope": None,
        "port_security_enabled": True,
    }


def _matches(item: dict[str, Any], request: Request) -> bool:
    for key in set(request.query_params) - {
        "fields",
        "limit",
        "marker",
        "sort_key",
        "sort_dir",
        "page_reverse",
    }:
        if key not in item:
            continue
        wanted = request.query_params.getlist(key)
        if str(item[key]) not in wanted and not (
            isinstance(item[key], bool) and str(item[key]).lower() in wanted
        ):
            return False
    return True


def _fields(item: dict[str, Any], request: Request) -> dict[str, Any]:
    fields = [f for v in request.query_params.getlist("fields") for f in v.split(",") if f]
    return {k: v for k, v in item.items() if k in fields} if fields else item


VIEWS = {"subnet": subnet_view, "network": network_view}


def _list(kind: str, request: Request, env: Services) -> dict[str, Any]:
    items = service.list_all(env, kind, VIEWS[kind])
    return {f"{kind}s": [_fields(i, request) for i in items if _matches(i, request)]}


def _show(kind: str, key: str, request: Request, env: Services) -> dict[str, Any]:
    return {kind: _fields(service.show(env, kind, key, VIEWS[kind]), request)}


def _serve(kind: str) -> None:
    """``GET /<kind>s`` and ``GET /<kind>s/{id}``, as Neutron reads each collection."""

    def list_items(request: Request, env: Services) -> dict[str, Any]:
        return _list(kind, request, env)

    def show_item(item_id: str, request: Request, env: Services) -> dict[str, Any]:
        return _show(kind, item_id, request, env)

    router.add_api_route(f"/{kind}s", list_items, methods=["GET"], name=f"list_{kind}s")
    router.add_api_route(f"/{kind}s/{{item_id}}", show_item, methods=["GET"], name=f"show_{kind}")


for _kind in VIEWS:
    _serve(_kind)
