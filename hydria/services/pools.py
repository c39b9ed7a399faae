"""Pools: a set of members behind a load balancer (and maybe a listener)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydria.core import constants as c
from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput
from hydria.core.resources import POOL
from hydria.db import quotas
from hydria.db.models import LoadBalancer, Pool
from hydria.services import change, l7policies, provider, tls, views
from hydria.services.context import RequestContext
from hydria.services.listeners import check_pool_protocol
from hydria.services.lookup import (
    get_lb,
    get_listener,
    get_pool,
    mark_parents_pending,
)
from hydria.services.reads import Reads
from hydria.services.shape import pool_view
from hydria.services.unit import Env, read, write
from hydria.services.validation import choice, given, refuse_unsupported

READS = Reads(Pool, POOL, views.pools)


def _algorithm(value: str) -> str:
    return choice("lb_algorithm", value, c.LB_ALGORITHMS, c.SUPPORTED_LB_ALGORITHMS)


def _persistence(
    sp: Any, protocol: str, current: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Validate session persistence as Octavia does for a ``protocol`` pool; None clears it.

    ``current`` is the pool's persistence on an update (``{}`` when it has none).
    UDP and SCTP pools keep ``persistence_timeout`` and ``persistence_granularity``
    (the UDP engine's stickiness), and take no cookie.
    """
    if sp is None:
        return None
    kind = sp.type if sp.type is not None else (current or {}).get("type")
    if kind is None:
        raise InvalidInput(
            "Invalid input for field/attribute type. Value: 'None'. Mandatory field missing."
        )
    choice(
        "session_persistence.type", kind, c.SESSION_PERSISTENCE_TYPES, c.SESSION_PERSISTENCE_TYPES
    )
    protocols.check_persistence(
        protocol, {**sp.model_dump(), "type": kind}, update=current is not None
    )
    if protocol in protocols.L4_PROTOCOLS:
        return {
            "type": kind,
            "cookie_name": None,
            "persistence_timeout": sp.persistence_timeout,
            "persistence_granularity": sp.persistence_granularity,
        }
    if sp.cookie_name and kind != c.SESSION_PERSISTENCE_APP_COOKIE:
        raise InvalidInput(
            'Validation failure: Field "cookie_name" can only be specified '
            'with session persistence of type "APP_COOKIE".'
        )
    if not sp.cookie_name and kind == c.SESSION_PERSISTENCE_APP_COOKIE:
        raise InvalidInput(
            'Validation failure: Field "cookie_name" must be specified when '
            'using the "APP_COOKIE" session persistence type.'
        )
    return {
        "type": kind,
        "cookie_name": sp.cookie_name,
        "persistence_timeout": None,
        "persistence_granularity": None,
    }


@dataclass(frozen=True)
class CheckedPool:
    """What ``check_pool`` made of a request: the values a new pool row takes."""

    protocol: str
    lb_algorithm: str
    session_persistence: dict[str, Any] | None


def check_pool(req: Any, *, compute_driver: str, nested: bool = False) -> CheckedPool:
    """The checks that need no database (``protocol`` and ``lb_algorithm`` given);
    ``compute_driver``: whose amphorae would serve it."""
    refuse_unsupported(req, POOL.unsupported(nested=nested))
    assert req.protocol is not None and req.lb_algorithm is not None
    protocol = choice("protocol", req.protocol, c.POOL_PROTOCOLS, c.SUPPORTED_POOL_PROTOCOLS)
    served = provider.served(compute_driver)
    protocols.check_served(protocol, served)
    algorithm = _algorithm(req.lb_algorithm)
    protocols.check_udp_algorithm(protocol, algorithm, served)
    tls.check_pool_rules(req.model_dump())
    return CheckedPool(
        protocol=protocol,
        lb_algorithm=algorithm,
        session_persistence=_persistence(req.session_persistence, protocol),
    )


def new_pool(lb: LoadBalancer, req: Any, checked: CheckedPool) -> Pool:
    """The row of a new pool on ``lb``, in PENDING_CREATE."""
    values = POOL.create_columns(req.model_dump())
    values.update(
        protocol=checked.protocol,
        lb_algorithm=checked.lb_algorithm,
        session_persistence=checked.session_persistence,
    )
    tls.pool_defaults(values, tls_enabled=bool(values.get("tls_enabled")))
    return change.new_row(Pool, lb, values)


