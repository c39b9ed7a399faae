"""Pool bodies and views (Octavia's PoolPOST/SingleCreate/PUT/Response/FullResponse)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, StrictInt
from sqlalchemy import select
from sqlalchemy.orm import object_session

from hydria.api.schemas import healthmonitor as hm_schema
from hydria.api.schemas import member as member_schema
from hydria.api.schemas.common import ids, iso, owned, text
from hydria.api.validation import (
    UUID,
    Body,
    Description,
    IPAddress,
    Name,
    Nested,
    ProjectId,
    Tags,
)
from hydria.core import constants as c
from hydria.db.models import HealthMonitor, Listener, Member, Pool

# RFC 6265 token characters minus those HAProxy reads specially (quotes, '#',
# parentheses, backslash): the name is written into ``req.cook(...)``. Octavia also
# takes '#', "'" and non-ASCII letters, which the renderer would refuse later
# (the load balancer going to ERROR after a 201). ``\Z``, not ``$``, which
# would let a trailing newline through.
CookieName = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9!$%&*+.^_`|~-]+\Z")]

UNSUPPORTED = {
    "healthmonitor": (None,),
    "members": (None, []),
    "tls_container_ref": (None,),
    "ca_tls_container_ref": (None,),
    "crl_container_ref": (None,),
    "tls_enabled": (None, False),
    "tls_ciphers": (None,),
    "tls_versions": (None, []),
    "alpn_protocols": (None, []),
}


def _digits_to_int(value: Any) -> Any:
    # The octavia client sends --session-persistence values as strings
    # ("persistence_timeout=60"), which Octavia's WSME integer type converts.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


class SessionPersistence(Body):
    type: str | None = None
    cookie_name: CookieName | None = None
    persistence_timeout: Annotated[StrictInt, Field(ge=0, le=2**31 - 1),
                                   BeforeValidator(_digits_to_int)] | None = None
    persistence_granularity: IPAddress | None = None


class _TLSOptions(Body):
    tls_container_ref: Any = None
    ca_tls_container_ref: Any = None
    crl_container_ref: Any = None
    tls_enabled: Any = None
    tls_ciphers: Any = None
    tls_versions: Any = None
    alpn_protocols: Any = None


class _PoolFields(_TLSOptions):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool = True
    session_persistence: SessionPersistence | None = None
    tags: Tags | None = None


class PoolPOST(_PoolFields):
    listener_id: UUID | None = None
    loadbalancer_id: UUID | None = None
    protocol: str
    lb_algorithm: str
    project_id: ProjectId | None = None
    healthmonitor: Any = None
    members: Any = None


class PoolSingleCreate(Nested, _PoolFields):
    """A pool of a fully populated load balancer, with its members and monitor.

    Given as a listener's ``default_pool`` with nothing but a ``name``, it refers
    to a pool defined elsewhere in the request, so protocol and algorithm may be
    missing here; the graph create asks for them where the pool is defined.
    """

    protocol: str | None = None
    lb_algorithm: str | None = None
    healthmonitor: hm_schema.HealthMonitorSingleCreate | None = None
    members: list[member_schema.MemberSingleCreate] | None = None


# What a pool inside a fully populated load balancer may carry beyond PoolPOST.
SINGLE_CREATE_UNSUPPORTED = {k: v for k, v in UNSUPPORTED.items()
                             if k not in ("healthmonitor", "members")}


class PoolPUT(_TLSOptions):
    name: Name | None = None
    description: Description | None = None
    admin_state_up: StrictBool | None = None
    lb_algorithm: str | None = None
    session_persistence: SessionPersistence | None = None
    tags: Tags | None = None


PUT_DEFAULTS: dict[str, Any] = {"admin_state_up": True, "tags": [],
                                "session_persistence": None}


def _persistence(sp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sp:
        return None
    return {
        "type": sp.get("type"),
        "cookie_name": sp.get("cookie_name"),
        "persistence_timeout": sp.get("persistence_timeout"),
        "persistence_granularity": sp.get("persistence_granularity"),
    }


def listeners_of(pool: Pool) -> list[Listener]:
    session = object_session(pool)
    if session is None:
        return []
    return list(session.scalars(
        select(Listener).where(Listener.default_pool_id == pool.id,
                               Listener.provisioning_status != c.DELETED)
        .order_by(Listener.created_at)))


def full_view(pool: Pool, members: list[Member], hm: HealthMonitor | None) -> dict[str, Any]:
    """A pool as a fully populated create answers it: members and monitor in full.

    Like Octavia's PoolFullResponse it has no ``loadbalancers`` (the pool sits
    inside its load balancer) and no ``healthmonitor_id``.
    """
    out = view(pool)
    del out["loadbalancers"], out["healthmonitor_id"]
    out["members"] = [member_schema.view(m) for m in members]
    out["healthmonitor"] = hm_schema.full_view(hm) if hm is not None else None
    return out


def view(pool: Pool) -> dict[str, Any]:
    hm = pool.health_monitor
    return {
        "id": pool.id,
        "name": text(pool.name),
        "description": text(pool.description),
        "provisioning_status": pool.provisioning_status,
        "operating_status": pool.operating_status,
        "admin_state_up": pool.admin_state_up,
        "protocol": pool.protocol,
        "lb_algorithm": pool.lb_algorithm,
        "session_persistence": _persistence(pool.session_persistence),
        **owned(pool.project_id),
        "loadbalancers": [{"id": pool.load_balancer_id}],
        "listeners": ids(listeners_of(pool)),
        "created_at": iso(pool.created_at),
        "updated_at": iso(pool.updated_at),
        "healthmonitor_id": hm.id if hm is not None and hm.provisioning_status != c.DELETED
        else None,
        "members": ids(pool.members),
        "tags": list(pool.tags or []),
        "tls_container_ref": None,
        "ca_tls_container_ref": None,
        "crl_container_ref": None,
        "tls_enabled": pool.tls_enabled,
        "tls_ciphers": None,
        "tls_versions": None,
        "alpn_protocols": None,
    }
