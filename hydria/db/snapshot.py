"""Turn a load balancer's rows into the frozen graph of ``hydria.core.graph``.

Objects marked PENDING_DELETE (or DELETED) are left out, as is anything
reachable only through them: the snapshot is what the data plane should run.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hydria.core import constants as c
from hydria.core import graph
from hydria.db import models as m

T = TypeVar(
    "T", graph.Listener, graph.L7Policy, graph.L7Rule, graph.Pool, graph.Member, graph.HealthMonitor
)
_GONE = frozenset({c.PENDING_DELETE, c.DELETED})


def _alive(row: object) -> bool:
    return getattr(row, "provisioning_status") not in _GONE


def load_lb_row(session: Session, lb_id: str) -> m.LoadBalancer | None:
    return session.scalars(
        select(m.LoadBalancer)
        .where(m.LoadBalancer.id == lb_id)
        .options(
            selectinload(m.LoadBalancer.listeners)
            .selectinload(m.Listener.l7policies)
            .selectinload(m.L7Policy.rules),
            selectinload(m.LoadBalancer.pools).selectinload(m.Pool.members),
            selectinload(m.LoadBalancer.pools).selectinload(m.Pool.health_monitor),
            selectinload(m.LoadBalancer.amphorae),
        )
    ).first()


def _copy(cls: type[T], row: object, **given: Any) -> T:
    """A ``cls`` from ``row``'s columns of the same names, a list column as a tuple;
    ``given``: the fields that are not a plain copy (children, filtered references)."""
    values = dict(given)
    for f in fields(cls):
        if f.name not in given:
            value = getattr(row, f.name)
            values[f.name] = tuple(value or ()) if f.default == () else value
    return cls(**values)


def to_graph(lb: m.LoadBalancer) -> graph.LoadBalancer:
    pools = tuple(_pool(p) for p in lb.pools if _alive(p))
    pool_ids = {p.id for p in pools}
    listeners = tuple(
        _copy(
            graph.Listener,
            lst,
            default_pool_id=lst.default_pool_id if lst.default_pool_id in pool_ids else None,
            insert_headers=tuple(sorted((lst.insert_headers or {}).items())),
            client_authentication=lst.client_authentication or c.CLIENT_AUTH_NONE,
            hsts_include_subdomains=bool(lst.hsts_include_subdomains),
            hsts_preload=bool(lst.hsts_preload),
            l7policies=_policies(lst, pool_ids),
        )
        for lst in lb.listeners
        if _alive(lst)
    )
    return graph.LoadBalancer(
        id=lb.id,
        vip_address=lb.vip_address or "",
        admin_state_up=lb.admin_state_up,
        topology=lb.topology,
        project_id=lb.project_id or "",
        listeners=listeners,
        pools=pools,
        additional_vips=tuple(str(v["ip_address"]) for v in lb.additional_vips or ()),
    )


def _policies(lst: m.Listener, pool_ids: set[str]) -> tuple[graph.L7Policy, ...]:
    live = sorted(
        (p for p in lst.l7policies if _alive(p)), key=lambda p: (p.position, p.created_at, p.id)
    )
    return tuple(
        _copy(
            graph.L7Policy,
            p,
            redirect_pool_id=p.redirect_pool_id if p.redirect_pool_id in pool_ids else None,
            rules=tuple(
                _copy(graph.L7Rule, r)
                for r in sorted(p.rules, key=lambda r: (r.created_at, r.id))
                if _alive(r) and r.admin_state_up
            ),
        )
        for p in live
    )


def _pool(p: m.Pool) -> graph.Pool:
    hm = p.health_monitor if p.health_monitor is not None and _alive(p.health_monitor) else None
    sp = p.session_persistence
    return _copy(
        graph.Pool,
        p,
        members=tuple(_copy(graph.Member, mb) for mb in p.members if _alive(mb)),
        health_monitor=None if hm is None else _copy(graph.HealthMonitor, hm),
        session_persistence=None
        if not sp
        else graph.SessionPersistence(
            type=sp["type"],
            cookie_name=sp.get("cookie_name"),
            persistence_timeout=sp.get("persistence_timeout"),
            persistence_granularity=sp.get("persistence_granularity"),
        ),
    )
