"""The read path's answers, made from Core rows a page (or one object) at a time.

A list reads its page with one query (``hydria.services.listing``), then one
query per child collection for the whole page, keyed by the page's ids (a load
balancer's listeners and pools, a pool's members, monitor and listeners, a
listener's policies, a policy's rules); ``shape`` then fills each answer from
the resource's description, as the write path's views do from mapped objects
(``hydria.services.shape``). A single GET is a page of one row.

Mapped objects and ``selectinload`` cost more than the queries themselves on
short lists (each post-load is another compiled and cache-keyed ORM query,
each row an identity-mapped object); Core rows carry the same values (the same
column types decode them), and children come back in the order the
relationships declare (``created_at``; a listener's policies by ``position``),
``id`` breaking ties.

A load balancer shown alone (``lb_one``) is one statement: its row, then its
listeners' and its pools' ids, as the rows of one ``UNION ALL`` in that order
(``LB_ONE``). One statement reads one snapshot, so it needs no transaction
(``Database.lone_read``) and, on SQLite, no thread: the API reads it on the
event loop (``hydria.api.settle``). Every other single GET is a page of one
row in a read transaction (``one``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Executable, Select, bindparam, literal_column, null, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import NotFound
from hydria.core.resources import L7POLICY, LISTENER, LOADBALANCER, POOL
from hydria.core.resources.field import Resource
from hydria.db.engine import Database
from hydria.db.models import HealthMonitor, L7Policy, L7Rule, Listener, LoadBalancer, Member, Pool
from hydria.services.context import RequestContext
from hydria.services.listing import Shaper, table_of
from hydria.services.lookup import REDIRECTING
from hydria.services.shape import shape

Ids = list[dict[str, str]]


def _grouped(pairs: Iterable[Any], parents: Sequence[str]) -> dict[str, Ids]:
    """``{parent: [{"id": child}, ...]}`` from (parent, child) rows, every parent present."""
    out: dict[str, Ids] = {p: [] for p in parents}
    for parent, child in pairs:
        out[parent].append({"id": child})
    return out


def _children_of(model: Any, parent: Any) -> Select[Any]:
    """(parent, child id) of the live children of the ``parents`` bound at execution."""
    order = model.position if model is L7Policy else model.created_at
    return (
        select(parent, model.id)
        .where(parent.in_(bindparam("parents", expanding=True)))
        .where(model.provisioning_status != c.DELETED)
        .order_by(order, model.id)
    )


# Built once: a statement object keeps its cache key, so executing it again skips
# building and keying the SQL expression (most of a small query's cost).
LB_LISTENERS = _children_of(Listener, Listener.load_balancer_id)
LB_POOLS = _children_of(Pool, Pool.load_balancer_id)
LISTENER_POLICIES = _children_of(L7Policy, L7Policy.listener_id)
POLICY_RULES = _children_of(L7Rule, L7Rule.l7policy_id)
POOL_MEMBERS = _children_of(Member, Member.pool_id)
POOL_MONITORS = select(HealthMonitor.pool_id, HealthMonitor.id).where(
    HealthMonitor.pool_id.in_(bindparam("parents", expanding=True)),
    HealthMonitor.provisioning_status != c.DELETED,
)
POOL_LISTENERS_DIRECT = (
    select(Listener.default_pool_id, Listener.id)
    .where(Listener.default_pool_id.in_(bindparam("parents", expanding=True)))
    .where(Listener.provisioning_status != c.DELETED)
    .order_by(Listener.created_at, Listener.id)
)
POOL_LISTENERS_THROUGH = (
    select(L7Policy.redirect_pool_id, Listener.id)
    .join(L7Policy, L7Policy.listener_id == Listener.id)
    .where(L7Policy.redirect_pool_id.in_(bindparam("parents", expanding=True)), *REDIRECTING)
    .order_by(Listener.created_at, Listener.id)
)


def _lb_one() -> CompoundSelect[Any]:
    """The load balancer ``key`` (part 0) and the ids (``child``) of its live listeners
    (part 1) and pools (part 2), each kind oldest first: its columns are the load
    balancer's (types and all), then ``part``, ``child`` and ``child_at``; a child's
    row leaves the load balancer's columns null."""
    lb = LoadBalancer.__table__
    key: Any = bindparam("key")
    head = select(
        *lb.c,
        literal_column("0").label("part"),
        null().label("child"),
        null().label("child_at"),
    ).where(lb.c.id == key)

    def kids(model: Any, part: int) -> Select[Any]:
        columns: list[Any] = [null().label(col.name) for col in lb.c]
        columns += [literal_column(str(part)), model.id, model.created_at]
        live = (model.load_balancer_id == key, model.provisioning_status != c.DELETED)
        return select(*columns).where(*live)

    return head.union_all(kids(Listener, 1), kids(Pool, 2)).order_by(
        literal_column("part"), literal_column("child_at"), literal_column("child")
    )


