"""Every API operation x every Octavia role, through a real Keystone.

Tokens are real Keystone tokens (one user per role and project, made once for
the module); Hydria validates them with keystonemiddleware and decides with
Octavia's rules. The expected answers are written below from Octavia 19's
policy defaults (``octavia/policies/*.py``), not read from Hydria's tables:

======================  ===================================  =====================================
rule (Octavia 19)       secure RBAC (Octavia 19's default)   + legacy roles (enforce_new_defaults
                                                             off: Octavia's deprecated rules)
======================  ===================================  =====================================
load-balancer:read      reader, member, admin                + load-balancer_observer,
                        (of the object's project; admin:     _global_observer, _member, _admin
                        any)                                   (observer/member: own project)
read-global (lists of   admin                                + load-balancer_global_observer,
others' objects)                                               load-balancer_admin
load-balancer:write     member (own project), admin          + load-balancer_member (own), _admin
load-balancer:admin     admin                                + load-balancer_admin
read-quota              reader, member (own), admin          + _observer, _member (own),
                                                               _global_observer, _quota_admin, _admin
read-quota-global       admin                                + _global_observer, _quota_admin, _admin
write-quota             admin                                + load-balancer_quota_admin, _admin
======================  ===================================  =====================================

Keystone's bootstrap makes ``admin`` imply ``member`` imply ``reader``. Every
allowed write really happens (a create, update and delete of each kind, on
objects of its own), every refused one is Octavia's 403 body and changes
nothing. The control plane runs with the no-op driver: the data plane plays
no part in who may do what, and it keeps the table fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.hydria_proc import HydriaUp
from tests.support.keystone import ROLES, Keystone
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.keystone, pytest.mark.integration]

A, B = "project-a", "project-b"
REFUSAL = {
    "faultcode": "Client",
    "faultstring": "Policy does not allow this request to be performed.",
    "debuginfo": None,
}

# ---- Octavia 19's defaults ----------------------------------------------------
READ, READ_GLOBAL, WRITE, ADMIN = "read", "read-global", "write", "admin"
READ_QUOTA, READ_QUOTA_GLOBAL, WRITE_QUOTA = "read-quota", "read-quota-global", "write-quota"
OBS, GOBS, LBM = "load-balancer_observer", "load-balancer_global_observer", "load-balancer_member"
QADM, LBADM = "load-balancer_quota_admin", "load-balancer_admin"

SECURE_RBAC: dict[str, set[str]] = {
    READ: {"reader", "member", "admin"},
    READ_GLOBAL: {"admin"},
    WRITE: {"member", "admin"},
    ADMIN: {"admin"},
    READ_QUOTA: {"reader", "member", "admin"},
    READ_QUOTA_GLOBAL: {"admin"},
    WRITE_QUOTA: {"admin"},
}
LEGACY_ADDS: dict[str, set[str]] = {
    READ: {OBS, GOBS, LBM, LBADM},
    READ_GLOBAL: {GOBS, LBADM},
    WRITE: {LBM, LBADM},
    ADMIN: {LBADM},
    READ_QUOTA: {OBS, GOBS, LBM, QADM, LBADM},
    READ_QUOTA_GLOBAL: {GOBS, QADM, LBADM},
    WRITE_QUOTA: {QADM, LBADM},
}
# An object of another project: the owner-bound parts of a rule no longer match.
ON_OTHERS = {READ: READ_GLOBAL, WRITE: ADMIN, READ_QUOTA: READ_QUOTA_GLOBAL}

# ---- the operations --------------------------------------------------------------
# (method, path, body, rule, status when allowed). ``{x}`` are ids: the fixture's
# objects, or for a role allowed to write, the objects its own creates made (so
# that its updates and deletes act on them). ``{lb0}`` and ``{amp}`` are always
# the fixture's.
Row = tuple[str, str, dict[str, Any] | None, str, int]


def _named(kind: str, **fields: Any) -> dict[str, Any]:
    return {kind: fields}


READS: list[Row] = [
    ("GET", "/lbaas/loadbalancers", None, READ, 200),
    ("GET", "/lbaas/loadbalancers?project_id={B}", None, READ_GLOBAL, 200),
    ("GET", "/lbaas/loadbalancers/{lb}", None, READ, 200),
    ("GET", "/lbaas/loadbalancers/{lb}/stats", None, READ, 200),
    ("GET", "/lbaas/loadbalancers/{lb}/status", None, READ, 200),
    ("GET", "/lbaas/listeners", None, READ, 200),
    ("GET", "/lbaas/listeners?project_id={B}", None, READ_GLOBAL, 200),
    ("GET", "/lbaas/listeners/{listener}", None, READ, 200),
    ("GET", "/lbaas/listeners/{listener}/stats", None, READ, 200),
    ("GET", "/lbaas/pools", None, READ, 200),
    ("GET", "/lbaas/pools/{pool}", None, READ, 200),
    ("GET", "/lbaas/pools/{pool}/members", None, READ, 200),
    ("GET", "/lbaas/pools/{pool}/members/{member}", None, READ, 200),
    ("GET", "/lbaas/healthmonitors", None, READ, 200),
    ("GET", "/lbaas/healthmonitors/{hm}", None, READ, 200),
    ("GET", "/lbaas/l7policies", None, READ, 200),
    ("GET", "/lbaas/l7policies/{l7policy}", None, READ, 200),
    ("GET", "/lbaas/l7policies/{l7policy}/rules", None, READ, 200),
    ("GET", "/lbaas/l7policies/{l7policy}/rules/{l7rule}", None, READ, 200),
    ("GET", "/lbaas/quotas", None, READ_QUOTA, 200),
    ("GET", "/lbaas/quotas/defaults", None, READ_QUOTA_GLOBAL, 200),
    ("GET", "/lbaas/quotas/{A}", None, READ_QUOTA, 200),
    ("GET", "/lbaas/quotas/{A}/default", None, READ_QUOTA, 200),
    ("GET", "/lbaas/quotas/{B}", None, READ_QUOTA_GLOBAL, 200),
    ("GET", "/lbaas/providers", None, READ, 200),
    ("GET", "/lbaas/providers/amphora/flavor_capabilities", None, ADMIN, 200),
    ("GET", "/lbaas/providers/amphora/availability_zone_capabilities", None, ADMIN, 200),
    ("GET", "/lbaas/flavors", None, READ, 200),
    ("GET", "/lbaas/flavors/{flavor}", None, READ, 200),
    ("GET", "/lbaas/flavorprofiles", None, ADMIN, 200),
    ("GET", "/lbaas/flavorprofiles/{flavorprofile}", None, ADMIN, 200),
    ("GET", "/lbaas/availabilityzones", None, READ, 200),
    ("GET", "/lbaas/availabilityzones/{az}", None, READ, 200),
    ("GET", "/lbaas/availabilityzoneprofiles", None, ADMIN, 200),
    ("GET", "/lbaas/availabilityzoneprofiles/{azprofile}", None, ADMIN, 200),
    ("GET", "/octavia/amphorae", None, ADMIN, 200),
    ("GET", "/octavia/amphorae/{amp}", None, ADMIN, 200),
    ("GET", "/octavia/amphorae/{amp}/stats", None, ADMIN, 200),
]

WRITES: list[Row] = [
    # admin actions on the fixture's load balancer and amphora
    ("PUT", "/octavia/amphorae/{amp}/config", None, ADMIN, 202),
    ("DELETE", "/octavia/amphorae/{amp}", None, ADMIN, 409),  # only ERROR or spare ones
    ("PUT", "/octavia/amphorae/{amp}/failover", None, ADMIN, 202),  # {amp} is replaced
    ("PUT", "/lbaas/loadbalancers/{lb0}/failover", None, ADMIN, 202),
    # a whole tree of the role's own, created, updated and deleted
    ("POST", "/lbaas/loadbalancers", _named("loadbalancer", vip_subnet_id="{subnet}"), WRITE, 201),
    ("PUT", "/lbaas/loadbalancers/{lb}", _named("loadbalancer", name="{role}"), WRITE, 200),
    (
        "POST",
        "/lbaas/listeners",
        _named("listener", loadbalancer_id="{lb}", protocol="HTTP", protocol_port=81),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/listeners/{listener}", _named("listener", name="{role}"), WRITE, 200),
    (
        "POST",
        "/lbaas/pools",
        _named("pool", listener_id="{listener}", protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/pools/{pool}", _named("pool", name="{role}"), WRITE, 200),
    (
        "POST",
        "/lbaas/pools/{pool}/members",
        _named("member", address="127.0.0.1", protocol_port=8081),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/pools/{pool}/members/{member}", _named("member", name="{role}"), WRITE, 200),
    (
        "PUT",
        "/lbaas/pools/{pool}/members",
        {"members": [{"address": "127.0.0.1", "protocol_port": 8081, "name": "{role}"}]},
        WRITE,
        202,
    ),
    (
        "POST",
        "/lbaas/healthmonitors",
        _named("healthmonitor", pool_id="{pool}", type="TCP", delay=5, timeout=3, max_retries=3),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/healthmonitors/{hm}", _named("healthmonitor", name="{role}"), WRITE, 200),
    (
        "POST",
        "/lbaas/l7policies",
        _named("l7policy", listener_id="{listener}", action="REJECT"),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/l7policies/{l7policy}", _named("l7policy", name="{role}"), WRITE, 200),
    (
        "POST",
        "/lbaas/l7policies/{l7policy}/rules",
        _named("rule", type="PATH", compare_type="STARTS_WITH", value="/x"),
        WRITE,
        201,
    ),
    ("PUT", "/lbaas/l7policies/{l7policy}/rules/{l7rule}", _named("rule", value="/y"), WRITE, 200),
    ("DELETE", "/lbaas/l7policies/{l7policy}/rules/{l7rule}", None, WRITE, 204),
    ("DELETE", "/lbaas/l7policies/{l7policy}", None, WRITE, 204),
    ("DELETE", "/lbaas/healthmonitors/{hm}", None, WRITE, 204),
    ("DELETE", "/lbaas/pools/{pool}/members/{member}", None, WRITE, 204),
    ("DELETE", "/lbaas/pools/{pool}", None, WRITE, 204),
    ("DELETE", "/lbaas/listeners/{listener}", None, WRITE, 204),
    ("DELETE", "/lbaas/loadbalancers/{lb}?cascade=true", None, WRITE, 204),
    # quotas of the caller's own project
    ("PUT", "/lbaas/quotas/{A}", _named("quota", loadbalancer=50), WRITE_QUOTA, 202),
    ("DELETE", "/lbaas/quotas/{A}", None, WRITE_QUOTA, 202),
    # the operator's catalogue
    (
        "POST",
        "/lbaas/flavorprofiles",
        _named("flavorprofile", name="{role}", provider_name="amphora", flavor_data="{{}}"),
        ADMIN,
        201,
    ),
    ("PUT", "/lbaas/flavorprofiles/{flavorprofile}", _named("flavorprofile", name="x"), ADMIN, 200),
    (
        "POST",
        "/lbaas/flavors",
        _named("flavor", name="{role}", flavor_profile_id="{flavorprofile}"),
        ADMIN,
        201,
    ),
    ("PUT", "/lbaas/flavors/{flavor}", _named("flavor", description="x"), ADMIN, 200),
    ("DELETE", "/lbaas/flavors/{flavor}", None, ADMIN, 204),
    ("DELETE", "/lbaas/flavorprofiles/{flavorprofile}", None, ADMIN, 204),
    (
        "POST",
        "/lbaas/availabilityzoneprofiles",
        _named(
            "availability_zone_profile",
            name="{role}",
            provider_name="amphora",
            availability_zone_data="{{}}",
        ),
        ADMIN,
        201,
    ),
    (
        "PUT",
        "/lbaas/availabilityzoneprofiles/{azprofile}",
        _named("availability_zone_profile", name="x"),
        ADMIN,
        200,
    ),
    (
        "POST",
        "/lbaas/availabilityzones",
        _named("availability_zone", name="az-{role}", availability_zone_profile_id="{azprofile}"),
        ADMIN,
        201,
    ),
    (
        "PUT",
        "/lbaas/availabilityzones/{az}",
        _named("availability_zone", description="x"),
        ADMIN,
        200,
    ),
    ("DELETE", "/lbaas/availabilityzones/{az}", None, ADMIN, 204),
    ("DELETE", "/lbaas/availabilityzoneprofiles/{azprofile}", None, ADMIN, 204),
]

# the key of each kind's answer, and where a create's id goes
CREATES = {
    "/lbaas/loadbalancers": "lb",
    "/lbaas/listeners": "listener",
    "/lbaas/pools": "pool",
    "/lbaas/pools/{pool}/members": "member",
    "/lbaas/healthmonitors": "hm",
    "/lbaas/l7policies": "l7policy",
    "/lbaas/l7policies/{l7policy}/rules": "l7rule",
    "/lbaas/flavorprofiles": "flavorprofile",
    "/lbaas/flavors": "flavor",
    "/lbaas/availabilityzoneprofiles": "azprofile",
    "/lbaas/availabilityzones": "az",
}
ANSWER_KEY = {
    "lb": "loadbalancer",
    "hm": "healthmonitor",
    "l7rule": "rule",
    "azprofile": "availability_zone_profile",
    "az": "availability_zone",
}
LB_TREE = ("/lbaas/loadbalancers", "/lbaas/listeners", "/lbaas/pools", "/lbaas/healthmonitors")
LB_TREE += ("/lbaas/l7policies",)


def allowed_roles(mode: str) -> dict[str, set[str]]:
    if mode == "secure-rbac":
        return SECURE_RBAC
    return {rule: SECURE_RBAC[rule] | LEGACY_ADDS[rule] for rule in SECURE_RBAC}


def fill(template: Any, ids: dict[str, str]) -> Any:
    """The row's path or body with its ``{x}`` filled in."""
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids) for v in template]
    return template


