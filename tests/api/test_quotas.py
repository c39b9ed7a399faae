"""Quotas: Octavia's quota API, and every create refused (403, nothing written) past one."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.core import constants as c
from tests.api.conftest import (
    ADMIN,
    BASE,
    Api,
    TestClient,
    assert_fault,
    assert_routing_fault,
    snapshot,
)
from tests.support.identity import HeaderIdentity, keystone_settings

QUOTAS = f"{BASE}/quotas"
PROJECT = c.DEFAULT_PROJECT_ID
NAMES = ("load_balancer", "listener", "member", "pool", "health_monitor", "l7policy", "l7rule")
QUOTA_KEYS = {*NAMES, "loadbalancer", "healthmonitor", "project_id"}
OTHER = {"X-Project-Id": "someone-else"}


def _limits(**own: int) -> dict[str, int]:
    limits = dict.fromkeys(NAMES, -1)
    limits.update(own)
    limits["loadbalancer"] = limits["load_balancer"]
    limits["healthmonitor"] = limits["health_monitor"]
    return limits


def set_quota(client: TestClient, project: str = PROJECT, **limits: int) -> dict:
    r = client.put(f"{QUOTAS}/{project}", json={"quota": limits})
    assert r.status_code == 202, r.text
    return r.json()["quota"]


# -- the quota API ------------------------------------------------------------


def test_defaults_are_unlimited(client):
    r = client.get(f"{QUOTAS}/defaults")
    assert r.status_code == 200
    assert r.json() == {"quota": _limits()}
    r = client.get(f"{QUOTAS}/{PROJECT}")
    assert r.json() == {"quota": {"project_id": PROJECT, **_limits()}}
    r = client.get(f"{QUOTAS}/{PROJECT}/default")
    assert r.json() == {"quota": {"project_id": PROJECT, **_limits()}}
    assert client.get(QUOTAS).json() == {"quotas": [], "quotas_links": []}
    assert client.get(f"/v2.0/lbaas/quotas/{PROJECT}").json() == r.json()


def test_defaults_come_from_settings(db, notifier, tmp_path: Path):
    settings = Settings(state_dir=tmp_path, quota_load_balancer=5, quota_member=50)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        assert client.get(f"{QUOTAS}/defaults").json()["quota"] == _limits(
            load_balancer=5, member=50
        )
        shown = client.get(f"{QUOTAS}/p1").json()["quota"]
        assert shown == {"project_id": "p1", **_limits(load_balancer=5, member=50)}


def test_set_show_list_and_reset(client, db):
    quota = set_quota(client, loadbalancer=3, listener=10)
    assert set(quota) == QUOTA_KEYS
    assert quota == {"project_id": PROJECT, **_limits(load_balancer=3, listener=10)}
    # the legacy spellings are accepted too, and a later PUT keeps what it does not name
    quota = set_quota(client, load_balancer=4, health_monitor=0)
    assert quota == {
        "project_id": PROJECT,
        **_limits(load_balancer=4, listener=10, health_monitor=0),
    }
    assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"] == quota
    set_quota(client, "p2", pool=7)
    listed = client.get(QUOTAS).json()
    assert [q["project_id"] for q in listed["quotas"]] == [PROJECT, "p2"]
    assert listed["quotas"][1] == {"project_id": "p2", **_limits(pool=7)}
    assert [
        q["project_id"] for q in client.get(QUOTAS, params={"project_id": "p2"}).json()["quotas"]
    ] == ["p2"]
    # null puts one limit back to its default
    assert set_quota(client, listener=None)["listener"] == -1

    r = client.delete(f"{QUOTAS}/{PROJECT}")
    assert r.status_code == 202 and r.content == b""
    assert client.get(f"{QUOTAS}/{PROJECT}").json()["quota"] == {"project_id": PROJECT, **_limits()}
    assert [q["project_id"] for q in client.get(QUOTAS).json()["quotas"]] == ["p2"]
    # as in Octavia, nothing to reset is a 404: never set, or reset already
    assert_fault(client.delete(f"{QUOTAS}/never-seen"), 404, "Quotas never-seen not found.")
    assert_fault(client.delete(f"{QUOTAS}/{PROJECT}"), 404)


def test_list_pages(client):
    for project in ("p1", "p2", "p3"):
        set_quota(client, project, member=1)
    first = client.get(QUOTAS, params={"limit": 2}).json()
    assert [q["project_id"] for q in first["quotas"]] == ["p1", "p2"]
    assert first["quotas_links"][0]["rel"] == "next"
    rest = client.get(QUOTAS, params={"limit": 2, "marker": "p2"}).json()
    assert [q["project_id"] for q in rest["quotas"]] == ["p3"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"quota": {"load_balancer": -2}}, "load_balancer"),
        ({"quota": {"listener": 2_000_000_001}}, "listener"),
        ({"quota": {"member": "5x"}}, "member"),
        ({"quota": {"pool": True}}, "pool"),
        ({"quota": {"colour": 1}}, "Unknown attribute for argument quota: colour"),
        ({"quota": {"loadbalancer": 1, "load_balancer": 2}}, "same quota"),
        ({"quota": 5}, "quota"),
        ({"quotas": {}}, "Unknown attribute"),
    ],
)
def test_bad_quota_bodies_are_400(client, db, body, fragment):
    set_quota(client, member=9)
    before = snapshot(db)
    assert_fault(client.put(f"{QUOTAS}/{PROJECT}", json=body), 400, fragment)
    assert snapshot(db) == before


def test_too_long_project_id_is_400(client, db):
    before = snapshot(db)
    assert_fault(
        client.put(f"{QUOTAS}/{'x' * 37}", json={"quota": {"member": 1}}), 400, "project_id"
    )
    assert_fault(client.get(f"{QUOTAS}/{'x' * 37}"), 400, "project_id")
    assert snapshot(db) == before


def test_wrong_methods_are_405(client):
    assert_routing_fault(client.post(QUOTAS, json={"quota": {}}), 405, "Method Not Allowed")
    assert_routing_fault(
        client.post(f"{QUOTAS}/{PROJECT}", json={"quota": {}}), 405, "Method Not Allowed"
    )


@pytest.fixture
def strict_client(db, notifier, tmp_path: Path):
    """Outside noauth: quota writes and other projects' quotas need an admin."""
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as tc:
        yield tc


