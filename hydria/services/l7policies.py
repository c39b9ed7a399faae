"""L7 policies and their rules: Octavia's checks, positions and status changes.

A listener's live policies (not PENDING_DELETE or DELETED) are numbered 1..n
by ``position``, as Octavia's ordering list keeps them: a create or a move to
position p puts the policy at index p - 1 (or last, if p is past the end) and
renumbers the others; a delete renumbers the ones left. A change to a policy
or a rule puts the policy (for a rule), the listener and the load balancer in
PENDING_UPDATE; the controller's write-back settles them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core import l7, protocols
from hydria.core.errors import Conflict, NotFound, ProviderUnsupported
from hydria.core.resources import L7POLICY, L7RULE
from hydria.db import quotas
from hydria.db.models import L7Policy, L7Rule, Listener, Pool
from hydria.services import change, views
from hydria.services.context import RequestContext
from hydria.services.lookup import (
    get_l7policy,
    get_l7rule,
    get_listener,
    get_pool,
)
from hydria.services.reads import ChildReads, Reads
from hydria.services.shape import l7policy_view, l7rule_view
from hydria.services.unit import Env, write
from hydria.services.validation import choice, given

POLICY_READS = Reads(L7Policy, L7POLICY, views.l7policies)
RULE_READS = ChildReads(L7Rule, L7RULE, "l7policy_id", get_l7policy)
_GONE = (c.PENDING_DELETE, c.DELETED)


# --------------------------------------------------------------------------- #
# Checks that need no database (also used by the fully populated create)      #
# --------------------------------------------------------------------------- #


def check_listener_takes_policies(protocol: str) -> None:
    """PROMETHEUS takes no children (400); Octavia's amphora provider serves L7 on
    HTTP and TERMINATED_HTTPS listeners only (501)."""
    if protocol == c.PROTOCOL_PROMETHEUS:
        raise protocols.no_children(protocol)
    if protocol not in c.L7_LISTENER_PROTOCOLS:
        raise ProviderUnsupported.of(f"{protocol} protocol listeners do not support L7 policies")


def check_rule_body(req: Any) -> dict[str, Any]:
    """A new rule's row values (``req``: an L7 rule create body)."""
    values = L7RULE.create_columns(req.model_dump())
    values["type"] = choice("type", req.type, c.L7RULE_TYPES, c.L7RULE_TYPES)
    values["compare_type"] = choice(
        "compare_type", req.compare_type, c.L7RULE_COMPARE_TYPES, c.L7RULE_COMPARE_TYPES
    )
    l7.check_rule(values["type"], values["compare_type"], values["key"], values["value"])
    return values