# ---- fixtures ----------------------------------------------------------------------
@pytest.fixture(scope="module", params=["secure-rbac", "legacy-roles"])
def noop_up(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    keystone: Keystone,
    hydria_port: int,
) -> Iterator[HydriaUp]:
    """``hydria up --driver noop`` behind Keystone, in each of Octavia's policy modes."""
    env = {
        **keystone.hydria_env(),
        "HYDRIA_POLICY_ENFORCE_NEW_DEFAULTS": str(request.param == "secure-rbac").lower(),
    }
    up = HydriaUp(
        tmp_path_factory.mktemp("hydria") / "state", extra_env=env, args=("--driver", "noop")
    )
    up.port = hydria_port  # the port Keystone's catalog names, for the CLI
    up.endpoint = f"http://127.0.0.1:{hydria_port}"
    try:
        up.start()
        yield up
    finally:
        up.cleanup()
    assert pids_mentioning(str(up.state_dir)) == [], "processes left behind"


@pytest.fixture(scope="module")
def mode(noop_up: HydriaUp) -> str:
    return (
        "secure-rbac" if noop_up.env["HYDRIA_POLICY_ENFORCE_NEW_DEFAULTS"] == "true" else "legacy"
    )


@pytest.fixture(scope="module")
def tokens(keystone: Keystone) -> dict[tuple[str, str], str]:
    """One token per project and role, made once."""
    return {(p, role): keystone.token(p, role) for p in (A, B) for role in ROLES}