def test_policy_outside_noauth(strict_client, db):
    client = strict_client
    set_quota_as_admin = client.put(
        f"{QUOTAS}/someone-else", json={"quota": {"pool": 2}}, headers=ADMIN
    )
    assert set_quota_as_admin.status_code == 202
    before = snapshot(db)
    assert_fault(
        client.put(f"{QUOTAS}/{PROJECT}", json={"quota": {"pool": 1}}), 403, "Policy does not allow"
    )
    assert_fault(client.delete(f"{QUOTAS}/someone-else", headers=OTHER), 403)
    assert snapshot(db) == before
    # a project reads its own quota and the defaults, not another project's
    assert client.get(f"{QUOTAS}/someone-else", headers=OTHER).status_code == 200
    assert client.get(f"{QUOTAS}/someone-else/default", headers=OTHER).status_code == 200
    # Octavia routes /quotas/defaults to the quota of a project called "defaults"
    assert_fault(client.get(f"{QUOTAS}/defaults"), 403)
    assert client.get(f"{QUOTAS}/defaults", headers=ADMIN).status_code == 200
    assert_fault(client.get(f"{QUOTAS}/someone-else"), 403)
    assert_fault(client.get(f"{QUOTAS}/someone-else/default"), 403)
    # and lists only its own
    assert client.get(QUOTAS).json()["quotas"] == []
    assert [q["project_id"] for q in client.get(QUOTAS, headers=OTHER).json()["quotas"]] == [
        "someone-else"
    ]
    assert_fault(client.get(QUOTAS, params={"project_id": "someone-else"}), 403)
    assert [q["project_id"] for q in client.get(QUOTAS, headers=ADMIN).json()["quotas"]] == [
        "someone-else"
    ]
    assert client.delete(f"{QUOTAS}/someone-else", headers=ADMIN).status_code == 202


# -- enforcement ----------------------------------------------------------------


