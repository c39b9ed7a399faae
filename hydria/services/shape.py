"""Rows as Octavia's responses show them, field by field from the descriptions.

``shape(resource, row, related)`` walks the resource's shown fields in order
and reads each from the row as its ``Show`` says; ``related`` gives what
only the service knows (the ids of children). The ``*_view`` functions are
the per-resource wrappers the services return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any

from hydria.core import constants as c
from hydria.core.resources import (
    HEALTHMONITOR,
    L7POLICY,
    L7RULE,
    LISTENER,
    LOADBALANCER,
    MEMBER,
    POOL,
)
from hydria.core.resources.field import Field, Resource, Show
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool
from hydria.services.lookup import listeners_of


def iso(value: dt.datetime | None) -> str | None:
    """Octavia prints naive UTC times to the second: ``2024-05-01T12:00:00``."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat()


def ids(rows: Iterable[Any]) -> list[dict[str, str]]:
    """``[{"id": ...}]`` of the rows that are not DELETED, as Octavia's IdOnlyType."""
    return [{"id": r.id} for r in rows if r.provisioning_status != c.DELETED]


def _persistence(sp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sp:
        return None
    return {
        name: sp.get(name)
        for name in ("type", "cookie_name", "persistence_timeout", "persistence_granularity")
    }


def _reader(f: Field) -> Callable[[Any], Any]:
    """How a response reads ``f`` from a row (an object or a Core row alike)."""
    get = attrgetter(f.attr)
    readers: dict[Show, Callable[[Any], Any]] = {
        Show.VALUE: get,
        Show.TEXT: lambda row: _or(get(row), ""),
        Show.TIME: lambda row: iso(get(row)),
        Show.LIST: lambda row: list(get(row) or []),
        Show.DICT: lambda row: dict(get(row) or {}),
        Show.LIST_OR_NULL: lambda row: list(get(row) or []) or None,
        Show.CONST: lambda row: f.default if not isinstance(f.default, list) else [],
        Show.PARENT: lambda row: [{"id": get(row)}],
        Show.PERSISTENCE: lambda row: _persistence(get(row)),
    }
    return readers[f.show]


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


Readers = tuple[tuple[str, Callable[[Any], Any] | None], ...]
# Per resource (by identity, the description kept beside so the id stays its own): its
# shown fields and how each is read (None: a RELATED one, the caller's). Made once, so
# shaping a page of rows does not walk the description's dispatch for every value.
_READERS: dict[int, tuple[Resource, Readers]] = {}


def _readers(resource: Resource) -> Readers:
    found = _READERS.get(id(resource))
    if found is None or found[0] is not resource:
        readers = tuple(
            (f.name, None if f.show is Show.RELATED else _reader(f))
            for f in resource.fields
            if f.shown
        )
        found = _READERS[id(resource)] = (resource, readers)
    return found[1]


def shape(
    resource: Resource,
    row: Any,
    related: Mapping[str, Any] | None = None,
    *,
    omit: Iterable[str] = (),
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    skip = set(omit) if omit else ()
    for name, read in _readers(resource):
        if name in skip:
            continue
        out[name] = (related or {})[name] if read is None else read(row)
    return out


def lb_view(lb: LoadBalancer) -> dict[str, Any]:
    return shape(LOADBALANCER, lb, {"listeners": ids(lb.listeners), "pools": ids(lb.pools)})


def listener_view(li: Listener) -> dict[str, Any]:
    return shape(LISTENER, li, {"l7policies": ids(li.l7policies)})


def l7rule_view(rule: L7Rule) -> dict[str, Any]:
    return shape(L7RULE, rule)


def l7policy_view(policy: L7Policy) -> dict[str, Any]:
    return shape(L7POLICY, policy, {"rules": ids(policy.rules)})


def l7policy_full_view(policy: L7Policy) -> dict[str, Any]:
    """A policy as a fully populated create answers it: its rules in full."""
    return shape(
        L7POLICY,
        policy,
        {"rules": [l7rule_view(r) for r in policy.rules if r.provisioning_status != c.DELETED]},
    )


def member_view(m: Member) -> dict[str, Any]:
    return shape(MEMBER, m)


def hm_view(hm: HealthMonitor) -> dict[str, Any]:
    return shape(HEALTHMONITOR, hm)


def pool_view(pool: Pool) -> dict[str, Any]:
    hm = pool.health_monitor
    return shape(
        POOL,
        pool,
        {
            "listeners": ids(listeners_of(pool)),
            "healthmonitor_id": hm.id
            if hm is not None and hm.provisioning_status != c.DELETED
            else None,
            "members": ids(pool.members),
        },
    )


def pool_full_view(pool: Pool, members: list[Member], hm: HealthMonitor | None) -> dict[str, Any]:
    """A pool as a fully populated create answers it: members and monitor in full.

    Like Octavia's PoolFullResponse it has no ``loadbalancers`` (the pool sits
    inside its load balancer) and no ``healthmonitor_id``.
    """
    out = shape(
        POOL,
        pool,
        {"listeners": ids(listeners_of(pool)), "members": [member_view(m) for m in members]},
        omit=("loadbalancers", "healthmonitor_id"),
    )
    out["healthmonitor"] = shape(HEALTHMONITOR, hm, omit=("pools",)) if hm is not None else None
    return out


def lb_full_view(
    lb: LoadBalancer,
    listeners: list[Listener],
    pools: list[tuple[Pool, list[Member], HealthMonitor | None]],
) -> dict[str, Any]:
    """The answer to a create: listeners and pools as full objects, not ids.

    Octavia answers its create with LoadBalancerFullResponse; GET shows ids.
    The children are passed in the order the request gave them.
    """
    return shape(
        LOADBALANCER,
        lb,
        {
            "listeners": [
                shape(
                    LISTENER,
                    li,
                    {"l7policies": [l7policy_full_view(p) for p in li.l7policies]},
                    omit=("loadbalancers",),
                )
                for li in listeners
            ],
            "pools": [pool_full_view(p, members, hm) for p, members, hm in pools],
        },
    )
