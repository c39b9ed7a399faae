"""Octavia's policy at the door: every route has a rule, every role gets Octavia's answer.

The identity comes from headers (``tests.support.identity``) so that the whole
table runs in-process; the policy and the door are the real ones.
``tests/keystone`` drives the same checks through a real Keystone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from hydria.api.app import create_app
from hydria.api.auth.enforcer import OctaviaPolicy
from hydria.api.auth.operations import PUBLIC, operation_for
from hydria.core import constants as c
from tests.api.conftest import TestClient, snapshot
from tests.support.identity import HeaderIdentity, keystone_settings

FORBIDDEN = "Policy does not allow this request to be performed."
OWN = c.DEFAULT_PROJECT_ID
NOBODY = "00000000-0000-0000-0000-000000000000"

# A Keystone role assignment and the roles its token carries (admin implies
# member implies reader in Keystone's bootstrap).
ROLES = {
    "admin": "admin,member,reader",
    "member": "member,reader",
    "reader": "reader",
    "load-balancer_admin": "load-balancer_admin",
    "load-balancer_global_observer": "load-balancer_global_observer",
    "load-balancer_quota_admin": "load-balancer_quota_admin",
    "load-balancer_member": "load-balancer_member",
    "load-balancer_observer": "load-balancer_observer",
    "no role": "",
}

# Octavia 19's defaults, stated as its documentation does (not read from Hydria's table).
ADMIN_ONLY_KINDS = (
    "/octavia/amphorae",
    "/lbaas/flavorprofiles",
    "/lbaas/availabilityzoneprofiles",
    "_capabilities",
    "/hydria/alarms",
)
NEW = {
    "read": {"admin", "member", "reader"},
    "write": {"admin", "member"},
    "admin": {"admin"},
    "read-quota": {"admin", "member", "reader"},
    "write-quota": {"admin"},
    "other-quota": {"admin"},
}
LEGACY = {
    "read": NEW["read"]
    | {
        "load-balancer_admin",
        "load-balancer_global_observer",
        "load-balancer_member",
        "load-balancer_observer",
    },
    "write": NEW["write"] | {"load-balancer_admin", "load-balancer_member"},
    "admin": {"admin", "load-balancer_admin"},
    "read-quota": NEW["read-quota"]
    | {
        "load-balancer_admin",
        "load-balancer_global_observer",
        "load-balancer_quota_admin",
        "load-balancer_member",
        "load-balancer_observer",
    },
    "write-quota": {"admin", "load-balancer_admin", "load-balancer_quota_admin"},
    "other-quota": {
        "admin",
        "load-balancer_admin",
        "load-balancer_global_observer",
        "load-balancer_quota_admin",
    },
}


def kind_of(method: str, path: str) -> str:
    """Which of Octavia's default checks guards ``method path`` (own project)."""
    if any(k in path for k in ADMIN_ONLY_KINDS) or path.endswith("/failover"):
        return "admin"
    if "/quotas" in path:
        if path.endswith("/quotas/defaults"):  # Octavia: the quota of project "defaults"
            return "other-quota"
        return "read-quota" if method == "GET" else "write-quota"
    if re.search(r"/(flavors|availabilityzones)", path) and method != "GET":
        return "admin"
    return "read" if method == "GET" else "write"


