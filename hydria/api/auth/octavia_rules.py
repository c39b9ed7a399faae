"""Octavia 19's policy, as oslo.policy rule defaults: names, checks and scopes.

Operators' policy files are written against Octavia's rule names
(``os_load-balancer_api:loadbalancer:get_one`` ...) and its role rules
(``load-balancer:read``, ``load-balancer:member_and_owner`` ...), so Hydria
registers the same names with the same default checks. Two generations of
defaults live side by side, as in Octavia:

- the secure-RBAC defaults, used by default (oslo.policy's
  ``enforce_new_defaults``): Keystone's ``reader`` and ``member`` roles in the
  object's project, ``admin`` for everything and everyone;
- the deprecated "advanced RBAC" roles (``load-balancer_observer``,
  ``load-balancer_global_observer``, ``load-balancer_member``,
  ``load-balancer_quota_admin``, ``load-balancer_admin``), which oslo.policy
  ORs in when ``HYDRIA_POLICY_ENFORCE_NEW_DEFAULTS=false``.

Every check is made against a target ``{"project_id": ...}``: the project of
the object (or of the caller, for a create or a list), so ``project_id:%(project_id)s``
is what ties a role to its project. Hydria's own endpoints (VIP subnets,
alarms) get rules in the ``hydria:`` namespace built on the same role rules.
"""

from __future__ import annotations

from oslo_policy import policy

PROJECT = ["project"]
API = "os_load-balancer_api"

ADMIN = "rule:load-balancer:admin"
READ = "rule:load-balancer:read"
READ_GLOBAL = "rule:load-balancer:read-global"
WRITE = "rule:load-balancer:write"
READ_QUOTA = "rule:load-balancer:read-quota"
READ_QUOTA_GLOBAL = "rule:load-balancer:read-quota-global"
WRITE_QUOTA = "rule:load-balancer:write-quota"

SECRET_READ = "rule:project-reader or rule:project-member or rule:load-balancer:admin"
SECRET_WRITE = "rule:project-member or rule:load-balancer:admin"

_OLD = "deprecated by Octavia in Wallaby for Keystone's default roles (reader, member, admin)"


def _deprecated(name: str, check: str) -> policy.DeprecatedRule:
    return policy.DeprecatedRule(
        name=name, check_str=check, deprecated_reason=_OLD, deprecated_since="W"
    )


def _role(name: str, check: str, old: str | None = None) -> policy.RuleDefault:
    return policy.RuleDefault(
        name=name,
        check_str=check,
        scope_types=PROJECT,
        deprecated_rule=_deprecated(name, old) if old else None,
    )


# Who is who: Keystone's default roles and Octavia's own role names.
ROLE_RULES = [
    _role("load-balancer:owner", "project_id:%(project_id)s"),
    _role("project-member", "role:member and project_id:%(project_id)s"),
    _role("project-reader", "role:reader and project_id:%(project_id)s"),
    _role("service", "role:service"),
    _role("context_is_admin", "role:admin", "role:admin or role:load-balancer_admin"),
    # is_admin:True is the noauth switch in Octavia; Hydria never sets it under keystone
    _role(
        "load-balancer:admin",
        "is_admin:True or role:admin",
        "is_admin:True or role:admin or role:load-balancer_admin",
    ),
    _role("load-balancer:global_observer", "role:admin", "role:load-balancer_global_observer"),
    _role(
        "load-balancer:member_and_owner",
        "rule:project-member",
        "role:load-balancer_member and rule:load-balancer:owner",
    ),
    _role(
        "load-balancer:observer_and_owner",
        "rule:project-reader",
        "role:load-balancer_observer and rule:load-balancer:owner",
    ),
    _role("load-balancer:quota-admin", "role:admin", "role:load-balancer_quota_admin"),
    # What the operations below are made of.
    _role(
        "load-balancer:read",
        "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer"
        " or rule:load-balancer:member_and_owner or rule:load-balancer:admin",
    ),
    _role(
        "load-balancer:read-global",
        "rule:load-balancer:global_observer or rule:load-balancer:admin",
    ),
    _role("load-balancer:write", "rule:load-balancer:member_and_owner or rule:load-balancer:admin"),
    _role(
        "load-balancer:read-quota",
        "rule:load-balancer:observer_and_owner or rule:load-balancer:global_observer"
        " or rule:load-balancer:member_and_owner or rule:load-balancer:quota-admin"
        " or rule:load-balancer:admin",
    ),
    _role(
        "load-balancer:read-quota-global",
        "rule:load-balancer:global_observer or rule:load-balancer:quota-admin"
        " or rule:load-balancer:admin",
    ),
    _role(
        "load-balancer:write-quota", "rule:load-balancer:quota-admin or rule:load-balancer:admin"
    ),
]

