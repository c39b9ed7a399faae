"""Fully populated load balancer create: listeners, pools, members and monitors in one POST.

Octavia lets a client send a whole load balancer at once, and Kubernetes'
cloud-provider-openstack does so by default::

    {"loadbalancer": {"vip_subnet_id": "...",
        "listeners": [{"protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {"name": "web", "protocol": "HTTP",
                                        "lb_algorithm": "ROUND_ROBIN",
                                        "members": [...], "healthmonitor": {...}}}],
        "pools": [{"name": "spare", "protocol": "TCP", "lb_algorithm": "SOURCE_IP"}]}}

Nested objects take the fields of their single creates, without the parent ids
(they are implied) and without ``project_id`` (everything belongs to the load
balancer's project). A listener's ``default_pool`` is either a whole pool or
just ``{"name": ...}``, which points at a pool defined elsewhere in the same
request (in ``pools``, or inline under another listener); so such pools need
names, unique within the request.

Two steps, so that a refused request writes nothing:

- ``plan(req)`` runs every check that needs no database (the same functions
  the single creates use, so a nested object is refused as it would be on its
  own) and resolves the pool names;
- ``check_material(store, graph, access)`` reads every certificate, CA and CRL
  a TERMINATED_HTTPS listener or a TLS pool names from the secret store and
  checks it as the single creates do (outside the write transaction: the
  embedded store lives in the same database);
- ``create(session, lb, graph, quota_defaults=...)`` checks the project's quotas
  for every object, then adds the rows, all PENDING_CREATE, in the transaction
  that creates the load balancer; the caller notifies once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.core import protocols
from hydria.core.errors import Conflict, InvalidInput
from hydria.core.secrets import SecretAccess
from hydria.db import quotas
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool
from hydria.services import provider, tls
from hydria.services.healthmonitors import check_healthmonitor, new_healthmonitor
from hydria.services.l7policies import check_policy_body, new_policy, new_rule, place
from hydria.services.listeners import (
    check_default_pool,
    check_listener,
    check_pool_protocol,
    new_listener,
    port_in_use,
)
from hydria.services.members import check_new_member, duplicate_member, new_member
from hydria.services.pools import CheckedPool, check_pool, new_pool
from hydria.services.tls import SecretReader

# (pool, its members, its monitor), as the create answer shows them.
CreatedPool = tuple[Pool, list[Member], HealthMonitor | None]


@dataclass(frozen=True)
class PoolPlan:
    req: Any  # a PoolSingleCreate body
    checked: CheckedPool
    monitor: dict[str, Any] | None  # check_healthmonitor's values


@dataclass(frozen=True)
class PolicyPlan:
    values: dict[str, Any]  # check_policy_body's row values
    rules: list[dict[str, Any]]
    position: int
    pool: int | None  # index of its redirect pool in Graph.pools


@dataclass(frozen=True)
class ListenerPlan:
    req: Any  # a ListenerSingleCreate body
    protocol: str
    pool: int | None  # index of its default pool in Graph.pools
    policies: tuple[PolicyPlan, ...] = ()


@dataclass(frozen=True)
class Graph:
    """The children of a load balancer about to be created, checked and resolved."""

    listeners: tuple[ListenerPlan, ...] = ()
    pools: tuple[PoolPlan, ...] = ()


def plan(req: Any, *, compute_driver: str) -> Graph:
    """Check the nested objects of a create (a LoadBalancerPOST) and resolve names;
    ``compute_driver``: whose amphorae would serve them."""
    listeners = list(req.listeners or [])
    pools = list(req.pools or [])
    # Top-level pools first, then the ones given inline, in listener order (as Octavia).
    refs: list[str | None] = []
    policy_refs: list[list[str | None]] = []
    for li in listeners:
        policy_refs.append(
            [_pool_ref(p.redirect_pool, pools, "redirect_pool") for p in li.l7policies or []]
        )
        refs.append(_pool_ref(li.default_pool, pools, "default_pool"))
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise InvalidInput(
            "Validation failure: the pools created with a load balancer need "
            "names that differ from each other."
        )
    index = {name: i for i, name in enumerate(names)}
    for ref, what in [
        *((r, "default_pool") for r in refs),
        *((r, "redirect_pool") for rs in policy_refs for r in rs),
    ]:
        if ref is not None and ref not in index:
            raise InvalidInput(
                f"Validation failure: {what} '{ref}' names no pool defined in this request."
            )
    pool_plans = tuple(_plan_pool(p, compute_driver) for p in pools)
    return Graph(
        listeners=_plan_listeners(listeners, refs, policy_refs, index, pool_plans, compute_driver),
        pools=pool_plans,
    )


def _pool_ref(inline: Any, pools: list[Any], what: str) -> str | None:
    """The name of a listener's or policy's pool; a whole definition joins ``pools``."""
    if inline is None:
        return None
    if inline.name is None:
        raise InvalidInput(
            f"Validation failure: a {what} created with its load balancer needs a name."
        )
    if inline.model_fields_set != {"name"}:
        pools.append(inline)
    return str(inline.name)


def _plan_pool(req: Any, compute_driver: str) -> PoolPlan:
    label = f"pool '{req.name}'" if req.name is not None else "an unnamed pool"
    for field in ("protocol", "lb_algorithm"):
        if getattr(req, field) is None:
            raise InvalidInput(f"Validation failure: {label} is defined without {field}.")
    checked = check_pool(req, compute_driver=compute_driver, nested=True)
    monitor = (
        check_healthmonitor(req.healthmonitor, compute_driver=compute_driver)
        if req.healthmonitor
        else None
    )
    if monitor is not None:
        protocols.check_monitor(checked.protocol, monitor["type"], monitor["delay"])
    seen: set[tuple[str, int]] = set()
    for member in req.members or []:
        key = (member.address, member.protocol_port)
        if key in seen:
            raise duplicate_member(*key)
        seen.add(key)
    return PoolPlan(req=req, checked=checked, monitor=monitor)


def _plan_listeners(
    listeners: list[Any],
    refs: list[str | None],
    policy_refs: list[list[str | None]],
    index: dict[str | None, int],
    pools: tuple[PoolPlan, ...],
    compute_driver: str,
) -> tuple[ListenerPlan, ...]:
    plans: list[ListenerPlan] = []
    by_port: dict[int, list[str]] = {}  # port -> protocols of the listeners on it so far
    for li, ref, prefs in zip(listeners, refs, policy_refs, strict=True):
        protocol = check_listener(li, compute_driver=compute_driver, nested=True)
        taken = by_port.setdefault(li.protocol_port, [])
        other = protocols.same_port_conflict(protocol, taken)
        if other is not None:
            raise port_in_use(other, li.protocol_port)
        taken.append(protocol)
        pool = index[ref] if ref is not None else None
        if pool is not None:
            check_pool_protocol(protocol, pools[pool].checked.protocol)
        policies = []
        for policy, pref in zip(li.l7policies or [], prefs, strict=True):
            values, rules = check_policy_body(policy)
            target = index[pref] if pref is not None else None
            if target is not None:
                check_pool_protocol(protocol, pools[target].checked.protocol)
            policies.append(
                PolicyPlan(values=values, rules=rules, position=policy.position, pool=target)
            )
        plans.append(ListenerPlan(req=li, protocol=protocol, pool=pool, policies=tuple(policies)))
    return tuple(plans)


def check_families(plan: Graph, vips: list[str], compute_driver: str) -> None:
    """The address-family 501s of single creates, for the whole graph once its VIPs
    are allocated: a UDP/SCTP listener's pool's members each of a VIP's IP version
    (the rule Octavia's amphora provider applies at member create and batch update;
    Octavia's own fully populated create skips it, Hydria keeps it so the same
    member is refused however it arrives), and no UDP member of another IP
    version than the VIP where only nftables serves UDP (docs/udp.md)."""
    served = provider.served(compute_driver)
    for li in plan.listeners:
        if li.pool is None:
            continue
        pool = plan.pools[li.pool]
        addresses = [m.address for m in pool.req.members or []]
        protocols.check_member_families(pool.checked.protocol, addresses, vips)
        for address in addresses if vips else []:
            protocols.check_udp_version(pool.checked.protocol, address, vips[0], served)


def check_material(store: SecretReader | None, graph: Graph, access: SecretAccess) -> None:
    """Read and check each TLS reference of the planned listeners and pools (400 on a fault)."""
    for li in graph.listeners:
        tls.check_material(store, tls.LISTENER, li.req.model_dump(), access)
    for p in graph.pools:
        tls.check_material(store, tls.POOL, p.req.model_dump(), access)


def create(
    session: Session, lb: LoadBalancer, graph: Graph, *, quota_defaults: Mapping[str, int]
) -> tuple[list[Listener], list[CreatedPool]]:
    """Add the planned children of the new ``lb`` to the session, in PENDING_CREATE.

    Every object counts against the project's quotas (checked once per kind, for
    all of the request's objects of that kind) before any row is added. Pools
    (with their monitors and members) go first, listeners then point at them.
    Returns the rows in request order, for the create's answer.
    """
    wanted = {
        quotas.POOL: len(graph.pools),
        quotas.HEALTH_MONITOR: sum(p.monitor is not None for p in graph.pools),
        quotas.MEMBER: sum(len(p.req.members or []) for p in graph.pools),
        quotas.LISTENER: len(graph.listeners),
        quotas.L7POLICY: sum(len(li.policies) for li in graph.listeners),
        quotas.L7RULE: sum(len(p.rules) for li in graph.listeners for p in li.policies),
    }
    for resource, count in wanted.items():
        quotas.check_and_reserve(session, lb.project_id, resource, count, defaults=quota_defaults)
    pools: list[CreatedPool] = []
    for p in graph.pools:
        pool = new_pool(lb, p.req, p.checked)
        hm = None
        if p.monitor is not None:
            hm = new_healthmonitor(pool, p.monitor)
        members = []
        for m in p.req.members or []:
            check_new_member(session, m)
            members.append(new_member(pool, m, monitored=hm is not None))
        pools.append((pool, members, hm))
    listeners = []
    for li in graph.listeners:
        default_pool_id = li.req.default_pool_id
        if default_pool_id is not None:
            # A pool of another load balancer: never valid here (404, as in Octavia).
            check_default_pool(session, lb.id, default_pool_id, li.protocol)
        if li.pool is not None:
            default_pool_id = pools[li.pool][0].id
        listeners.append(new_listener(lb, li.req, li.protocol, default_pool_id=default_pool_id))
    for pool, members, hm in pools:
        session.add(pool)
        session.add_all(members)
        if hm is not None:
            session.add(hm)
    try:
        session.flush()
        session.add_all(listeners)
        session.flush()
        policies: list[L7Policy] = []
        rules: list[L7Rule] = []
        for row, li in zip(listeners, graph.listeners, strict=True):
            order: list[L7Policy] = []
            for pp in li.policies:
                values = dict(pp.values)
                if pp.pool is not None:
                    values["redirect_pool_id"] = pools[pp.pool][0].id
                policy = new_policy(row, values)
                order = place(order, policy, pp.position)
                policies.append(policy)
                rules.extend(new_rule(policy, r) for r in pp.rules)
        session.add_all(policies)
        session.flush()
        session.add_all(rules)
        session.flush()
    except IntegrityError:
        # plan() refuses duplicates already; this is the database agreeing.
        raise Conflict("An object in the request collides with another one.") from None
    return listeners, pools
