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

``NoauthPolicy`` keeps Hydria's documented noauth behaviour: nobody proves who
they are, so the caller's ``X-Project-Id`` scopes what it sees and changes
(``X-Roles: admin`` lifts that), while Octavia's admin-only operations
(amphorae, failover, the catalogue's writes, quotas) are open to every
caller, as Octavia's noauth does for all of them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
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
        self._enforcer.load_rules()

    def is_admin(self, creds: Mapping[str, Any]) -> bool:
        """Octavia's ``context_is_admin``, which it passes on as ``is_admin``."""
        return self._check("context_is_admin", dict(creds), creds)

    def allows(self, rule: str, project_id: str | None, creds: Mapping[str, Any]) -> bool:
        return self._check(rule, {"project_id": project_id}, creds)

    def _check(self, rule: str, target: dict[str, Any], creds: Mapping[str, Any]) -> bool:
        try:
            return bool(self._enforcer.enforce(rule, target, dict(creds), do_raise=False))
        except policy.InvalidScope:  # pragma: no cover - do_raise=False returns False
            return False

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