# (kind, action, default check, what it allows): one line per API operation.
_LBAAS_CRUD = {
    "get_all": READ,
    "get_all-global": READ_GLOBAL,
    "post": WRITE,
    "get_one": READ,
    "put": WRITE,
    "delete": WRITE,
}
_CATALOG = {"get_all": READ, "post": ADMIN, "put": ADMIN, "get_one": READ, "delete": ADMIN}
_ADMIN_CRUD = {"get_all": ADMIN, "post": ADMIN, "put": ADMIN, "get_one": ADMIN, "delete": ADMIN}

OPERATIONS: dict[str, dict[str, str]] = {
    "loadbalancer": {
        **_LBAAS_CRUD,
        "post:vip_sg_ids": WRITE,
        "put:vip_sg_ids": WRITE,
        "get_stats": READ,
        "get_status": READ,
        "put_failover": ADMIN,
    },
    "listener": {**_LBAAS_CRUD, "get_stats": READ},
    "pool": dict(_LBAAS_CRUD),
    "member": {
        "get_all": f"{READ} or rule:service",
        "post": WRITE,
        "get_one": READ,
        "put": WRITE,
        "delete": WRITE,
    },
    "healthmonitor": dict(_LBAAS_CRUD),
    "l7policy": dict(_LBAAS_CRUD),
    "l7rule": {"get_all": READ, "post": WRITE, "get_one": READ, "put": WRITE, "delete": WRITE},
    "quota": {
        "get_all": READ_QUOTA,
        "get_all-global": READ_QUOTA_GLOBAL,
        "get_one": READ_QUOTA,
        "put": WRITE_QUOTA,
        "delete": WRITE_QUOTA,
        "get_defaults": READ_QUOTA,
    },
    "amphora": {
        "get_all": ADMIN,
        "get_one": ADMIN,
        "delete": ADMIN,
        "put_config": ADMIN,
        "put_failover": ADMIN,
        "get_stats": ADMIN,
    },
    "provider": {"get_all": READ},
    "provider-flavor": {"get_all": ADMIN},
    "provider-availability-zone": {"get_all": ADMIN},
    "flavor": dict(_CATALOG),
    "flavor-profile": dict(_ADMIN_CRUD),
    "availability-zone": dict(_CATALOG),
    "availability-zone-profile": dict(_ADMIN_CRUD),
}

# Hydria's own endpoints, in a namespace of their own.
HYDRIA_OPERATIONS: dict[str, dict[str, str]] = {
    "subnet": {"get_all": READ, "get_one": READ},
    "network": {"get_all": READ, "get_one": READ},
    "alarm": {"get_all": ADMIN},
    # the embedded secret store, as Barbican's defaults: readers of the project see
    # what exists, members (and admins) store, decrypt and delete; objects are only
    # ever looked for in the caller's own project (hydria.services.secrets)
    "secret": {
        "get_all": SECRET_READ,
        "get_one": SECRET_READ,
        "post": SECRET_WRITE,
        "put": SECRET_WRITE,
        "decrypt": SECRET_WRITE,
        "delete": SECRET_WRITE,
    },
    "container": {
        "get_all": SECRET_READ,
        "get_one": SECRET_READ,
        "post": SECRET_WRITE,
        "delete": SECRET_WRITE,
    },
}


def rule_name(kind: str, action: str) -> str:
    return f"{API}:{kind}:{action}"


def hydria_rule_name(kind: str, action: str) -> str:
    return f"hydria:{kind}:{action}"


def operation_rules() -> list[policy.RuleDefault]:
    rules = [
        policy.RuleDefault(name=rule_name(kind, action), check_str=check, scope_types=PROJECT)
        for kind, actions in OPERATIONS.items()
        for action, check in actions.items()
    ]
    rules += [
        policy.RuleDefault(
            name=hydria_rule_name(kind, action), check_str=check, scope_types=PROJECT
        )
        for kind, actions in HYDRIA_OPERATIONS.items()
        for action, check in actions.items()
    ]
    return rules


def all_rules() -> list[policy.RuleDefault]:
    return ROLE_RULES + operation_rules()
