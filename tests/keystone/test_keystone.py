"""Hydria behind a real Keystone: the openstack CLI with passwords and the catalog,
projects kept apart, tokens refused when they should be."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.hydria_proc import HydriaUp
from tests.support.keystone import Keystone

pytestmark = [pytest.mark.keystone, pytest.mark.integration, pytest.mark.haproxy]

BIN = Path(sys.executable).parent
A, B = "project-a", "project-b"
FORBIDDEN = "Policy does not allow this request to be performed."


def cli(keystone: Keystone, project: str, role: str, *args: str, ok: bool = True) -> Any:
    """The real ``openstack`` CLI, password credentials, Hydria found in the catalog."""
    auth = keystone.auth(project, role)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(
        {
            "OS_AUTH_URL": auth["auth_url"],
            "OS_USERNAME": auth["username"],
            "OS_PASSWORD": auth["password"],
            "OS_PROJECT_NAME": project,
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": "RegionOne",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_INTERFACE": "public",
        }
    )
    # commands that print nothing (delete, set, unset) take no output format
    quiet = len(args) > 1 and args[1] in ("delete", "set", "unset")
    fmt = [] if quiet else ["-f", "json"]
    res = subprocess.run(
        [str(BIN / "openstack"), *args, *fmt], capture_output=True, text=True, env=env, timeout=180
    )
    if ok:
        assert res.returncode == 0, f"{args}: {res.stderr}"
        return json.loads(res.stdout) if res.stdout.strip() else None
    assert res.returncode != 0, f"{args} should have been refused: {res.stdout}"
    return res.stderr


def api(hydria: HydriaUp, token: str | None) -> httpx.Client:
    headers = {"X-Auth-Token": token} if token else {}
    return httpx.Client(base_url=hydria.endpoint + "/v2", headers=headers, timeout=30)


def wait_active(client: httpx.Client, path: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(path).json()[key]
        if body["provisioning_status"] == "ACTIVE":
            return body
        assert body["provisioning_status"] != "ERROR", body
        time.sleep(0.1)
    raise AssertionError(f"{path} not ACTIVE: {body}")


@pytest.fixture(scope="module")
def subnet_id(hydria: HydriaUp, keystone: Keystone) -> str:
    with httpx.Client(
        base_url=hydria.endpoint, timeout=30, headers={"X-Auth-Token": keystone.token(A, "member")}
    ) as c:
        subnets = c.get("/v2.0/subnets", params={"name": "public"}).json()["subnets"]
    return str(subnets[0]["id"])


@pytest.fixture(scope="module")
def tree_a(hydria: HydriaUp, keystone: Keystone, subnet_id: str) -> dict[str, Any]:
    """Project A's load balancer, listener, pool, member and monitor (all ACTIVE)."""
    with api(hydria, keystone.token(A, "member")) as c:
        lb = c.post(
            "/lbaas/loadbalancers",
            json={"loadbalancer": {"name": "a-lb", "vip_subnet_id": subnet_id}},
        ).json()["loadbalancer"]
        lb_path = f"/lbaas/loadbalancers/{lb['id']}"
        wait_active(c, lb_path, "loadbalancer")
        li = c.post(
            "/lbaas/listeners",
            json={
                "listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
            },
        ).json()
        wait_active(c, lb_path, "loadbalancer")
        pool = c.post(
            "/lbaas/pools",
            json={
                "pool": {
                    "listener_id": li["listener"]["id"],
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                }
            },
        ).json()["pool"]
        wait_active(c, lb_path, "loadbalancer")
        member = c.post(
            f"/lbaas/pools/{pool['id']}/members",
            json={"member": {"address": "127.0.0.1", "protocol_port": 8080}},
        ).json()["member"]
        wait_active(c, lb_path, "loadbalancer")
        hm = c.post(
            "/lbaas/healthmonitors",
            json={
                "healthmonitor": {
                    "pool_id": pool["id"],
                    "type": "TCP",
                    "delay": 5,
                    "timeout": 3,
                    "max_retries": 3,
                }
            },
        ).json()["healthmonitor"]
        wait_active(c, lb_path, "loadbalancer")
    return {
        "lb": lb["id"],
        "listener": li["listener"]["id"],
        "pool": pool["id"],
        "member": member["id"],
        "hm": hm["id"],
    }


