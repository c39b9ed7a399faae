"""Deciding one rule for one caller and one project: oslo.policy, or noauth's rules.

``OctaviaPolicy`` is an oslo.policy ``Enforcer`` with Octavia's defaults
(``octavia_rules``) on a configuration object of its own (Hydria keeps no
global oslo.config), the operator's ``HYDRIA_POLICY_FILE`` over them, and
``HYDRIA_POLICY_ENFORCE_NEW_DEFAULTS``. Credentials are those Octavia
builds: oslo.context's policy values of the validated token plus
``is_admin`` (``context_is_admin``). A token of the wrong scope (a system or
domain token for Octavia's project-scoped rules) is refused like any other
caller the policy does not allow, with a 403: Octavia lets oslo.policy's
``InvalidScope`` escape as a server error there.

Each answer of oslo.policy is remembered (``DecisionMemo``): an ``enforce``
walks the rule's tree and asks ``inspect`` for the signature of every check
on the way (measured ~0.1 ms a rule with an idle machine, 0.4..1 ms under
load), and a list asks three rules (``context_is_admin``, ``get_all``,
``get_all-global``) where a GET of one object asks two, which was the gap
between a Keystone list and a noauth one in ``bench/auth.py``. An answer
depends only on the rule, the target and the credentials while the rules
stay the same, so the memo is keyed by all three and emptied when the
operator's policy file changes (oslo.policy reloads it then). A policy with a
rule that asks a remote server (``http:``/``https:`` checks) is not remembered.

``NoauthPolicy`` keeps Hydria's documented noauth behaviour: nobody proves who
they are, so the caller's ``X-Project-Id`` scopes what it sees and changes
(``X-Roles: admin`` lifts that), while Octavia's admin-only operations
(amphorae, failover, the catalogue's writes, quotas) are open to every
caller, as Octavia's noauth does for all of them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from oslo_config import cfg
from oslo_policy import policy

from hydria.api.auth import octavia_rules

log = logging.getLogger(__name__)

ADMIN_ROLES = frozenset({"admin", "load-balancer_admin"})


class Policy(Protocol):
    def allows(self, rule: str, project_id: str | None, creds: Mapping[str, Any]) -> bool:
        """May a caller with ``creds`` apply ``rule`` to objects of ``project_id``?"""
        ...


def _frozen(value: Any) -> Any:
    """A hashable form of a credential's value (lists and dicts of plain values)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    hash(value)  # anything else must hash as it is (TypeError otherwise)
    return value


class DecisionMemo:
    """oslo.policy's answers by (rule, target, credentials), for as long as the
    policy file (if any) keeps its modification time, size and inode.

    ``load`` (re)reads the rules and says whether their answers may be remembered
    (not when a rule asks a remote server): it is called here, once at the start and
    once at each change of the file, rather than asked again at every miss."""

    def __init__(
        self, policy_file: str, load: Callable[[], bool], *, max_entries: int = 4096
    ) -> None:
        self.policy_file = policy_file
        self.max_entries = max_entries
        self._load = load
        self._answers: dict[Any, bool] = {}
        self._stamp = self._file_stamp()  # before loading: a change meanwhile loads again
        self._remembers = load()
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if not self.policy_file:
            return None
        try:
            st = os.stat(self.policy_file)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    @staticmethod
    def key(rule: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> Any:
        """The memo's key, or None when a value cannot be hashed (then not remembered)."""
        try:
            return (rule, _frozen(dict(target)), _frozen(dict(creds)))
        except TypeError:
            return None

    def _freshen(self, stamp: tuple[int, int, int] | None) -> None:
        """Forget everything if the file changed (call with the lock held)."""
        if stamp != self._stamp:
            self._answers.clear()
            self._stamp = stamp
            self._remembers = self._load()

    def get(self, key: Any) -> bool | None:
        stamp = self._file_stamp()
        with self._lock:
            self._freshen(stamp)
            return self._answers.get(key)

    def remembers(self) -> bool:
        """Are answers remembered under the rules in force (none asks a remote server)?"""
        stamp = self._file_stamp()
        with self._lock:
            self._freshen(stamp)
            return self._remembers

    def put(self, key: Any, answer: bool) -> None:
        with self._lock:
            if not self._remembers:
                return
            if len(self._answers) >= self.max_entries:
                self._answers.clear()  # callers come back with few distinct credentials
            self._answers[key] = answer


class OctaviaPolicy:
    def __init__(self, *, policy_file: str = "", enforce_new_defaults: bool = True) -> None:
        if policy_file and not Path(policy_file).is_file():
            raise FileNotFoundError(policy_file)
        conf = cfg.ConfigOpts()
        conf([], project="hydria", default_config_files=[], default_config_dirs=[])
        # oslo.policy only applies its registered defaults while reading a file; with
        # no file of the operator's it reads an empty one (never a policy.yaml found
        # in some default folder).
        self._enforcer = policy.Enforcer(conf, policy_file=policy_file or os.devnull)
        # the deprecated role defaults are Octavia's choice to keep, not news at each start
        self._enforcer.suppress_deprecation_warnings = True
        self._enforcer.suppress_default_change_warnings = True
        conf.set_override("enforce_new_defaults", enforce_new_defaults, group="oslo_policy")
        conf.set_override("policy_dirs", [], group="oslo_policy")
        self._enforcer.register_defaults(octavia_rules.all_rules())
        self._memo = DecisionMemo(policy_file, self._load_rules)

    def is_admin(self, creds: Mapping[str, Any]) -> bool:
        """Octavia's ``context_is_admin``, which it passes on as ``is_admin``."""
        return self._check("context_is_admin", dict(creds), creds)

    def allows(self, rule: str, project_id: str | None, creds: Mapping[str, Any]) -> bool:
        return self._check(rule, {"project_id": project_id}, creds)

    def asks_remote(self) -> bool:
        """Does a rule in force ask a remote server (``http:`` checks), so that a
        decision may wait on the network?"""
        return not self._memo.remembers()

    def _check(self, rule: str, target: dict[str, Any], creds: Mapping[str, Any]) -> bool:
        key = self._memo.key(rule, target, creds)
        if key is not None:
            known = self._memo.get(key)
            if known is not None:
                return known
        try:
            answer = bool(self._enforcer.enforce(rule, target, dict(creds), do_raise=False))
        except policy.InvalidScope:  # pragma: no cover - do_raise=False returns False
            answer = False
        if key is not None:
            self._memo.put(key, answer)
        return answer

    def _load_rules(self) -> bool:
        """(Re)read the rules; may their answers be remembered? Not when a rule asks a
        remote server (``http:`` checks), whose answer may change at any time."""
        self._enforcer.load_rules()
        return not any(
            "http:" in str(check) or "https:" in str(check)
            for check in self._enforcer.rules.values()
        )

    def rule_names(self) -> set[str]:
        return set(self._enforcer.rules)


class NoauthPolicy:
    # Rules whose target is not the caller's project but that noauth callers pass anyway.
    OPEN_PREFIXES = (octavia_rules.rule_name("quota", ""),)

    def allows(self, rule: str, project_id: str | None, creds: Mapping[str, Any]) -> bool:
        if creds.get("is_admin"):
            return True
        if rule.endswith("get_all-global"):
            return rule.startswith(self.OPEN_PREFIXES)
        return project_id == creds.get("project_id") or rule.startswith(self.OPEN_PREFIXES)
