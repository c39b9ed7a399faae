"""Which Octavia rule guards each route: one table, read at the door.

Every route of the API is listed here by method and path template (without
the ``/v2`` or ``/v2.0`` prefix, parameters written ``{}`` whatever their
name), with the rule Octavia checks for it and the project the check is made
against:

- ``CALLER`` (most): the caller's own project. That is Octavia's check for a
  create, a list or the catalogue; for an object of another project the
  check is made again where the object is loaded (``RequestContext``).
- ``PATH``: the project named in the path (quotas of a project).
- a literal: ``GET /lbaas/quotas/defaults`` is, for Octavia, the quota of a
  project called "defaults".

``PUBLIC`` routes need no rule: version documents, the health check,
``/metrics``, and Keystone's project look-ups (always 403, for the CLI).
A route missing from the table is refused with 403 (and a test walks
``app.routes`` so that none is forgotten).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hydria.api.auth.octavia_rules import hydria_rule_name, rule_name

CALLER = "caller"
PATH = "path"


@dataclass(frozen=True)
class Operation:
    rule: str | None  # None: public
    target: str = CALLER

    @property
    def global_rule(self) -> str | None:
        """Octavia's "-global" twin of a list rule (others' objects too), if any."""
        if self.rule is not None and self.rule.endswith(":get_all"):
            return self.rule + "-global"
        return None


PUBLIC = Operation(rule=None)


def _crud(kind: str, path: str, *, key: str = "{}") -> dict[tuple[str, str], Operation]:
    return {
        ("GET", path): Operation(rule_name(kind, "get_all")),
        ("POST", path): Operation(rule_name(kind, "post")),
        ("GET", f"{path}/{key}"): Operation(rule_name(kind, "get_one")),
        ("PUT", f"{path}/{key}"): Operation(rule_name(kind, "put")),
        ("DELETE", f"{path}/{key}"): Operation(rule_name(kind, "delete")),
    }


def _op(kind: str, action: str, target: str = CALLER) -> Operation:
    return Operation(rule_name(kind, action), target)


TABLE: dict[tuple[str, str], Operation] = {
    **_crud("loadbalancer", "/lbaas/loadbalancers"),
    ("GET", "/lbaas/loadbalancers/{}/stats"): _op("loadbalancer", "get_stats"),
    ("GET", "/lbaas/loadbalancers/{}/status"): _op("loadbalancer", "get_status"),
    ("GET", "/lbaas/loadbalancers/{}/statuses"): _op("loadbalancer", "get_status"),
    ("PUT", "/lbaas/loadbalancers/{}/failover"): _op("loadbalancer", "put_failover"),
    **_crud("listener", "/lbaas/listeners"),
    ("GET", "/lbaas/listeners/{}/stats"): _op("listener", "get_stats"),
    **_crud("pool", "/lbaas/pools"),
    **_crud("member", "/lbaas/pools/{}/members"),
    ("PUT", "/lbaas/pools/{}/members"): _op("member", "put"),  # batch update
    **_crud("healthmonitor", "/lbaas/healthmonitors"),
    **_crud("l7policy", "/lbaas/l7policies"),
    **_crud("l7rule", "/lbaas/l7policies/{}/rules"),
    ("GET", "/lbaas/quotas"): _op("quota", "get_all"),
    ("GET", "/lbaas/quotas/defaults"): _op("quota", "get_one", "defaults"),
    ("GET", "/lbaas/quotas/{}"): _op("quota", "get_one", PATH),
    ("PUT", "/lbaas/quotas/{}"): _op("quota", "put", PATH),
    ("DELETE", "/lbaas/quotas/{}"): _op("quota", "delete", PATH),
    ("GET", "/lbaas/quotas/{}/default"): _op("quota", "get_defaults", PATH),
    ("GET", "/lbaas/providers"): _op("provider", "get_all"),
    ("GET", "/lbaas/providers/{}/flavor_capabilities"): _op("provider-flavor", "get_all"),
    ("GET", "/lbaas/providers/{}/availability_zone_capabilities"): _op(
        "provider-availability-zone", "get_all"
    ),
    **_crud("flavor", "/lbaas/flavors"),
    **_crud("flavor-profile", "/lbaas/flavorprofiles"),
    **_crud("availability-zone", "/lbaas/availabilityzones"),
    **_crud("availability-zone-profile", "/lbaas/availabilityzoneprofiles"),
    ("GET", "/octavia/amphorae"): _op("amphora", "get_all"),
    ("GET", "/octavia/amphorae/{}"): _op("amphora", "get_one"),
    ("GET", "/octavia/amphorae/{}/stats"): _op("amphora", "get_stats"),
    ("PUT", "/octavia/amphorae/{}/failover"): _op("amphora", "put_failover"),
    ("PUT", "/octavia/amphorae/{}/config"): _op("amphora", "put_config"),
    ("DELETE", "/octavia/amphorae/{}"): _op("amphora", "delete"),
    # Hydria's own: the Neutron-style VIP subnet reads and the failover alarms.
    ("GET", "/subnets"): Operation(hydria_rule_name("subnet", "get_all")),
    ("GET", "/subnets/{}"): Operation(hydria_rule_name("subnet", "get_one")),
    ("GET", "/networks"): Operation(hydria_rule_name("network", "get_all")),
    ("GET", "/networks/{}"): Operation(hydria_rule_name("network", "get_one")),
    ("GET", "/hydria/alarms"): Operation(hydria_rule_name("alarm", "get_all")),
    # The embedded secret store (Barbican's v1 paths; always the caller's project).
    **{
        (method, prefix + path + tail): Operation(hydria_rule_name(kind, action))
        for prefix in ("/v1", "")
        for kind, path, tail_actions in (
            (
                "secret",
                "/secrets",
                (
                    ("GET", "", "get_all"),
                    ("GET", "/", "get_all"),
                    ("POST", "", "post"),
                    ("POST", "/", "post"),
                    ("GET", "/{}", "get_one"),
                    ("PUT", "/{}", "put"),
                    ("GET", "/{}/payload", "decrypt"),
                    ("DELETE", "/{}", "delete"),
                ),
            ),
            (
                "container",
                "/containers",
                (
                    ("GET", "", "get_all"),
                    ("GET", "/", "get_all"),
                    ("POST", "", "post"),
                    ("POST", "/", "post"),
                    ("GET", "/{}", "get_one"),
                    ("DELETE", "/{}", "delete"),
                ),
            ),
        )
        for method, tail, action in tail_actions
    },
}

# Paths served without a version prefix, and the version documents themselves.
UNPREFIXED_PUBLIC = frozenset(
    {
        "/",
        "/healthcheck",
        "/metrics",
        "/projects",
        "/projects/{}",
        "",
        "/lbaas",
        "/octavia",
        "/v1",
        "/v1/",
    }
)

_PREFIX = re.compile(r"^/v2(?:\.0)?(?=/|$)")
_PARAM = re.compile(r"\{[^}]*\}")


def template_key(path_template: str) -> str:
    """``/v2.0/lbaas/pools/{pool_id}/members`` -> ``/lbaas/pools/{}/members``."""
    return _PARAM.sub("{}", _PREFIX.sub("", path_template, count=1))


def operation_for(method: str, path_template: str) -> Operation | None:
    """The operation of a route, or None when the table does not know it."""
    key = template_key(path_template)
    if key in UNPREFIXED_PUBLIC:
        return PUBLIC
    return TABLE.get(("GET" if method == "HEAD" else method, key))