def _refused(api: Api, path: str, root: str, kind: str, **fields) -> None:
    before = snapshot(api.db)
    r = api.client.post(f"{BASE}/{path}", json={root: fields})
    assert_fault(r, 403, f"Quota has been met for resources: {kind}")
    assert snapshot(api.db) == before


def test_load_balancer_quota(api, client):
    set_quota(client, loadbalancer=1)
    lb = api.lb()
    _refused(api, "loadbalancers", "loadbalancer", "Load Balancer", vip_subnet_id=api.subnet_id)
    # another project has its own quota
    api.lb(headers=OTHER)
    # PENDING_DELETE still counts; DELETED does not
    assert client.delete(f"{BASE}/loadbalancers/{lb['id']}").status_code == 204
    _refused(api, "loadbalancers", "loadbalancer", "Load Balancer", vip_subnet_id=api.subnet_id)
    api.settle()
    api.lb()
    # unlimited again after a reset
    client.delete(f"{QUOTAS}/{PROJECT}")
    api.lb()


def test_zero_means_none(api, client):
    set_quota(client, load_balancer=0)
    _refused(api, "loadbalancers", "loadbalancer", "Load Balancer", vip_subnet_id=api.subnet_id)


def test_listener_pool_member_and_monitor_quotas(api, client):
    lb = api.lb()
    set_quota(client, listener=1, pool=2, member=1, healthmonitor=1)
    li = api.listener(lb["id"])
    _refused(
        api,
        "listeners",
        "listener",
        "Listener",
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=81,
    )
    pool = api.pool(listener_id=li["id"])
    spare = api.pool(loadbalancer_id=lb["id"])
    _refused(
        api,
        "pools",
        "pool",
        "Pool",
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
    )
    api.member(pool["id"])
    _refused(
        api, f"pools/{pool['id']}/members", "member", "Member", address="10.0.0.2", protocol_port=80
    )
    hm = api.hm(pool["id"])
    _refused(
        api,
        "healthmonitors",
        "healthmonitor",
        "Health Monitor",
        pool_id=spare["id"],
        type="TCP",
        delay=5,
        timeout=3,
        max_retries=3,
    )
    assert client.delete(f"{BASE}/healthmonitors/{hm['id']}").status_code == 204
    api.settle()
    # the deleted monitor no longer counts
    api.hm(spare["id"])


def test_quota_counts_the_project_of_the_load_balancer(api, client):
    """An admin creating in another project's load balancer uses that project's quota."""
    lb = api.lb(headers=OTHER)
    set_quota(client, "someone-else", listener=0)
    before = snapshot(api.db)
    r = client.post(
        f"{BASE}/listeners",
        headers=ADMIN,
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}},
    )
    assert_fault(r, 403, "Quota has been met for resources: Listener")
    assert snapshot(api.db) == before
    api.listener(api.lb()["id"])  # the caller's own project has no such limit


def test_batch_member_update_counts_only_new_members(api, client):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    api.member(pool["id"], address="10.0.0.1")
    set_quota(client, member=2)
    path = f"{BASE}/pools/{pool['id']}/members"
    before = snapshot(api.db)
    r = client.put(
        path,
        json={
            "members": [
                {"address": "10.0.0.1", "protocol_port": 8080},
                {"address": "10.0.0.2", "protocol_port": 8080},
                {"address": "10.0.0.3", "protocol_port": 8080},
            ]
        },
    )
    assert_fault(r, 403, "Quota has been met for resources: Member")
    assert snapshot(api.db) == before
    r = client.put(
        path,
        json={
            "members": [
                {"address": "10.0.0.1", "protocol_port": 8080, "weight": 5},
                {"address": "10.0.0.2", "protocol_port": 8080},
            ]
        },
    )
    assert r.status_code == 202, r.text


def test_settings_default_is_enforced(db, notifier, tmp_path: Path, subnet_id):
    settings = Settings(state_dir=tmp_path, quota_load_balancer=1)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        api = Api(client, db, subnet_id)
        api.lb()
        _refused(api, "loadbalancers", "loadbalancer", "Load Balancer", vip_subnet_id=subnet_id)
        # a project's own -1 lifts the default
        set_quota(client, load_balancer=-1)
        api.lb()