LB_ONE = _lb_one()


def children(session: Session, stmt: Executable, parents: Sequence[str]) -> dict[str, Ids]:
    """``{parent: [{"id": child}, ...]}`` for every one of ``parents`` (``stmt``: one of
    the ``*_of`` statements above), in the statement's order."""
    if not parents:
        return {}
    return _grouped(session.connection().execute(stmt, {"parents": parents}).all(), parents)


def pool_listeners(session: Session, pools: Sequence[str]) -> dict[str, Ids]:
    """The live listeners using each pool, as ``hydria.services.lookup.listeners_of``:
    those whose default pool it is (oldest first), then those reaching it through an
    enabled L7 policy with a live rule (oldest first), each listener once."""
    out = children(session, POOL_LISTENERS_DIRECT, pools)
    if pools:
        through: Iterable[Any] = session.connection().execute(
            POOL_LISTENERS_THROUGH, {"parents": pools}
        )
        for pool_id, listener_id in through:
            if {"id": listener_id} not in out[pool_id]:
                out[pool_id].append({"id": listener_id})
    return out


def pool_monitors(session: Session, pools: Sequence[str]) -> dict[str, str]:
    """Each pool's live health monitor, if it has one."""
    if not pools:
        return {}
    rows = session.connection().execute(POOL_MONITORS, {"parents": pools})
    return {pool_id: hm_id for pool_id, hm_id in rows}


def lbs(session: Session) -> Shaper:
    def page(rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        listeners = children(session, LB_LISTENERS, ids)
        pools = children(session, LB_POOLS, ids)
        related = {i: {"listeners": listeners[i], "pools": pools[i]} for i in ids}
        return [shape(LOADBALANCER, r, related[r.id]) for r in rows]

    return page


def lb_one(db: Database, ctx: RequestContext, key: str) -> tuple[Any, dict[str, Any]]:
    """A live load balancer the caller may see, as its row and its answer, read with
    one statement (``LB_ONE``); otherwise ``one``'s refusals."""
    rows = db.lone_read(LB_ONE, {"key": key})
    row = rows[0] if rows else None
    if row is None or row.part != 0 or row.provisioning_status == c.DELETED:
        raise NotFound.of(LOADBALANCER.kind, key)
    ctx.require_visible(LOADBALANCER.kind, key, row.project_id)
    related: dict[str, Ids] = {"listeners": [], "pools": []}
    for kid in rows[1:]:
        related["listeners" if kid.part == 1 else "pools"].append({"id": kid.child})
    return row, shape(LOADBALANCER, row, related)


def listeners(session: Session) -> Shaper:
    def page(rows: Sequence[Any]) -> list[dict[str, Any]]:
        policies = children(session, LISTENER_POLICIES, [r.id for r in rows])
        return [shape(LISTENER, r, {"l7policies": policies[r.id]}) for r in rows]

    return page


def pools(session: Session) -> Shaper:
    def page(rows: Sequence[Any]) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        used_by = pool_listeners(session, ids)
        monitors = pool_monitors(session, ids)
        members = children(session, POOL_MEMBERS, ids)
        return [
            shape(
                POOL,
                r,
                {
                    "listeners": used_by[r.id],
                    "healthmonitor_id": monitors.get(r.id),
                    "members": members[r.id],
                },
            )
            for r in rows
        ]

    return page


def l7policies(session: Session) -> Shaper:
    def page(rows: Sequence[Any]) -> list[dict[str, Any]]:
        rules = children(session, POLICY_RULES, [r.id for r in rows])
        return [shape(L7POLICY, r, {"rules": rules[r.id]}) for r in rows]

    return page


def plain(resource: Resource) -> Shaper:
    """The answers of a resource with no children to look up (members, monitors, rules)."""
    return lambda rows: [shape(resource, r) for r in rows]


def one(
    session: Session,
    model: Any,
    kind: str,
    key: str,
    ctx: RequestContext,
    page: Callable[[Session], Shaper],
    *,
    under: tuple[str, str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """A live object the caller may see, as a row and its answer; otherwise the refusal
    ``hydria.services.lookup`` gives (``under``: the parent column and id a child's path
    names)."""
    row = session.connection().execute(table_of(model).where(model.id == key)).first()
    if row is None or row.provisioning_status == c.DELETED:
        raise NotFound.of(kind, key)
    ctx.require_visible(kind, key, row.project_id)
    if under is not None and getattr(row, under[0]) != under[1]:
        raise NotFound.of(kind, key)
    return row, page(session)([row])[0]


def plain_of(resource: Resource) -> Callable[[Session], Shaper]:
    """``one``'s ``page`` for a resource with no children to look up."""
    return lambda _session: plain(resource)