def check_policy_body(req: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new policy's row values (no position, no listener) and its rules' values."""
    sent = {
        name: getattr(req, name) for name in req.model_fields_set if getattr(req, name) is not None
    }
    if "action" in sent:
        choice("action", sent["action"], c.L7POLICY_ACTIONS, c.L7POLICY_ACTIONS)
    sanitized = l7.sanitize_policy(sent, create=True)
    values = L7POLICY.create_columns(req.model_dump())
    values.pop("listener_id", None)
    values.pop("position", None)
    for name in (
        "action",
        "redirect_pool_id",
        "redirect_url",
        "redirect_prefix",
        "redirect_http_code",
    ):
        if name in values or name in sanitized:
            values[name] = sanitized.get(name)
    rules = [check_rule_body(r) for r in (req.rules or [])]
    if len(rules) > c.MAX_L7RULES_PER_L7POLICY:
        raise Conflict(f"Too many rules on L7 policy (at most {c.MAX_L7RULES_PER_L7POLICY})")
    return values, rules


def new_policy(listener: Listener, values: Mapping[str, Any]) -> L7Policy:
    return change.new_row(L7Policy, listener, {"position": c.MAX_POLICY_POSITION, **values})


def new_rule(policy: L7Policy, values: Mapping[str, Any]) -> L7Rule:
    return change.new_row(L7Rule, policy, values)


def place(policies: Iterable[L7Policy], policy: L7Policy, position: int) -> list[L7Policy]:
    """Put ``policy`` at ``position`` among ``policies`` (a listener's live ones, in
    order) and number them all 1..n again; returns them in their new order."""
    order = [p for p in policies if p is not policy]
    order.insert(min(max(position, 1) - 1, len(order)), policy)
    renumber(order)
    return order


def renumber(policies: Iterable[L7Policy]) -> None:
    for i, p in enumerate(policies, 1):
        if p.position != i:
            p.position = i


# --------------------------------------------------------------------------- #
# Checks against the database                                                 #
# --------------------------------------------------------------------------- #


def live_policies(session: Session, listener_id: str) -> list[L7Policy]:
    """A listener's policies that are not on their way out, in position order."""
    return list(
        session.scalars(
            select(L7Policy)
            .where(L7Policy.listener_id == listener_id, L7Policy.provisioning_status.notin_(_GONE))
            .order_by(L7Policy.position, L7Policy.created_at, L7Policy.id)
        )
    )


def check_redirect_pool(
    session: Session, listener: Listener, pool_id: str, ctx: RequestContext | None = None
) -> Pool:
    """The pool a policy redirects to: live, on the listener's load balancer, and of a
    protocol the listener can send to."""
    pool = get_pool(session, pool_id, ctx) if ctx is not None else session.get(Pool, pool_id)
    if (
        pool is None
        or pool.load_balancer_id != listener.load_balancer_id
        or pool.provisioning_status in _GONE
    ):
        raise NotFound.of("Pool", pool_id)
    protocols.check_listener_pool(listener.protocol, pool.protocol)
    return pool


def _rule_count(session: Session, policy_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(L7Rule)
            .where(L7Rule.l7policy_id == policy_id, L7Rule.provisioning_status != c.DELETED)
        )
        or 0
    )


# --------------------------------------------------------------------------- #
# Policies                                                                    #
# --------------------------------------------------------------------------- #


def create_l7policy(env: Env, ctx: RequestContext, req: Any) -> dict[str, Any]:
    """A new policy on a listener (``req``: an ``L7PolicyPOST``), with its rules if given."""
    ctx.owner_for_create(req.project_id)
    values, rules = check_policy_body(req)
    with write(env) as unit:
        session = unit.session
        listener = get_listener(session, req.listener_id, ctx)
        check_listener_takes_policies(listener.protocol)
        if values.get("redirect_pool_id"):
            check_redirect_pool(session, listener, values["redirect_pool_id"], ctx)
        change.begin_under(unit, ctx, listener)
        quotas.check_and_reserve(
            session, listener.project_id, quotas.L7POLICY, defaults=env.quota_defaults
        )
        quotas.check_and_reserve(
            session, listener.project_id, quotas.L7RULE, len(rules), defaults=env.quota_defaults
        )
        policy = new_policy(listener, values)
        place(live_policies(session, listener.id), policy, req.position)
        session.add(policy)
        session.flush()
        session.add_all(new_rule(policy, r) for r in rules)
        session.flush()
        session.refresh(policy)
        return l7policy_view(policy)


def update_l7policy(env: Env, ctx: RequestContext, policy_id: str, req: Any) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    sent = given(req)
    if sent.get("action") is not None:
        choice("action", sent["action"], c.L7POLICY_ACTIONS, c.L7POLICY_ACTIONS)
    changes = L7POLICY.update_changes(sent)
    position = changes.pop("position", None)
    redirect = {
        k: v
        for k, v in changes.items()
        if k
        in ("action", "redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code")
    }
    changes.update(l7.sanitize_policy(redirect, create=False))
    with write(env) as unit:
        session = unit.session
        policy = get_l7policy(session, policy_id, ctx)
        listener = get_listener(session, policy.listener_id, ctx)
        if changes.get("redirect_pool_id"):
            check_redirect_pool(session, listener, changes["redirect_pool_id"], ctx)
        change.update(unit, ctx, policy, changes)
        if position is not None:
            place(live_policies(session, listener.id), policy, position)
            session.flush()
        return l7policy_view(policy)