def test_cli_with_passwords_and_the_catalog(
    hydria: HydriaUp, keystone: Keystone, subnet_id: str
) -> None:
    lb = cli(
        keystone,
        A,
        "member",
        "loadbalancer",
        "create",
        "--name",
        "cli-lb",
        "--vip-subnet-id",
        subnet_id,
        "--wait",
    )
    assert lb["project_id"] == keystone.project_ids[A]
    names = [x["name"] for x in cli(keystone, A, "reader", "loadbalancer", "list")]
    assert "cli-lb" in names
    # another project sees nothing of it and cannot touch it
    assert cli(keystone, B, "member", "loadbalancer", "list") == []
    err = cli(keystone, B, "member", "loadbalancer", "show", lb["id"], ok=False)
    assert "403" in err or "Forbidden" in err or "Policy" in err, err
    cli(keystone, B, "member", "loadbalancer", "delete", lb["id"], ok=False)
    # a reader reads but does not write
    cli(keystone, A, "reader", "loadbalancer", "set", "--name", "x", lb["id"], ok=False)
    # the amphora API is for admins
    cli(keystone, A, "member", "loadbalancer", "amphora", "list", ok=False)
    amps = cli(keystone, A, "admin", "loadbalancer", "amphora", "list")
    assert any(a["loadbalancer_id"] == lb["id"] for a in amps)
    cli(keystone, A, "member", "loadbalancer", "delete", "--cascade", "--wait", lb["id"])


def test_project_b_never_sees_or_changes_project_a(
    hydria: HydriaUp, keystone: Keystone, tree_a: dict[str, Any]
) -> None:
    t = tree_a
    objects = {
        "loadbalancer": f"/lbaas/loadbalancers/{t['lb']}",
        "listener": f"/lbaas/listeners/{t['listener']}",
        "pool": f"/lbaas/pools/{t['pool']}",
        "member": f"/lbaas/pools/{t['pool']}/members/{t['member']}",
        "healthmonitor": f"/lbaas/healthmonitors/{t['hm']}",
    }
    project_a = keystone.project_ids[A]
    for role in ("member", "reader", "load-balancer_member", "load-balancer_observer"):
        with api(hydria, keystone.token(B, role)) as c:
            for kind, path in objects.items():
                for method in ("GET", "PUT", "DELETE"):
                    body = {kind: {"name": "stolen"}} if method == "PUT" else None
                    r = c.request(method, path, json=body)
                    assert r.status_code == 403, (role, method, path, r.text)
                    assert r.json()["faultstring"] == FORBIDDEN
            for coll, key in (
                ("loadbalancers", "loadbalancers"),
                ("listeners", "listeners"),
                ("pools", "pools"),
                ("healthmonitors", "healthmonitors"),
            ):
                # a role that may not list at all is refused (403); one that may sees
                # only its own project's objects: none
                r = c.get(f"/lbaas/{coll}")
                assert r.status_code == 403 or r.json()[key] == [], (role, coll, r.text)
                r = c.get(f"/lbaas/{coll}", params={"project_id": project_a})
                assert r.status_code == 403, (role, coll, r.text)
            assert c.get(f"/lbaas/pools/{t['pool']}/members").status_code == 403
            r = c.post(
                f"/lbaas/pools/{t['pool']}/members",
                json={"member": {"address": "127.0.0.2", "protocol_port": 80}},
            )
            assert r.status_code == 403
            r = c.post(
                "/lbaas/listeners",
                json={
                    "listener": {"loadbalancer_id": t["lb"], "protocol": "TCP", "protocol_port": 81}
                },
            )
            assert r.status_code == 403
            assert c.get(f"/lbaas/quotas/{project_a}").status_code == 403
            assert (
                c.put(f"/lbaas/quotas/{project_a}", json={"quota": {"loadbalancer": 0}}).status_code
                == 403
            )
            assert c.delete(f"/lbaas/quotas/{project_a}").status_code == 403
            assert c.get("/octavia/amphorae").status_code == 403
            assert c.get("/lbaas/loadbalancers/" + t["lb"] + "/stats").status_code == 403
    with api(hydria, keystone.token(A, "reader")) as c:
        lb = c.get(objects["loadbalancer"]).json()["loadbalancer"]
        assert lb["name"] == "a-lb" and lb["provisioning_status"] == "ACTIVE"
        assert [x["id"] for x in c.get("/lbaas/loadbalancers").json()["loadbalancers"]] == [t["lb"]]


def test_admin_sees_every_project(
    hydria: HydriaUp, keystone: Keystone, tree_a: dict[str, Any]
) -> None:
    with api(hydria, keystone.token(B, "admin")) as c:
        ids = [x["id"] for x in c.get("/lbaas/loadbalancers").json()["loadbalancers"]]
        assert tree_a["lb"] in ids
        r = c.get(f"/lbaas/loadbalancers/{tree_a['lb']}")
        assert r.status_code == 200
        # Octavia's context_is_admin: an admin sees the admin-only failure reason
        assert "hydria_error_reason" in r.json()["loadbalancer"], r.text
        amps = c.get("/octavia/amphorae").json()["amphorae"]
        assert any(a["loadbalancer_id"] == tree_a["lb"] for a in amps)
        assert all("hydria_error_reason" in a for a in amps)
    with api(hydria, keystone.token(A, "member")) as c:
        r = c.get(f"/lbaas/loadbalancers/{tree_a['lb']}")
        assert r.status_code == 200 and "hydria_error_reason" not in r.json()["loadbalancer"]