def api_routes(app: Any) -> list[tuple[str, set[str]]]:
    """(path with its prefix, methods) of every API route the app serves."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.165 includes lazily
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        return [(r.path, set(r.methods)) for r in app.routes if isinstance(r, APIRoute)]
    return [
        (r.path, set(r.methods or ()))
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute)
    ]


def operations(app: Any) -> list[tuple[str, str, str]]:
    """(method, template, concrete path) for every route under /v2."""
    ops = []
    for path_template, methods in api_routes(app):
        if not path_template.startswith("/v2/"):
            continue
        route_path = path_template
        for method in sorted(methods - {"HEAD"}):
            if operation_for(method, route_path) is PUBLIC:
                continue
            path = re.sub(r"\{[^}]*project_id\}", OWN, route_path)
            ops.append((method, route_path, re.sub(r"\{[^}]*\}", NOBODY, path)))
    return ops


def client_for(db: Any, notifier: Any, tmp_path: Path, **extra: Any) -> TestClient:
    settings = keystone_settings(tmp_path, **extra)
    return TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity))


def test_every_route_has_a_rule(db, notifier, tmp_path: Path):
    app = create_app(db, notifier, keystone_settings(tmp_path), authenticator=HeaderIdentity)
    registered = OctaviaPolicy().rule_names()
    missing, unknown = [], []
    routes = api_routes(app)
    assert len(routes) > 100  # both prefixes of every resource
    for path, methods in routes:
        for method in methods:
            op = operation_for(method, path)
            if op is None:
                missing.append(f"{method} {path}")
            elif op.rule is not None and op.rule not in registered:
                unknown.append(op.rule)
    assert missing == [], "routes without a policy rule (hydria.api.auth.operations)"
    assert unknown == []


@pytest.mark.parametrize("new_defaults", [True, False], ids=["secure-rbac", "legacy-roles"])
def test_every_operation_and_role_gets_octavias_answer(
    db, notifier, tmp_path: Path, new_defaults: bool
):
    allowed_by = NEW if new_defaults else LEGACY
    with client_for(db, notifier, tmp_path, policy_enforce_new_defaults=new_defaults) as client:
        before = snapshot(db)
        checked = 0
        for method, template, path in operations(client.app):
            kind = kind_of(method, template)
            for role, roles in ROLES.items():
                allowed = role in allowed_by[kind]
                body = {} if method in ("POST", "PUT") else None
                r = client.request(
                    method, path, json=body, headers={"X-Roles": roles, "X-Project-Id": OWN}
                )
                assert r.status_code < 500, (method, path, role, r.text)
                if allowed:
                    assert r.status_code != 403, (method, path, role, r.text)
                else:
                    assert r.status_code == 403, (method, path, role, r.status_code)
                    assert r.json()["faultstring"] == FORBIDDEN
                checked += 1
        assert snapshot(db) == before
        assert checked > 9 * 60


def test_other_projects_objects_are_403_as_in_octavia(api, db, notifier, tmp_path: Path):
    lb = api.lb()
    listener = api.listener(lb["id"])
    pool = api.pool(lb["id"], listener_id=listener["id"])
    member = api.member(pool["id"])
    hm = api.hm(pool["id"])
    paths = [
        f"/v2/lbaas/loadbalancers/{lb['id']}",
        f"/v2/lbaas/listeners/{listener['id']}",
        f"/v2/lbaas/pools/{pool['id']}",
        f"/v2/lbaas/pools/{pool['id']}/members/{member['id']}",
        f"/v2/lbaas/healthmonitors/{hm['id']}",
        f"/v2/lbaas/loadbalancers/{lb['id']}/stats",
        f"/v2/lbaas/loadbalancers/{lb['id']}/status",
        f"/v2/lbaas/listeners/{listener['id']}/stats",
    ]
    other = {"X-Project-Id": "project-b", "X-Roles": "member,reader"}
    with client_for(db, notifier, tmp_path) as client:
        before = snapshot(db)
        for path in paths:
            for method in ("GET", "PUT", "DELETE"):
                if method != "GET" and path.endswith(("stats", "status")):
                    continue
                key = next(
                    k
                    for k in ("member", "healthmonitor", "listener", "pool", "loadbalancer")
                    if f"/{k}" in path
                )
                r = client.request(
                    method,
                    path,
                    headers=other,
                    json={key: {"name": "x"}} if method == "PUT" else None,
                )
                assert r.status_code == 403, (method, path, r.text)
                assert r.json() == {
                    "faultcode": "Client",
                    "faultstring": FORBIDDEN,
                    "debuginfo": None,
                }
        r = client.post(
            f"/v2/lbaas/pools/{pool['id']}/members",
            headers=other,
            json={"member": {"address": "127.0.0.9", "protocol_port": 80}},
        )
        assert r.status_code == 403
        r = client.post(
            "/v2/lbaas/loadbalancers",
            headers=other,
            json={"loadbalancer": {"vip_subnet_id": lb["vip_subnet_id"], "project_id": OWN}},
        )
        assert r.status_code == 403
        for coll in ("loadbalancers", "listeners", "pools", "healthmonitors"):
            r = client.get(f"/v2/lbaas/{coll}", headers=other)
            assert r.json()[coll] == []
            r = client.get(f"/v2/lbaas/{coll}", headers=other, params={"project_id": OWN})
            assert r.status_code == 403
        assert snapshot(db) == before
        admin = {"X-Project-Id": "project-b", "X-Roles": "admin,member,reader"}
        for path in paths:
            assert client.get(path, headers=admin).status_code == 200, path
        lbs = client.get("/v2/lbaas/loadbalancers", headers=admin).json()["loadbalancers"]
        assert [x["id"] for x in lbs] == [lb["id"]]
        # a system-scoped token is not Octavia's (project-scoped) and is refused, not a 500
        r = client.get(
            "/v2/lbaas/loadbalancers", headers={"X-System-Scope": "all", "X-Roles": "admin"}
        )
        assert r.status_code == 403


def test_operator_policy_file_overrides(db, notifier, tmp_path: Path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        '"os_load-balancer_api:amphora:get_all": "role:member"\n'
        '"os_load-balancer_api:loadbalancer:get_all": "!"\n'
    )
    with client_for(db, notifier, tmp_path, policy_file=str(policy)) as client:
        member = {"X-Roles": "member,reader"}
        assert client.get("/v2/octavia/amphorae", headers=member).status_code == 200
        assert client.get("/v2/lbaas/loadbalancers", headers=member).status_code == 403
        assert client.get("/v2/lbaas/pools", headers=member).status_code == 200


def test_real_auth_token_refuses_a_missing_token_and_skips_version_documents(
    db, notifier, tmp_path: Path
):
    """keystonemiddleware's own 401 (no token: Keystone is not asked), and no token for /."""
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings)) as client:
        assert client.get("/").status_code == 200
        assert client.get("/metrics").status_code == 200
        r = client.get("/v2/lbaas/loadbalancers", headers={"X-Project-Id": OWN, "X-Roles": "admin"})
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == f'Keystone uri="{settings.keystone_url}"'


