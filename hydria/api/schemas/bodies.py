"""Request bodies made from the resource descriptions (``hydria.core.resources``).

For each resource, three pydantic models come from its one description:

- ``create``: Octavia's ``<Resource>POST``: the fields settable on create,
  the required ones without a default, the others with the description's
  default (``None`` for lists and dicts, filled in by the service);
- ``nested``: Octavia's ``<Resource>SingleCreate``, an object inside a fully
  populated load balancer: the same fields minus the parent ids and
  ``project_id``, children as their own nested bodies, and an explicit
  ``null`` meaning "not given" (``hydria.api.validation.Nested``);
- ``update``: Octavia's ``<Resource>PUT``: every updatable field, optional.

Fields are checked in the resource's ``check_order``: when a body has several
faults, the first one is reported, always the same one.

An Octavia option this release keeps only at an "off" value accepts any
JSON value here; the service refuses the others (``refuse_unsupported``).
The models are built at import, so a description error fails at start-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import create_model

from hydria.api.validation import Body, Nested
from hydria.core.resources import (
    FLAVOR,
    FLAVOR_PROFILE,
    HEALTHMONITOR,
    L7POLICY,
    L7RULE,
    LISTENER,
    LOADBALANCER,
    MEMBER,
    POOL,
    ZONE,
    ZONE_PROFILE,
)
from hydria.core.resources.field import Field, Resource

# A pool given as a listener's ``default_pool`` with nothing but a ``name`` refers
# to a pool defined elsewhere in the request: its protocol and algorithm may be
# missing there (the graph create asks for them where the pool is defined).
_OPTIONAL_WHEN_NESTED = {POOL.root}

_nested: dict[str, type[Body]] = {}


def _child_type(f: Field) -> Any:
    assert f.child is not None
    model = _nested[f.child.root]
    return list[model] if f.child.many else model  # type: ignore[valid-type]  # built at run time


def _plain(value: Any) -> Any:
    """A model default: the description's, except lists and dicts (the service fills those)."""
    return None if isinstance(value, (list, dict)) else value


def _create_field(f: Field, *, nested: bool, optional: bool) -> tuple[Any, Any]:
    if f.child is not None and (nested or f.off is None):
        return (_child_type(f) | None, None)
    if f.off is not None:
        return (f.type | None, None)
    if f.required and not optional:
        return (f.type, ...)
    return (f.type | None, None if f.required else _plain(f.default))


def _build(name: str, base: type[Body], fields: dict[str, tuple[Any, Any]]) -> type[Body]:
    model: type[Body] = create_model(name, __base__=base, **fields)  # type: ignore[call-overload]  # field definitions built from data
    return model


def create_body(resource: Resource) -> type[Body]:
    return _build(
        f"{resource.root}_create",
        Body,
        {
            f.name: _create_field(f, nested=False, optional=False)
            for f in resource.in_check_order()
            if f.create
        },
    )


def nested_body(resource: Resource) -> type[Body]:
    optional = resource.root in _OPTIONAL_WHEN_NESTED
    model = _build(
        f"{resource.root}_nested",
        Nested,
        {
            f.name: _create_field(f, nested=True, optional=optional)
            for f in resource.in_check_order()
            if f.in_nested
        },
    )
    _nested[resource.root] = model
    return model


def update_body(resource: Resource) -> type[Body]:
    return _build(
        f"{resource.root}_update",
        Body,
        {f.name: (f.type | None, None) for f in resource.in_check_order() if f.update},
    )


# Children first: a nested body holds its children's nested bodies.
MemberSingleCreate = nested_body(MEMBER)
HealthMonitorSingleCreate = nested_body(HEALTHMONITOR)
PoolSingleCreate = nested_body(POOL)
L7RuleSingleCreate = nested_body(L7RULE)
L7PolicySingleCreate = nested_body(L7POLICY)
ListenerSingleCreate = nested_body(LISTENER)

LoadBalancerPOST = create_body(LOADBALANCER)
LoadBalancerPUT = update_body(LOADBALANCER)
ListenerPOST = create_body(LISTENER)
ListenerPUT = update_body(LISTENER)
PoolPOST = create_body(POOL)
PoolPUT = update_body(POOL)
MemberPOST = create_body(MEMBER)
MemberPUT = update_body(MEMBER)
HealthMonitorPOST = create_body(HEALTHMONITOR)
HealthMonitorPUT = update_body(HEALTHMONITOR)
L7PolicyPOST = create_body(L7POLICY)
L7PolicyPUT = update_body(L7POLICY)
L7RulePOST = create_body(L7RULE)
L7RulePUT = update_body(L7RULE)
FlavorProfilePOST = create_body(FLAVOR_PROFILE)
FlavorProfilePUT = update_body(FLAVOR_PROFILE)
FlavorPOST = create_body(FLAVOR)
FlavorPUT = update_body(FLAVOR)
ZoneProfilePOST = create_body(ZONE_PROFILE)
ZoneProfilePUT = update_body(ZONE_PROFILE)
ZonePOST = create_body(ZONE)
ZonePUT = update_body(ZONE)