def delete_l7policy(env: Env, ctx: RequestContext, policy_id: str) -> None:
    with write(env) as unit:
        session = unit.session
        policy = get_l7policy(session, policy_id, ctx)
        change.delete(unit, ctx, policy)
        session.flush()
        renumber(live_policies(session, policy.listener_id))


# --------------------------------------------------------------------------- #
# Rules                                                                       #
# --------------------------------------------------------------------------- #


def _mutable_policy(session: Session, policy_id: str, ctx: RequestContext) -> L7Policy:
    policy = get_l7policy(session, policy_id, ctx)
    if policy.provisioning_status in _GONE:
        raise Conflict(f"L7Policy {policy_id} is immutable and cannot be updated.")
    return policy


def create_l7rule(env: Env, ctx: RequestContext, policy_id: str, req: Any) -> dict[str, Any]:
    """A new rule on a policy (``req``: an ``L7RulePOST``)."""
    ctx.owner_for_create(req.project_id)
    values = check_rule_body(req)
    with write(env) as unit:
        session = unit.session
        policy = _mutable_policy(session, policy_id, ctx)
        if _rule_count(session, policy.id) >= c.MAX_L7RULES_PER_L7POLICY:
            raise Conflict(f"Too many rules on L7 policy {policy.id}")
        change.begin_under(unit, ctx, policy)
        quotas.check_and_reserve(
            session, policy.project_id, quotas.L7RULE, defaults=env.quota_defaults
        )
        rule = new_rule(policy, values)
        session.add(rule)
        session.flush()
        return l7rule_view(rule)


def update_l7rule(
    env: Env, ctx: RequestContext, policy_id: str, rule_id: str, req: Any
) -> dict[str, Any]:
    sent = given(req)
    if "invert" in sent and sent["invert"] is None:
        sent["invert"] = False  # Octavia: an unset invert is false
    changes = L7RULE.update_changes(sent)
    for name, known in (("type", c.L7RULE_TYPES), ("compare_type", c.L7RULE_COMPARE_TYPES)):
        if name in changes:
            choice(name, changes[name], known, known)
    with write(env) as unit:
        session = unit.session
        _mutable_policy(session, policy_id, ctx)
        rule = get_l7rule(session, policy_id, rule_id, ctx)
        after = {name: getattr(rule, name) for name in ("type", "compare_type", "key", "value")}
        after.update({k: v for k, v in changes.items() if k in after})
        l7.check_rule(after["type"], after["compare_type"], after["key"], after["value"])
        change.update(unit, ctx, rule, changes)
        return l7rule_view(rule)


def delete_l7rule(env: Env, ctx: RequestContext, policy_id: str, rule_id: str) -> None:
    with write(env) as unit:
        session = unit.session
        _mutable_policy(session, policy_id, ctx)
        rule = get_l7rule(session, policy_id, rule_id, ctx)
        change.delete(unit, ctx, rule)


def mark_deleted_with_listener(session: Session, listener_ids: list[str]) -> None:
    """A listener on its way out takes its policies and their rules with it."""
    if not listener_ids:
        return
    policies = list(
        session.scalars(
            select(L7Policy).where(
                L7Policy.listener_id.in_(listener_ids), L7Policy.provisioning_status != c.DELETED
            )
        )
    )
    rules = session.scalars(
        select(L7Rule).where(
            L7Rule.l7policy_id.in_([p.id for p in policies]),
            L7Rule.provisioning_status != c.DELETED,
        )
    )
    for row in [*policies, *rules]:
        row.provisioning_status = c.PENDING_DELETE


def policy_using(session: Session, pool_id: str) -> L7Policy | None:
    """A policy that is not DELETED and redirects to ``pool_id`` (Octavia refuses to
    delete such a pool)."""
    return session.scalars(
        select(L7Policy)
        .where(L7Policy.redirect_pool_id == pool_id, L7Policy.provisioning_status != c.DELETED)
        .order_by(L7Policy.created_at)
        .limit(1)
    ).first()