@pytest.mark.parametrize("new_defaults", [True, False], ids=["secure-rbac", "legacy-roles"])
def test_keystone_admins_see_what_octavia_shows_admins(
    api, db, notifier, tmp_path: Path, new_defaults: bool
):
    """``context_is_admin`` makes the context an admin's, as Octavia's: the failure reason
    of a load balancer (an admin-only extension) shows for admins, not for members."""
    from sqlalchemy import update

    from hydria.db.models import LoadBalancer

    lb = api.lb()
    with db.session() as session:
        session.execute(
            update(LoadBalancer)
            .where(LoadBalancer.id == lb["id"])
            .values(error_reason="agent never answered")
        )
    path = f"/v2/lbaas/loadbalancers/{lb['id']}"
    admins = ["admin,member,reader"] + ([] if new_defaults else ["load-balancer_admin"])
    with client_for(db, notifier, tmp_path, policy_enforce_new_defaults=new_defaults) as client:
        for roles in admins:
            shown = client.get(
                path, headers={"X-Project-Id": "project-b", "X-Roles": roles}
            ).json()["loadbalancer"]
            assert shown["hydria_error_reason"] == "agent never answered", roles
        for roles in ("member,reader", "load-balancer_member", "load-balancer_global_observer"):
            r = client.get(path, headers={"X-Project-Id": OWN, "X-Roles": roles})
            assert r.status_code in (200, 403), r.text
            if r.status_code == 200:
                assert "hydria_error_reason" not in r.json()["loadbalancer"], roles


def test_an_admin_is_still_subject_to_the_operators_policy(api, db, notifier, tmp_path: Path):
    """``is_admin`` shows admin-only fields; which projects an admin reaches is still the
    policy's answer, as in Octavia (here: no listing of other projects)."""
    lb = api.lb()
    policy = tmp_path / "policy.yaml"
    policy.write_text('"os_load-balancer_api:loadbalancer:get_all-global": "!"\n')
    admin = {"X-Project-Id": "project-b", "X-Roles": "admin,member,reader"}
    with client_for(db, notifier, tmp_path, policy_file=str(policy)) as client:
        assert client.get("/v2/lbaas/loadbalancers", headers=admin).json()["loadbalancers"] == []
        shown = client.get(f"/v2/lbaas/loadbalancers/{lb['id']}", headers=admin).json()
        assert "hydria_error_reason" in shown["loadbalancer"]


