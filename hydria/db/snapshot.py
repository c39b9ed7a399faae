"""Turn a load balancer's rows into the frozen graph of ``hydria.core.graph``.

Objects marked PENDING_DELETE (or DELETED) are left out, as is anything
reachable only through them: the snapshot is what the data plane should run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core import graph
from hydria.db import models as m

T = TypeVar(
    "T", graph.Listener, graph.L7Policy, graph.L7Rule, graph.Pool, graph.Member, graph.HealthMonitor
)
_GONE = frozenset({c.PENDING_DELETE, c.DELETED})


def _alive(row: object) -> bool:
    return getattr(row, "provisioning_status") not in _GONE


class Node:
    """One row's columns as attributes, and its children under their relationship
    names (``listeners``, ``pools``, ``members``, ...): what ``to_graph`` reads."""

    def __init__(self, row: Mapping[Any, Any], **children: Any) -> None:
        self.__dict__.update(row)
        self.__dict__.update(children)

    def __getattr__(self, name: str) -> Any:  # only reached for a missing name
        raise AttributeError(name)


def _rows(table: Any, where: Any, *order: Any) -> Select[Any]:
    return select(table).where(where).order_by(*order, table.c.id)


def _under(model: Any, parent: Any, order: Any) -> Select[Any]:
    """The rows of ``model`` under any of the ``parents`` bound at execution."""
    return _rows(model.__table__, parent.in_(bindparam("parents", expanding=True)), order)


# Built once: a statement object keeps its cache key, so executing it again skips
# building and keying the SQL expression (most of a small query's cost).
_LB = select(m.LoadBalancer.__table__).where(m.LoadBalancer.id == bindparam("lb"))
_LISTENERS = _rows(
    m.Listener.__table__, m.Listener.load_balancer_id == bindparam("lb"), m.Listener.created_at
)
_POOLS = _rows(m.Pool.__table__, m.Pool.load_balancer_id == bindparam("lb"), m.Pool.created_at)
_POLICIES = _under(m.L7Policy, m.L7Policy.listener_id, m.L7Policy.position)
_RULES = _under(m.L7Rule, m.L7Rule.l7policy_id, m.L7Rule.created_at)
_MEMBERS = _under(m.Member, m.Member.pool_id, m.Member.created_at)
_MONITORS = _under(m.HealthMonitor, m.HealthMonitor.pool_id, m.HealthMonitor.created_at)


def _by(
    session: Session, stmt: Select[Any], key: str, parents: Sequence[str]
) -> dict[str, list[Any]]:
    """The rows of ``stmt`` for ``parents`` grouped by their ``key`` column; no
    statement at all when there are no parents."""
    out: dict[str, list[Any]] = {p: [] for p in parents}
    if parents:
        for row in session.execute(stmt, {"parents": list(parents)}).mappings():
            out[row[key]].append(row)
    return out


def load_lb_row(session: Session, lb_id: str) -> Node | None:
    """The load balancer and everything below it, from Core rows (as the API's
    GET views read them, ``hydria.services.views``): mapped objects and
    ``selectinload`` cost more than the queries on a graph this small, and the
    reconciler only reads. A table with no parents to look under is not queried."""
    lb = session.execute(_LB, {"lb": lb_id}).mappings().first()
    if lb is None:
        return None
    listeners = list(session.execute(_LISTENERS, {"lb": lb_id}).mappings())
    pools = list(session.execute(_POOLS, {"lb": lb_id}).mappings())
    policies = _by(session, _POLICIES, "listener_id", [r["id"] for r in listeners])
    every_policy = [p for group in policies.values() for p in group]
    rules = _by(session, _RULES, "l7policy_id", [p["id"] for p in every_policy])
    members = _by(session, _MEMBERS, "pool_id", [r["id"] for r in pools])
    monitors = _by(session, _MONITORS, "pool_id", [r["id"] for r in pools])
    return Node(
        lb,
        listeners=[
            Node(
                r,
                l7policies=[
                    Node(p, rules=[Node(x) for x in rules[p["id"]]]) for p in policies[r["id"]]
                ],
            )
            for r in listeners
        ],
        pools=[
            Node(
                r,
                members=[Node(x) for x in members[r["id"]]],
                health_monitor=next((Node(x) for x in monitors[r["id"]]), None),
            )
            for r in pools
        ],
    )


def _copy(cls: type[T], row: object, **given: Any) -> T:
    """A ``cls`` from ``row``'s columns of the same names, a list column as a tuple;
    ``given``: the fields that are not a plain copy (children, filtered references)."""
    values = dict(given)
    for f in fields(cls):
        if f.name not in given:
            value = getattr(row, f.name)
            values[f.name] = tuple(value or ()) if f.default == () else value
    return cls(**values)


def to_graph(lb: Node) -> graph.LoadBalancer:
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


def _policies(lst: Node, pool_ids: set[str]) -> tuple[graph.L7Policy, ...]:
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


def _pool(p: Node) -> graph.Pool:
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
