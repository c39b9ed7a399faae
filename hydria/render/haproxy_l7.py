"""A listener's L7 policies as HAProxy frontend lines (pure; used by ``haproxy.py``).

What is rendered, as in Octavia's amphora: only on HTTP (and TERMINATED_HTTPS)
frontends; a policy with ``admin_state_up`` false, without an enabled rule, or
redirecting to a pool that is disabled or gone, is left out. Each rule is one
``acl <rule id> <fetch> [-m <match>] <value>`` (HOST_NAME ``req.hdr(host) -i``,
PATH ``path``, FILE_TYPE ``path_end``, HEADER ``req.hdr(<key>)``, COOKIE
``req.cook(<key>)``, SSL_CONN_HAS_CERT ``ssl_c_used``, SSL_VERIFY_RESULT
``ssl_c_verify eq <n>``, SSL_DN_FIELD ``ssl_c_s_dn(<key>)``); a policy matches
when all of its rules do (``!`` for an inverted one).

Order. HAProxy runs every ``http-request`` rule before any ``use_backend``, so
Octavia's mix of ``http-request deny``, ``redirect`` and ``use_backend`` lets a
REJECT at position 2 win over a REDIRECT_TO_POOL at position 1. Here every
policy is an ``http-request`` rule, in position order: REDIRECT_TO_POOL records
its backend in ``txn.hydria_l7`` (only if no earlier policy did), REJECT is
``http-request deny`` (403), the redirects are ``http-request redirect
[code N] location|prefix <target>``; a policy after a pool policy only acts
when no earlier one matched. One ``use_backend %[var(txn.hydria_l7)]`` then
sends the request to the recorded backend; otherwise ``default_backend``.

The guard. A request that matches no policy (the common case) would otherwise
run every policy's sample fetch in turn. So when a listener has at least
``GUARD_MIN_POLICIES`` policies with a rule that is not inverted, and merging
at least halves the fetches, one rule of
each such policy (a policy cannot match unless it does) goes into shared ACLs,
one per fetch and matcher, whose pattern lists HAProxy searches in one fetch
(a tree for ``-m str`` and ``-m beg``, so host names are lower-cased there
rather than matched with ``-i``, which HAProxy searches pattern by pattern;
regular expressions joined into alternations, one run for many); one
``http-request set-var(txn.hydria_l7g)``
records whether any could match, and each covered policy's condition starts
with that variable. The guard is only a necessary condition, so which policy
wins, the AND of its rules and ``invert`` are exactly as without it; a policy
whose rules are all inverted is not covered and is evaluated as before.

Values are written as ``hydria.core.l7`` escapes them (one word each; ``%``
doubled in redirect targets, which HAProxy reads as log-format strings); the
API refused everything else, so anything unwritable here is a permanent
``UnrenderableValue``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from hydria.core import constants as c
from hydria.core import graph, l7
from hydria.core.errors import InvalidInput
from hydria.render import values as v
from hydria.render.values import UnrenderableValue

VAR: Final = "txn.hydria_l7"
_NOT_DECIDED: Final = f"!{{ var({VAR}) -m found }}"
GUARD: Final = "txn.hydria_l7g"
GUARD_ACL: Final = "hydria_l7g_"
_GUARDED: Final = f"{{ var({GUARD}) -m found }}"
# Below this many covered policies the guard costs more than it saves.
GUARD_MIN_POLICIES: Final = 4
_HOST_FETCH: Final = "req.hdr(host) -i"
_TREE_MATCHES: Final = (c.L7RULE_COMPARE_EQUAL_TO, c.L7RULE_COMPARE_STARTS_WITH)
# What a regular expression may not hold to be joined with others into one:
# back-references and named groups (renumbered or repeated by the join), \Q
# quoting, option settings and other (? groups than (?: (?= (?! (?<= (?<!, verbs.
_UNJOINABLE: Final = re.compile(r"\\[0-9gkQ]|\(\?(?![:=!]|<[=!])|\(\*")
_MATCH: Final = {
    c.L7RULE_COMPARE_REGEX: "-m reg",
    c.L7RULE_COMPARE_STARTS_WITH: "-m beg",
    c.L7RULE_COMPARE_ENDS_WITH: "-m end",
    c.L7RULE_COMPARE_CONTAINS: "-m sub",
    c.L7RULE_COMPARE_EQUAL_TO: "-m str",
}


def active_policies(
    lst: graph.Listener, pools: Mapping[str, graph.Pool]
) -> tuple[graph.L7Policy, ...]:
    """The policies of ``lst`` that render (see the module docstring), in order."""
    if lst.protocol not in c.L7_LISTENER_PROTOCOLS:
        return ()
    out = []
    for policy in sorted(lst.l7policies, key=lambda p: (p.position, p.id)):
        if not policy.admin_state_up or not policy.rules:
            continue
        if policy.action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:
            pool = pools.get(policy.redirect_pool_id or "")
            if pool is None or not pool.admin_state_up:
                continue
        out.append(policy)
    return tuple(out)


def _acl_parts(rule: graph.L7Rule) -> tuple[str, str]:
    """``(fetch and matcher, value)`` of a rule's ACL; the value is "" for the SSL
    types that take none on the line (``ssl_c_used``, ``ssl_c_verify eq N``)."""
    what = f"l7 rule {rule.id}"
    match = _MATCH.get(rule.compare_type)
    if match is None:
        raise UnrenderableValue(f"{what}: compare_type {rule.compare_type!r} is not supported")
    if rule.compare_type == c.L7RULE_COMPARE_REGEX:
        try:
            re.compile(rule.value)
        except re.error:
            raise UnrenderableValue(f"{what}: value is not a regular expression") from None
    try:
        value = l7.haproxy_word(l7.match_text(rule.compare_type, rule.value))
    except ValueError:
        raise UnrenderableValue(f"{what}: value cannot be written safely") from None
    kind = rule.type
    if kind == c.L7RULE_TYPE_SSL_CONN_HAS_CERT:
        return "ssl_c_used", ""
    if kind == c.L7RULE_TYPE_SSL_VERIFY_RESULT:
        if not (rule.value.isascii() and rule.value.isdigit()):
            raise UnrenderableValue(f"{what}: SSL_VERIFY_RESULT needs a number")
        return f"ssl_c_verify eq {int(rule.value)}", ""
    if kind == c.L7RULE_TYPE_HOST_NAME:
        fetch = "req.hdr(host) -i"
    elif kind == c.L7RULE_TYPE_PATH:
        fetch = "path"
    elif kind == c.L7RULE_TYPE_FILE_TYPE:
        fetch = "path_end"
        if rule.compare_type == c.L7RULE_COMPARE_EQUAL_TO:
            match = ""  # path_end is already a suffix match; "-m str" would undo it
    elif kind in (c.L7RULE_TYPE_HEADER, c.L7RULE_TYPE_COOKIE, c.L7RULE_TYPE_SSL_DN_FIELD):
        pattern = l7.DN_FIELD_RE if kind == c.L7RULE_TYPE_SSL_DN_FIELD else l7.HEADER_NAME_RE
        if rule.key is None or not pattern.match(rule.key):
            raise UnrenderableValue(f"{what}: key {rule.key!r} cannot be written safely")
        fetch = {
            c.L7RULE_TYPE_HEADER: "req.hdr",
            c.L7RULE_TYPE_COOKIE: "req.cook",
            c.L7RULE_TYPE_SSL_DN_FIELD: "ssl_c_s_dn",
        }[kind] + f"({rule.key})"
    else:
        raise UnrenderableValue(f"{what}: type {kind!r} is not supported")
    return " ".join(part for part in (fetch, match) if part), value


def _acl(rule: graph.L7Rule) -> str:
    name = v.ident(rule.id, f"l7 rule {rule.id}")
    return " ".join(part for part in ("acl", name, *_acl_parts(rule)) if part)


def _chunks(words: list[str], limit: int) -> list[list[str]]:
    """``words`` in runs whose joined length stays under ``limit`` (HAProxy reads
    lines of at most 2 KiB; the same ACL name or variable on several lines ORs)."""
    out: list[list[str]] = [[]]
    size = 0
    for word in words:
        if out[-1] and size + len(word) + 4 > limit:
            out.append([])
            size = 0
        out[-1].append(word)
        size += len(word) + 4
    return out


def _guard_parts(rule: graph.L7Rule) -> tuple[str, str]:
    """A rule's fetch and pattern as the guard lists them: as in its own ACL, except
    that a host name compared whole or by prefix is lower-cased on both sides
    instead of ``-i`` (HAProxy keeps a ``-m str``/``-m beg`` list in a tree, one
    lookup for all, only without ``-i``; values are ASCII, where the two agree)."""
    fetch, value = _acl_parts(rule)
    if rule.type == c.L7RULE_TYPE_HOST_NAME and rule.compare_type in _TREE_MATCHES:
        return fetch.replace(_HOST_FETCH, "req.hdr(host),lower", 1), value.lower()
    return fetch, value


def _regex_words(rules: list[tuple[graph.L7Rule, str]]) -> list[str]:
    """The guard's regular expressions, as few as can be: HAProxy runs each of a
    list's patterns in turn, so those that can be are joined into alternations
    ``(?:a)|(?:b)|...`` (one run each, matching when any part does). One that
    numbers or names its groups, quotes (``\\Q``), sets options (``(?x)`` would
    read the rest as a comment) or starts with a verb stays a word of its own."""
    alone = [value for rule, value in rules if _UNJOINABLE.search(rule.value)]
    joinable = [f"(?:{value})" for rule, value in rules if not _UNJOINABLE.search(rule.value)]
    return ["|".join(run) for run in _chunks(joinable, 900) if run] + alone


def _guard(policies: tuple[graph.L7Policy, ...]) -> tuple[list[str], set[str]]:
    """The guard's lines and the ids of the policies it covers (see the module
    docstring). A policy is covered through one rule it cannot match without (its
    first one that is not inverted); those rules' patterns are merged by fetch and
    matcher into shared ACLs. Nothing when too few policies would be covered."""
    keyed = [
        (policy.id, next((r for r in policy.rules if not r.invert), None)) for policy in policies
    ]
    covered = [(pid, rule) for pid, rule in keyed if rule is not None]
    if len(covered) < GUARD_MIN_POLICIES:
        return [], set()
    by_fetch: dict[str, list[tuple[graph.L7Rule, str]]] = {}  # fetch -> (rule, pattern)
    terms: list[str] = []  # a rule whose ACL takes no pattern list: named as it is
    for _, rule in covered:
        fetch, value = _guard_parts(rule)
        if value:
            by_fetch.setdefault(fetch, []).append((rule, value))
        else:
            terms.append(rule.id)
    acls: list[str] = []
    names = 0
    for fetch, rules in by_fetch.items():
        if len(rules) == 1:  # its own ACL already says it
            terms.append(rules[0][0].id)
            continue
        name = f"{GUARD_ACL}{names}"
        names += 1
        terms.append(name)
        unique = list(dict.fromkeys(rules))
        values = (
            _regex_words(unique)
            if fetch.endswith(_MATCH[c.L7RULE_COMPARE_REGEX])
            else list(dict.fromkeys(value for _, value in unique))
        )
        acls.extend(f"acl {name} {fetch} {' '.join(run)}" for run in _chunks(values, 900))
    if len(terms) * 2 > len(covered):  # it would not halve the fetches: not worth a line
        return [], set()
    sets = [
        f"http-request set-var({GUARD}) bool(1) if {' or '.join(run)}"
        for run in _chunks(terms, 900)
    ]
    return [*acls, *sets], {pid for pid, _ in covered}


def _condition(policy: graph.L7Policy, decided: bool, guarded: bool) -> str:
    # The guard first (one variable lookup, false for most requests), then the
    # rules: HAProxy stops at the first false term, so the decision variable is
    # only looked up for requests that match.
    terms = [_GUARDED] if guarded else []
    terms.extend(("!" if r.invert else "") + r.id for r in policy.rules)
    if decided:
        terms.append(_NOT_DECIDED)
    return "if " + " ".join(terms)


def _redirect(policy: graph.L7Policy, kind: str, target: str | None) -> str:
    what = f"l7 policy {policy.id}"
    if not target:
        raise UnrenderableValue(f"{what}: {kind} redirect without a target")
    try:
        l7.check_url(target)
        written = l7.haproxy_logformat(target)
    except (ValueError, InvalidInput):
        raise UnrenderableValue(f"{what}: redirect target cannot be written safely") from None
    code = ""
    if policy.redirect_http_code is not None:
        if policy.redirect_http_code not in c.L7POLICY_REDIRECT_HTTP_CODES:
            raise UnrenderableValue(
                f"{what}: redirect_http_code {policy.redirect_http_code!r} is not supported"
            )
        code = f" code {policy.redirect_http_code}"
    return f"http-request redirect{code} {kind} {written}"


def frontend_lines(
    policies: tuple[graph.L7Policy, ...], backend: Callable[[str], str]
) -> tuple[str, ...]:
    """The ACL, ``http-request`` and ``use_backend`` lines of ``policies`` (already
    filtered by ``active_policies``); ``backend(pool_id)`` names a pool's backend."""
    acls: list[str] = []
    actions: list[str] = []
    decided = False  # an earlier policy may have chosen a backend
    guard, covered = _guard(policies)
    for policy in policies:
        v.ident(policy.id, "l7 policy id")
        acls.extend(_acl(rule) for rule in policy.rules)
        cond = _condition(policy, decided, policy.id in covered)
        if policy.action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:
            name = backend(policy.redirect_pool_id or "")
            actions.append(f"http-request set-var({VAR}) str({name}) {cond}")
            decided = True
        elif policy.action == c.L7POLICY_ACTION_REJECT:
            actions.append(f"http-request deny {cond}")
        elif policy.action == c.L7POLICY_ACTION_REDIRECT_TO_URL:
            actions.append(f"{_redirect(policy, 'location', policy.redirect_url)} {cond}")
        elif policy.action == c.L7POLICY_ACTION_REDIRECT_PREFIX:
            actions.append(f"{_redirect(policy, 'prefix', policy.redirect_prefix)} {cond}")
        else:
            raise UnrenderableValue(
                f"l7 policy {policy.id}: action {policy.action!r} is not supported"
            )
    if decided:
        actions.append(f"use_backend %[var({VAR})] if {{ var({VAR}) -m found }}")
    return (*acls, *guard, *actions)