def test_project_of_a_create_comes_from_the_token(
    hydria: HydriaUp, keystone: Keystone, subnet_id: str
) -> None:
    with api(hydria, keystone.token(B, "member")) as c:
        r = c.post(
            "/lbaas/loadbalancers",
            json={
                "loadbalancer": {"vip_subnet_id": subnet_id, "project_id": keystone.project_ids[A]}
            },
        )
        assert r.status_code == 403, r.text
        assert c.get("/lbaas/loadbalancers").json()["loadbalancers"] == []


def test_missing_or_bad_token_is_401_with_keystone_uri(
    hydria: HydriaUp, keystone: Keystone
) -> None:
    for token in (None, "not-a-token", "gAAAAA" + "x" * 150):
        with api(hydria, token) as c:
            r = c.get("/lbaas/loadbalancers")
            assert r.status_code == 401, r.text
            assert keystone.url in r.headers["WWW-Authenticate"]
            assert r.headers["WWW-Authenticate"].startswith("Keystone uri=")
    # the version document needs no token, as Octavia's
    assert httpx.get(hydria.endpoint + "/", timeout=10).status_code == 200


def test_revoked_token_is_refused(hydria: HydriaUp, keystone: Keystone) -> None:
    token = keystone.token(A, "member")
    with api(hydria, token) as c:
        assert c.get("/lbaas/loadbalancers").status_code == 200  # now cached
    admin = keystone.admin()
    r = admin.session.delete(keystone.url + "/auth/tokens", headers={"X-Subject-Token": token})
    assert r.status_code == 204
    # refused once the cache entry lapses (HYDRIA_KEYSTONE_TOKEN_CACHE_SECONDS=2 here)
    deadline = time.monotonic() + 60
    with api(hydria, token) as c:
        while c.get("/lbaas/loadbalancers").status_code != 401:
            assert time.monotonic() < deadline, "revoked token still accepted"
            time.sleep(0.2)
    # a revoked token never seen before is refused at once
    fresh = keystone.token(A, "member")
    admin.session.delete(keystone.url + "/auth/tokens", headers={"X-Subject-Token": fresh})
    with api(hydria, fresh) as c:
        assert c.get("/lbaas/loadbalancers").status_code == 401


def test_expired_token_is_refused(hydria: HydriaUp, keystone: Keystone) -> None:
    """A token past its expiry is a 401 (auth_token also checks the expiry of a token
    it holds in its cache). A short-lived token from this Keystone: one issued for an application
    credential that expires in a few seconds lives no longer than it (Keystone's
    CVE-2022-2447 rule), so no second Keystone with a short ``[token] expiration``."""
    life = 8
    member = keystone.token(A, "member")
    with httpx.Client(
        base_url=keystone.url, timeout=30, headers={"X-Auth-Token": member}
    ) as ks_api:
        who = ks_api.get("/auth/tokens", headers={"X-Subject-Token": member})
        user_id = who.json()["token"]["user"]["id"]
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=life)
        cred = ks_api.post(
            f"/users/{user_id}/application_credentials",
            json={
                "application_credential": {
                    "name": f"short-{time.monotonic_ns()}",
                    "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S"),
                }
            },
        )
        assert cred.status_code == 201, cred.text
        cred_id, secret = (cred.json()["application_credential"][k] for k in ("id", "secret"))
        issued = ks_api.post(
            "/auth/tokens",
            headers={"X-Auth-Token": ""},
            json={
                "auth": {
                    "identity": {
                        "methods": ["application_credential"],
                        "application_credential": {"id": cred_id, "secret": secret},
                    }
                }
            },
        )
        assert issued.status_code == 201, issued.text
    token = issued.headers["X-Subject-Token"]
    token_expires = dt.datetime.fromisoformat(
        issued.json()["token"]["expires_at"].replace("Z", "+00:00")
    )
    assert token_expires <= expires.replace(microsecond=0) + dt.timedelta(seconds=1)
    with api(hydria, token) as c:
        if dt.datetime.now(dt.UTC) < token_expires - dt.timedelta(seconds=1):
            assert c.get("/lbaas/loadbalancers").status_code == 200  # valid, now cached
        while dt.datetime.now(dt.UTC) <= token_expires:
            time.sleep(0.2)
        r = c.get("/lbaas/loadbalancers")
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"].startswith("Keystone uri=")