MEMBER_CREDS = {"project_id": OWN, "roles": ["member", "reader"], "user_id": "u", "is_admin": False}


def test_a_decision_is_asked_of_oslo_policy_once_per_caller_and_rule(monkeypatch):
    """A warm caller's second request costs no rule walk (it was most of a Keystone list)."""
    octavia = OctaviaPolicy()
    asked: list[str] = []
    enforce = octavia._enforcer.enforce

    def counting(rule: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(rule)
        return enforce(rule, *args, **kwargs)

    monkeypatch.setattr(octavia._enforcer, "enforce", counting)
    rule = "os_load-balancer_api:loadbalancer:get_all"
    for _ in range(3):
        assert octavia.allows(rule, OWN, MEMBER_CREDS)
        assert not octavia.allows(f"{rule}-global", OWN, MEMBER_CREDS)
        assert not octavia.is_admin(MEMBER_CREDS)
    assert octavia.allows(rule, OWN, {**MEMBER_CREDS, "roles": ["admin"]})
    assert not octavia.allows(rule, OWN, {**MEMBER_CREDS, "roles": []})
    assert asked == [rule, f"{rule}-global", "context_is_admin", rule, rule]


def test_a_changed_policy_file_is_obeyed_at_once(tmp_path: Path):
    """Remembered answers go when the operator's file changes (oslo.policy reloads it)."""
    policy = tmp_path / "policy.yaml"
    rule = "os_load-balancer_api:loadbalancer:get_all"
    policy.write_text(f'"{rule}": "role:member"\n')
    octavia = OctaviaPolicy(policy_file=str(policy))
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    policy.write_text(f'"{rule}": "!"\n')
    assert not octavia.allows(rule, OWN, MEMBER_CREDS)
    policy.write_text(f'"{rule}": "role:reader"\n')
    assert octavia.allows(rule, OWN, MEMBER_CREDS)


def test_a_policy_that_asks_a_remote_server_is_never_remembered(tmp_path: Path, monkeypatch):
    policy = tmp_path / "policy.yaml"
    rule = "os_load-balancer_api:loadbalancer:get_all"
    policy.write_text(f'"{rule}": "role:member or http://127.0.0.1:9/never"\n')
    octavia = OctaviaPolicy(policy_file=str(policy))
    asked: list[str] = []
    enforce = octavia._enforcer.enforce

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(name)
        return enforce(name, *args, **kwargs)

    monkeypatch.setattr(octavia._enforcer, "enforce", counting)
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert asked == [rule, rule]


def test_a_policy_file_that_comes_to_ask_a_remote_server_is_no_longer_remembered(
    tmp_path: Path, monkeypatch
):
    """Whether answers may be remembered is decided again when the file changes."""
    policy = tmp_path / "policy.yaml"
    rule = "os_load-balancer_api:loadbalancer:get_all"
    policy.write_text(f'"{rule}": "role:member"\n')
    octavia = OctaviaPolicy(policy_file=str(policy))
    asked: list[str] = []
    enforce = octavia._enforcer.enforce

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(name)
        return enforce(name, *args, **kwargs)

    monkeypatch.setattr(octavia._enforcer, "enforce", counting)
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert asked == [rule]
    policy.write_text(f'"{rule}": "role:member or http://127.0.0.1:9/never"\n')
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert octavia.allows(rule, OWN, MEMBER_CREDS)
    assert asked == [rule, rule, rule]


def test_a_policy_that_asks_a_remote_server_is_said_to_wait_on_the_network(tmp_path: Path):
    """The door decides on the event loop only while no rule asks a remote server
    (``Guard.may_wait``); a file that comes to ask one is seen at the next request."""
    policy = tmp_path / "policy.yaml"
    rule = "os_load-balancer_api:loadbalancer:get_all"
    policy.write_text(f'"{rule}": "role:member"\n')
    octavia = OctaviaPolicy(policy_file=str(policy))
    assert not octavia.asks_remote()
    policy.write_text(f'"{rule}": "role:member or http://127.0.0.1:9/never"\n')
    assert octavia.asks_remote()
    assert not OctaviaPolicy().asks_remote()