def client(noop_up: HydriaUp, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=noop_up.endpoint + "/v2", headers={"X-Auth-Token": token}, timeout=600
    )


def wait_lb(c: httpx.Client, lb_id: str, *, gone: bool = False) -> None:
    """Until the load balancer is ACTIVE (or, ``gone``, deleted)."""
    deadline = time.monotonic() + 600
    while True:
        r = c.get(f"/lbaas/loadbalancers/{lb_id}")
        if gone and r.status_code == 404:
            return
        if r.status_code == 200:
            status = r.json()["loadbalancer"]["provisioning_status"]
            if status == ("DELETED" if gone else "ACTIVE"):
                return
            assert status != "ERROR", r.text
        assert time.monotonic() < deadline, f"{lb_id}: {r.status_code} {r.text}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(
    noop_up: HydriaUp, keystone: Keystone, tokens: dict[tuple[str, str], str]
) -> dict[str, str]:
    """Project A's tree (one call: LB, listener, pool, member, monitor, L7 policy and
    rule), its amphora, and the operator's flavor and availability zone."""
    with client(noop_up, tokens[A, "member"]) as c:
        subnets = httpx.get(
            noop_up.endpoint + "/v2.0/subnets",
            params={"name": "public"},
            headers=c.headers,
            timeout=600,
        )
        subnet = subnets.json()["subnets"][0]["id"]
        body = {
            "loadbalancer": {
                "name": "a-lb",
                "vip_subnet_id": subnet,
                "listeners": [
                    {
                        "protocol": "HTTP",
                        "protocol_port": 80,
                        "l7policies": [
                            {
                                "action": "REJECT",
                                "rules": [
                                    {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"}
                                ],
                            }
                        ],
                        "default_pool": {
                            "name": "a-pool",
                            "protocol": "HTTP",
                            "lb_algorithm": "ROUND_ROBIN",
                            "members": [{"address": "127.0.0.1", "protocol_port": 8080}],
                            "healthmonitor": {
                                "type": "TCP",
                                "delay": 5,
                                "timeout": 3,
                                "max_retries": 3,
                            },
                        },
                    }
                ],
            }
        }
        r = c.post("/lbaas/loadbalancers", json=body)
        assert r.status_code == 201, r.text
        lb = r.json()["loadbalancer"]
        wait_lb(c, lb["id"])
        listener = c.get(f"/lbaas/listeners/{lb['listeners'][0]['id']}").json()["listener"]
        pool = c.get(f"/lbaas/pools/{listener['default_pool_id']}").json()["pool"]
        l7p = c.get(f"/lbaas/l7policies/{listener['l7policies'][0]['id']}").json()["l7policy"]
    with client(noop_up, tokens[A, "admin"]) as c:
        amps = c.get("/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()["amphorae"]
        fp = c.post(
            "/lbaas/flavorprofiles",
            json=_named("flavorprofile", name="fp", provider_name="amphora", flavor_data="{}"),
        ).json()["flavorprofile"]
        flavor = c.post(
            "/lbaas/flavors", json=_named("flavor", name="f", flavor_profile_id=fp["id"])
        ).json()["flavor"]
        azp = c.post(
            "/lbaas/availabilityzoneprofiles",
            json=_named(
                "availability_zone_profile",
                name="azp",
                provider_name="amphora",
                availability_zone_data="{}",
            ),
        ).json()["availability_zone_profile"]
        az = c.post(
            "/lbaas/availabilityzones",
            json=_named("availability_zone", name="az", availability_zone_profile_id=azp["id"]),
        ).json()["availability_zone"]
    return {
        "A": keystone.project_ids[A],
        "B": keystone.project_ids[B],
        "subnet": subnet,
        "lb": lb["id"],
        "lb0": lb["id"],
        "listener": listener["id"],
        "pool": pool["id"],
        "member": pool["members"][0]["id"],
        "hm": pool["healthmonitor_id"],
        "l7policy": l7p["id"],
        "l7rule": l7p["rules"][0]["id"],
        "amp": str(amps[0]["id"]),
        "flavorprofile": fp["id"],
        "flavor": flavor["id"],
        "azprofile": azp["id"],
        "az": az["name"],
    }


def a_tree(noop_up: HydriaUp, token: str, world: dict[str, str]) -> dict[str, Any]:
    """Project A's fixture objects as an admin sees them (statuses that move left out)."""
    paths = [
        row[1]
        for row in READS
        if "{" in row[1]
        and "?" not in row[1]
        and not row[1].endswith(("stats", "status"))
        and not row[1].startswith("/octavia")  # failovers replace the amphora
    ]
    seen = {}
    with client(noop_up, token) as c:
        for path in paths:
            seen[path] = steady(c.get(fill(path, world)).json())
    return seen


def steady(value: Any) -> Any:
    """``value`` without the fields that move on their own (statuses, times)."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in MOVING}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


MOVING = frozenset({"operating_status", "updated_at", "status", "cert_expiration"})


def current_amphora(noop_up: HydriaUp, token: str, lb_id: str) -> str:
    """The load balancer's amphora now (a failover replaces it)."""
    with client(noop_up, token) as c:
        amps = c.get("/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()["amphorae"]
    return str(next(a["id"] for a in amps if a["status"] == "ALLOCATED"))


def check(r: httpx.Response, allowed: bool, status: int, what: str) -> None:
    if allowed:
        assert r.status_code == status, f"{what}: {r.status_code} {r.text}"
    else:
        assert r.status_code == 403, f"{what}: {r.status_code} {r.text}"
        assert r.json() == REFUSAL, f"{what}: {r.text}"


# ---- the table ----------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_octavia_for(
    role: str,
    mode: str,
    noop_up: HydriaUp,
    tokens: dict[tuple[str, str], str],
    world: dict[str, str],
) -> None:
    rules = allowed_roles(mode)
    admin = tokens[A, "admin"]
    before = a_tree(noop_up, admin, world)
    ids = {**world, "role": role, "amp": current_amphora(noop_up, admin, world["lb0"])}
    with client(noop_up, tokens[A, role]) as c, client(noop_up, admin) as watcher:
        for method, path, body, rule, status in READS + WRITES:
            allowed = role in rules[rule]
            what = f"{mode} {role} {method} {path}"
            r = c.request(method, fill(path, ids), json=fill(body, ids))
            check(r, allowed, status, what)
            if not allowed:
                continue
            if method == "GET" and "?project_id" not in path:
                assert isinstance(r.json(), dict) and r.json(), what
            if method == "POST":
                kind = CREATES[path]
                ids[kind] = r.json()[ANSWER_KEY.get(kind, kind)]["id" if kind != "az" else "name"]
            # an allowed change of a load balancer's tree settles before the next one
            if method != "GET" and path.startswith(LB_TREE + ("/octavia",)):
                gone = method == "DELETE" and path.startswith("/lbaas/loadbalancers/{lb}?")
                wait_lb(watcher, ids["lb"], gone=gone)
                wait_lb(watcher, world["lb0"])
    # refused requests changed nothing; allowed ones acted on the role's own objects
    assert a_tree(noop_up, admin, world) == before


@pytest.mark.parametrize("role", ROLES)
def test_project_b_never_sees_or_changes_project_a(
    role: str,
    mode: str,
    noop_up: HydriaUp,
    tokens: dict[tuple[str, str], str],
    world: dict[str, str],
) -> None:
    """B's token against A's objects, L7 policies and rules, quota and amphora included:
    only a role that is not bound to its project (admin, global observer) reads them,
    only an admin could change them (not tried here: it would)."""
    rules = allowed_roles(mode)
    world = {**world, "amp": current_amphora(noop_up, tokens[A, "admin"], world["lb0"])}
    may_read = role in rules[READ_GLOBAL]
    may_read_quota = role in rules[READ_QUOTA_GLOBAL]
    admin = tokens[A, "admin"]
    before = a_tree(noop_up, admin, world)
    # each with a valid update (Octavia checks the body before the policy)
    objects = [
        ("/lbaas/loadbalancers/{lb0}", {"loadbalancer": {"name": "stolen"}}),
        ("/lbaas/listeners/{listener}", {"listener": {"name": "stolen"}}),
        ("/lbaas/pools/{pool}", {"pool": {"name": "stolen"}}),
        ("/lbaas/pools/{pool}/members/{member}", {"member": {"name": "stolen"}}),
        ("/lbaas/healthmonitors/{hm}", {"healthmonitor": {"name": "stolen"}}),
        ("/lbaas/l7policies/{l7policy}", {"l7policy": {"name": "stolen"}}),
        ("/lbaas/l7policies/{l7policy}/rules/{l7rule}", {"rule": {"value": "/stolen"}}),
    ]
    what = f"{mode} B/{role}"
    with client(noop_up, tokens[B, role]) as c:
        for path, update in objects:
            url = fill(path, world)
            check(c.get(url), may_read, 200, f"{what} GET {path}")
            if role not in rules[ADMIN]:
                check(c.put(url, json=update), False, 0, f"{what} PUT {path}")
                check(c.delete(url), False, 0, f"{what} DELETE {path}")
        for path in (
            "/lbaas/loadbalancers/{lb0}/stats",
            "/lbaas/loadbalancers/{lb0}/status",
            "/lbaas/listeners/{listener}/stats",
            "/lbaas/pools/{pool}/members",
            "/lbaas/l7policies/{l7policy}/rules",
        ):
            check(c.get(fill(path, world)), may_read, 200, f"{what} GET {path}")
        for coll in ("loadbalancers", "listeners", "pools", "healthmonitors", "l7policies"):
            r = c.get(f"/lbaas/{coll}")
            if r.status_code == 200 and not may_read:
                assert r.json()[coll] == [], f"{what} sees A's {coll}: {r.text}"
            check(
                c.get(f"/lbaas/{coll}", params={"project_id": world["A"]}),
                may_read,
                200,
                f"{what} list {coll} of A",
            )
        if role not in rules[ADMIN]:
            for method, path, body in (
                (
                    "POST",
                    "/lbaas/listeners",
                    _named("listener", loadbalancer_id="{lb0}", protocol="TCP", protocol_port=82),
                ),
                (
                    "POST",
                    "/lbaas/pools/{pool}/members",
                    _named("member", address="127.0.0.2", protocol_port=82),
                ),
                (
                    "POST",
                    "/lbaas/l7policies",
                    _named("l7policy", listener_id="{listener}", action="REJECT"),
                ),
                (
                    "POST",
                    "/lbaas/l7policies/{l7policy}/rules",
                    _named("rule", type="PATH", compare_type="EQUAL_TO", value="/b"),
                ),
                ("PUT", "/lbaas/pools/{pool}/members", {"members": []}),
                ("PUT", "/lbaas/loadbalancers/{lb0}/failover", None),
            ):
                r = c.request(method, fill(path, world), json=fill(body, world))
                check(r, False, 0, f"{what} {method} {path}")
        quota = f"/lbaas/quotas/{world['A']}"
        check(c.get(quota), may_read_quota, 200, f"{what} GET A's quota")
        if role not in rules[WRITE_QUOTA]:
            check(c.put(quota, json=_named("quota", loadbalancer=0)), False, 0, f"{what} PUT quota")
            check(c.delete(quota), False, 0, f"{what} DELETE quota")
        amp = fill("/octavia/amphorae/{amp}", world)
        check(c.get(amp), role in rules[ADMIN], 200, f"{what} GET A's amphora")
    assert a_tree(noop_up, admin, world) == before


def openstack(
    keystone: Keystone, project: str, role: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """The real CLI: password credentials, Hydria's endpoint from Keystone's catalog."""
    auth = keystone.auth(project, role)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        OS_AUTH_URL=auth["auth_url"],
        OS_USERNAME=auth["username"],
        OS_PASSWORD=auth["password"],
        OS_PROJECT_NAME=project,
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        OS_REGION_NAME="RegionOne",
        OS_IDENTITY_API_VERSION="3",
        OS_INTERFACE="public",
    )
    cmd = [str(Path(sys.executable).parent / "openstack"), "loadbalancer", *args, "-f", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_the_cli_with_passwords_gets_the_same_answers(
    mode: str, keystone: Keystone, world: dict[str, str]
) -> None:
    rules = allowed_roles(mode)
    for project, role, args, rule, expect in (
        (B, "member", ("l7policy", "list"), READ, []),
        (B, "reader", ("l7rule", "list", world["l7policy"]), READ_GLOBAL, None),
        (A, "reader", ("l7rule", "list", world["l7policy"]), READ, None),
        (A, "reader", ("quota", "show", world["A"]), READ_QUOTA, None),
        (A, OBS, ("amphora", "list"), ADMIN, None),
        (A, LBADM, ("flavorprofile", "list"), ADMIN, None),
    ):
        res = openstack(keystone, project, role, *args)
        allowed = role in rules[rule]
        what = f"{mode} {project}/{role} {' '.join(args)}"
        if allowed:
            assert res.returncode == 0, f"{what}: {res.stderr}"
            if expect is not None:
                assert json.loads(res.stdout) == expect, what
        else:
            assert res.returncode != 0, f"{what}: {res.stdout}"
            # refused, or (the CLI looks an id up before it lists) not found at all
            refusals = ("403", "Forbidden", "Policy", "Unable to locate")
            assert any(w in res.stderr for w in refusals), res.stderr
