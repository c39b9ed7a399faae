"""Listener bodies and views (Octavia's ListenerPOST/SingleCreate/PUT/Response/FullResponse)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool

from hydria.api.schemas.common import iso, owned, text
from hydria.api.schemas.pool import PoolSingleCreate
from hydria.api.validation import (
    CIDR,
    UUID,
    Body,
    ConnectionLimit,
    Description,
    Name,
    Nested,
    Port,
    ProjectId,
    Tags,
    Timeout,
)
from hydria.core import constants as c
from hydria.db.models import Listener

HeaderValue = Annotated[str, Field(max_length=255)]

# Octavia attributes this release accepts only at their "off" value.
UNSUPPORTED = {
    "default_tls_container_ref": (None,),
    "sni_container_refs": (None, []),
    "default_pool": (None,),
    "l7policies": (None, []),
    "client_ca_tls_container_ref": (None,),
    "client_authentication": (None, "NONE"),
    "client_crl_container_ref": (None,),
    "tls_ciphers": (None,),
    "tls_versions": (None, []),
    "alpn_protocols": (None, []),
    "hsts_max_age": (None,),
    "hsts_include_subdomains": (None, False),
    "hsts_preload": (None, False),
}


class _TLSOptions(Body):
    default_tls_container_ref: Any = None
    sni_container_refs: Any = None
    client_ca_tls_container_ref: Any = None
    client_authentication: Any = None
    client_crl_container_ref: Any = None
    tls_ciphers: Any = None
    tls_versions: Any = None
    alpn_protocols: Any = None
    hsts_max_age: Any = None
    hsts_include_subdomains: Any = None
    hsts_preload: Any = None


class _ListenerFields(_TLSOptions):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool = True
    protocol: str
    protocol_port: Port
    connection_limit: ConnectionLimit = c.DEFAULT_CONNECTION_LIMIT
    default_pool_id: UUID | None = None
    l7policies: Any = None
    insert_headers: dict[str, HeaderValue] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    tags: Tags | None = None
    allowed_cidrs: list[CIDR] | None = None


class ListenerPOST(_ListenerFields):
    project_id: ProjectId | None = None
    default_pool: Any = None
    loadbalancer_id: UUID


class ListenerSingleCreate(Nested, _ListenerFields):
    """A listener of a fully populated load balancer; its default pool inline or by name."""

    default_pool: PoolSingleCreate | None = None


# What a listener inside a fully populated load balancer may carry beyond ListenerPOST.
SINGLE_CREATE_UNSUPPORTED = {k: v for k, v in UNSUPPORTED.items() if k != "default_pool"}


class ListenerPUT(_TLSOptions):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool | None = None
    connection_limit: ConnectionLimit | None = None
    default_pool_id: UUID | None = None
    insert_headers: dict[str, HeaderValue] | None = None
    timeout_client_data: Timeout | None = None
    timeout_member_connect: Timeout | None = None
    timeout_member_data: Timeout | None = None
    timeout_tcp_inspect: Timeout | None = None
    tags: Tags | None = None
    allowed_cidrs: list[CIDR] | None = None


# What a PUT of ``null`` resets a field to.
PUT_DEFAULTS: dict[str, Any] = {
    "admin_state_up": True,
    "connection_limit": c.DEFAULT_CONNECTION_LIMIT,
    "insert_headers": {},
    "timeout_client_data": c.DEFAULT_TIMEOUT_CLIENT_DATA,
    "timeout_member_connect": c.DEFAULT_TIMEOUT_MEMBER_CONNECT,
    "timeout_member_data": c.DEFAULT_TIMEOUT_MEMBER_DATA,
    "timeout_tcp_inspect": c.DEFAULT_TIMEOUT_TCP_INSPECT,
    "tags": [],
    "allowed_cidrs": [],
}


def full_view(li: Listener) -> dict[str, Any]:
    """A listener as a fully populated create answers it: without ``loadbalancers``,
    as Octavia's ListenerFullResponse (the listener sits inside its load balancer)."""
    out = view(li)
    del out["loadbalancers"]
    return out


def view(li: Listener) -> dict[str, Any]:
    return {
        "id": li.id,
        "name": text(li.name),
        "description": text(li.description),
        "provisioning_status": li.provisioning_status,
        "operating_status": li.operating_status,
        "admin_state_up": li.admin_state_up,
        "protocol": li.protocol,
        "protocol_port": li.protocol_port,
        "connection_limit": li.connection_limit,
        "default_tls_container_ref": None,
        "sni_container_refs": [],
        **owned(li.project_id),
        "default_pool_id": li.default_pool_id,
        "l7policies": [],
        "insert_headers": dict(li.insert_headers or {}),
        "created_at": iso(li.created_at),
        "updated_at": iso(li.updated_at),
        "loadbalancers": [{"id": li.load_balancer_id}],
        "timeout_client_data": li.timeout_client_data,
        "timeout_member_connect": li.timeout_member_connect,
        "timeout_member_data": li.timeout_member_data,
        "timeout_tcp_inspect": li.timeout_tcp_inspect,
        "tags": list(li.tags or []),
        "client_ca_tls_container_ref": None,
        "client_authentication": "NONE",
        "client_crl_container_ref": None,
        # Octavia shows null, not [], when a listener has no allowed CIDRs.
        "allowed_cidrs": list(li.allowed_cidrs) if li.allowed_cidrs else None,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
        "hsts_max_age": None,
        "hsts_include_subdomains": False,
        "hsts_preload": False,
    }