def create_pool(env: Env, ctx: RequestContext, req: Any) -> dict[str, Any]:
    """A new pool (``req``: a ``PoolPOST``), its listener's default pool if one is named."""
    ctx.owner_for_create(req.project_id)
    checked = check_pool(req, compute_driver=env.settings.compute_driver)
    if req.loadbalancer_id is None and req.listener_id is None:
        raise InvalidInput(
            "Validation failure: Must provide at least one of: loadbalancer_id, listener_id"
        )
    if any(req.model_dump().get(name) for name in tls.POOL_REFS):
        # the store is read outside the write transaction (the embedded one is in
        # this database: a read inside it would wait for its own lock)
        with read(env) as session:
            if req.listener_id is not None:
                project_id = get_listener(session, req.listener_id, ctx).project_id
            else:
                project_id = get_lb(session, req.loadbalancer_id, ctx).project_id
        tls.check_material(env.secrets, tls.POOL, req.model_dump(), ctx.secret_access(project_id))
    with write(env) as unit:
        session = unit.session
        listener = None
        if req.listener_id is not None:
            listener = get_listener(session, req.listener_id, ctx)
            if req.loadbalancer_id not in (None, listener.load_balancer_id):
                raise InvalidInput(
                    f"Validation failure: Listener {listener.id} is not on "
                    f"load balancer {req.loadbalancer_id}."
                )
        lb_id = listener.load_balancer_id if listener is not None else req.loadbalancer_id
        assert lb_id is not None
        lb = get_lb(session, lb_id, ctx)
        if listener is not None:
            check_pool_protocol(listener.protocol, checked.protocol)
            if listener.default_pool_id is not None:
                raise Conflict("This listener already has a default pool")
        unit.change(lb)
        quotas.check_and_reserve(session, lb.project_id, quotas.POOL, defaults=env.quota_defaults)
        pool = new_pool(lb, req, checked)
        session.add(pool)
        session.flush()
        if listener is not None:
            listener.default_pool_id = pool.id
            mark_parents_pending(listener)
            session.flush()
        return pool_view(pool)


def update_pool(env: Env, ctx: RequestContext, pool_id: str, req: Any) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    refuse_unsupported(req, POOL.update_unsupported())
    changes = POOL.update_changes(given(req))
    if "lb_algorithm" in changes:
        changes["lb_algorithm"] = _algorithm(changes["lb_algorithm"])
    if any(name in changes for name in tls.POOL_REFS):
        with read(env) as session:  # outside the write transaction, as on create
            pool = get_pool(session, pool_id, ctx)
            current = {name: getattr(pool, name) for name in tls.POOL_FIELDS}
            merged = {**current, **{k: v for k, v in changes.items() if k in tls.POOL_FIELDS}}
            tls.check_pool_rules(merged, current=current, given=changes)
            project_id = pool.project_id
        tls.check_material(
            env.secrets, tls.POOL, merged, ctx.secret_access(project_id), changed=set(changes)
        )
    with write(env) as unit:
        session = unit.session
        pool = get_pool(session, pool_id, ctx)
        if "lb_algorithm" in changes:
            protocols.check_udp_algorithm(
                pool.protocol, changes["lb_algorithm"], provider.served(env.settings.compute_driver)
            )
        if "session_persistence" in changes:
            changes["session_persistence"] = _persistence(
                req.session_persistence, pool.protocol, pool.session_persistence or {}
            )
        current = {name: getattr(pool, name) for name in tls.POOL_FIELDS}
        merged = {**current, **{k: v for k, v in changes.items() if k in tls.POOL_FIELDS}}
        tls.check_pool_rules(merged, current=current, given=changes)
        if merged.get("tls_enabled"):
            filled = dict(merged)
            tls.pool_defaults(filled, tls_enabled=True)
            changes.update((k, v) for k, v in filled.items() if merged.get(k) != v)
        change.update(unit, ctx, pool, changes)
        return pool_view(pool)


def delete_pool(env: Env, ctx: RequestContext, pool_id: str) -> None:
    with write(env) as unit:
        pool = get_pool(unit.session, pool_id, ctx)
        policy = l7policies.policy_using(unit.session, pool.id)
        if policy is not None:
            raise Conflict(f"Pool {pool.id} is in use by L7 policy {policy.id}")
        change.delete(unit, ctx, pool)
