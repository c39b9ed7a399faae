"""L7 policies and rules: Octavia's fields, defaults, positions, checks, quotas,
cascades and the status tree."""

from __future__ import annotations

import pytest

from hydria.db import models as m
from tests.api.conftest import ADMIN, BASE, assert_fault, snapshot

URL = f"{BASE}/l7policies"
POLICY_KEYS = {
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "tenant_id",
    "action",
    "listener_id",
    "redirect_pool_id",
    "redirect_url",
    "redirect_prefix",
    "position",
    "rules",
    "created_at",
    "updated_at",
    "tags",
    "redirect_http_code",
}
RULE_KEYS = {
    "id",
    "type",
    "compare_type",
    "key",
    "value",
    "invert",
    "provisioning_status",
    "operating_status",
    "created_at",
    "updated_at",
    "project_id",
    "tenant_id",
    "admin_state_up",
    "tags",
}


@pytest.fixture
def stack(api):
    lb = api.lb()
    li = api.listener(lb["id"])
    pool = api.pool(loadbalancer_id=lb["id"])
    return {"lb": lb, "listener": li, "pool": pool}


def policy(api, listener_id, settle=True, **fields):
    fields.setdefault("action", "REJECT")
    out = api.post("l7policies", "l7policy", listener_id=listener_id, **fields)
    if settle:
        api.settle()
    return out


def rule(api, policy_id, settle=True, **fields):
    fields.setdefault("type", "PATH")
    fields.setdefault("compare_type", "STARTS_WITH")
    fields.setdefault("value", "/api")
    out = api.post(f"l7policies/{policy_id}/rules", "rule", **fields)
    if settle:
        api.settle()
    return out


def positions(client, listener_id):
    items = client.get(URL, params={"listener_id": listener_id}).json()["l7policies"]
    return {p["id"]: p["position"] for p in items}


def test_create_answers_octavia_fields_defaults_and_statuses(client, api, stack, notifier):
    li = stack["listener"]
    r = client.post(URL, json={"l7policy": {"listener_id": li["id"], "action": "REJECT"}})
    assert r.status_code == 201, r.text
    p = r.json()["l7policy"]
    assert set(p) == POLICY_KEYS
    assert p["provisioning_status"] == "PENDING_CREATE" and p["operating_status"] == "OFFLINE"
    assert p["position"] == 1 and p["rules"] == [] and p["admin_state_up"] is True
    assert p["redirect_http_code"] is None and p["name"] == "" and p["tags"] == []
    assert api.status(m.Listener, li["id"]) == "PENDING_UPDATE"
    assert api.status(m.LoadBalancer, stack["lb"]["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == stack["lb"]["id"]
    api.settle()
    shown = client.get(f"{URL}/{p['id']}").json()["l7policy"]
    assert shown["provisioning_status"] == "ACTIVE" and shown["operating_status"] == "ONLINE"
    assert client.get(f"{BASE}/listeners/{li['id']}").json()["listener"]["l7policies"] == [
        {"id": p["id"]}
    ]


def test_redirect_defaults_follow_octavia(api, stack):
    li = stack["listener"]["id"]
    url = policy(api, li, action="REDIRECT_TO_URL", redirect_url="https://a.example/x")
    assert url["redirect_http_code"] == 302 and url["redirect_pool_id"] is None
    pre = policy(
        api,
        li,
        action="REDIRECT_PREFIX",
        redirect_prefix="https://b.example",
        redirect_http_code=301,
    )
    assert pre["redirect_http_code"] == 301
    pool = policy(api, li, action="REDIRECT_TO_POOL", redirect_pool_id=stack["pool"]["id"])
    assert pool["redirect_http_code"] is None and pool["redirect_url"] is None
    # a redirect field implies its action, as in Octavia
    implied = policy(api, li, action="REJECT", redirect_pool_id=stack["pool"]["id"])
    assert implied["action"] == "REJECT" and implied["redirect_pool_id"] is None
    pool_shown = api.client.get(f"{BASE}/pools/{stack['pool']['id']}").json()["pool"]
    assert pool_shown["listeners"] == []  # its policy has no rule yet


def test_positions_insert_move_and_delete_renumber(client, api, stack):
    li = stack["listener"]["id"]
    a = policy(api, li)
    b = policy(api, li)
    c = policy(api, li, position=1)
    assert positions(client, li) == {c["id"]: 1, a["id"]: 2, b["id"]: 3}
    d = policy(api, li, position=99)
    assert positions(client, li)[d["id"]] == 4
    r = client.put(f"{URL}/{b['id']}", json={"l7policy": {"position": 1}})
    assert r.status_code == 200, r.text
    api.settle()
    assert positions(client, li) == {b["id"]: 1, c["id"]: 2, a["id"]: 3, d["id"]: 4}
    assert client.delete(f"{URL}/{c['id']}").status_code == 204
    api.settle()
    assert positions(client, li) == {b["id"]: 1, a["id"]: 2, d["id"]: 3}


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"action": "BOUNCE"}, ("action",)),
        ({"action": "REDIRECT_TO_URL"}, ("redirect_url must not be None",)),
        ({"action": "REDIRECT_PREFIX"}, ("redirect_prefix must not be None",)),
        ({"action": "REDIRECT_TO_POOL"}, ("redirect_pool_id or redirect_pool",)),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "ftp://x.example/"}, ("Not a valid URL",)),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x.example/a b"}, ("valid URL",)),
        ({"action": "REDIRECT_TO_URL", "redirect_url": "http://x\n.example/"}, ("valid URL",)),
        ({"action": "REDIRECT_TO_URL", "redirect_url": 'http://x.example/"q'}, ("valid URL",)),
        (
            {
                "action": "REDIRECT_TO_URL",
                "redirect_url": "http://x.example/",
                "redirect_http_code": 304,
            },
            ("redirect_http_code",),
        ),
        ({"action": "REJECT", "position": 0}, ("position",)),
        (
            {
                "action": "REJECT",
                "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}],
            },
            ("requires a key",),
        ),
    ],
)
def test_bad_policies_are_400_and_change_nothing(client, db, stack, fields, fragments):
    before = snapshot(db)
    r = client.post(URL, json={"l7policy": {"listener_id": stack["listener"]["id"], **fields}})
    assert_fault(r, 400, *fragments)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}, "requires a key"),
        ({"type": "COOKIE", "compare_type": "EQUAL_TO", "value": "x"}, "requires a key"),
        (
            {"type": "HEADER", "key": "X-A,B", "compare_type": "EQUAL_TO", "value": "x"},
            "Invalid characters in key",
        ),
        (
            {"type": "HEADER", "key": "X-A", "compare_type": "EQUAL_TO", "value": "a b"},
            "Invalid characters in header value",
        ),
        (
            {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a\nuse_backend x"},
            "Invalid characters",
        ),
        ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a\tb"}, "Invalid characters"),
        ({"type": "PATH", "compare_type": "REGEX", "value": "^/(api"}, "regular expression"),
        # valid for Python, refused by HAProxy (it captures named groups only)
        ({"type": "PATH", "compare_type": "REGEX", "value": r"^/(a)\1$"}, "numbered group"),
        ({"type": "PATH", "compare_type": "REGEX", "value": "^/(a)(?(1)b|c)$"}, "numbered group"),
        (
            {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "é.example"},
            "Invalid characters",
        ),
        (
            {"type": "COOKIE", "key": "sid", "compare_type": "EQUAL_TO", "value": "a;b"},
            "Invalid characters in cookie value",
        ),
        (
            {"type": "FILE_TYPE", "compare_type": "STARTS_WITH", "value": "png"},
            "invalid comparison type",
        ),
        (
            {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "false"},
            "not a boolean True string",
        ),
        (
            {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True", "key": "x"},
            'does not use the "key" field',
        ),
        (
            {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "-1"},
            "needs a int value",
        ),
        (
            {"type": "SSL_VERIFY_RESULT", "compare_type": "REGEX", "value": "1"},
            "only supports the EQUAL_TO",
        ),
        (
            {"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "x"},
            "needs to specify a key and a value",
        ),
        (
            {"type": "SSL_DN_FIELD", "key": "C N", "compare_type": "EQUAL_TO", "value": "x"},
            "distinguished name field",
        ),
        ({"type": "SIZE", "compare_type": "EQUAL_TO", "value": "x"}, "type"),
        ({"type": "PATH", "compare_type": "LIKE", "value": "x"}, "compare_type"),
        ({"type": "PATH", "compare_type": "EQUAL_TO", "value": ""}, "requires a value"),
    ],
)
def test_bad_rules_are_400_and_change_nothing(client, db, api, stack, fields, fragment):
    p = policy(api, stack["listener"]["id"])
    before = snapshot(db)
    r = client.post(f"{URL}/{p['id']}/rules", json={"rule": fields})
    assert_fault(r, 400, fragment)
    assert snapshot(db) == before


def test_rule_crud_and_statuses(client, api, stack):
    p = policy(api, stack["listener"]["id"])
    r = client.post(
        f"{URL}/{p['id']}/rules",
        json={
            "rule": {
                "type": "HEADER",
                "key": "X-Env",
                "compare_type": "EQUAL_TO",
                "value": "bad",
                "invert": True,
            }
        },
    )
    assert r.status_code == 201, r.text
    ru = r.json()["rule"]
    assert set(ru) == RULE_KEYS
    assert ru["provisioning_status"] == "PENDING_CREATE" and ru["invert"] is True
    assert api.status(m.L7Policy, p["id"]) == "PENDING_UPDATE"
    assert api.status(m.Listener, stack["listener"]["id"]) == "PENDING_UPDATE"
    api.settle()
    listed = client.get(f"{URL}/{p['id']}/rules").json()
    assert [x["id"] for x in listed["rules"]] == [ru["id"]] and listed["rules_links"] == []
    r = client.put(f"{URL}/{p['id']}/rules/{ru['id']}", json={"rule": {"value": "worse"}})
    assert r.status_code == 200 and r.json()["rule"]["value"] == "worse"
    api.settle()
    # an update is checked as the rule will be after it
    r = client.put(f"{URL}/{p['id']}/rules/{ru['id']}", json={"rule": {"key": None}})
    assert_fault(r, 400, "requires a key")
    assert client.get(f"{URL}/{p['id']}").json()["l7policy"]["rules"] == [{"id": ru["id"]}]
    assert client.delete(f"{URL}/{p['id']}/rules/{ru['id']}").status_code == 204
    api.settle()
    assert client.get(f"{URL}/{p['id']}/rules/{ru['id']}").status_code == 404


def test_redirect_pool_must_be_on_the_lb_and_compatible(client, api, stack):
    li = stack["listener"]["id"]
    other_lb = api.lb()
    other = api.pool(loadbalancer_id=other_lb["id"])
    r = client.post(
        URL,
        json={
            "l7policy": {
                "listener_id": li,
                "action": "REDIRECT_TO_POOL",
                "redirect_pool_id": other["id"],
            }
        },
    )
    assert_fault(r, 404, other["id"])
    tcp = api.pool(loadbalancer_id=stack["lb"]["id"], protocol="TCP")
    r = client.post(
        URL,
        json={
            "l7policy": {
                "listener_id": li,
                "action": "REDIRECT_TO_POOL",
                "redirect_pool_id": tcp["id"],
            }
        },
    )
    assert r.status_code == 400, r.text


def test_listener_protocols(client, api, stack):
    lb = stack["lb"]["id"]
    tcp = api.listener(lb, protocol="TCP", protocol_port=81)
    r = client.post(URL, json={"l7policy": {"listener_id": tcp["id"], "action": "REJECT"}})
    assert_fault(r, 501, "TCP protocol listeners do not support L7 policies")
    prom = api.listener(lb, protocol="PROMETHEUS", protocol_port=82)
    r = client.post(URL, json={"l7policy": {"listener_id": prom["id"], "action": "REJECT"}})
    assert_fault(r, 400, "cannot have child objects")


def test_pool_in_use_by_a_policy_cannot_be_deleted(client, api, stack):
    p = policy(
        api,
        stack["listener"]["id"],
        action="REDIRECT_TO_POOL",
        redirect_pool_id=stack["pool"]["id"],
    )
    rule(api, p["id"])
    r = client.delete(f"{BASE}/pools/{stack['pool']['id']}")
    assert_fault(r, 409, f"is in use by L7 policy {p['id']}")
    shown = client.get(f"{BASE}/pools/{stack['pool']['id']}").json()["pool"]
    assert shown["listeners"] == [{"id": stack["listener"]["id"]}]


def test_too_many_rules_is_409(client, api, stack):
    p = policy(
        api,
        stack["listener"]["id"],
        rules=[{"type": "PATH", "compare_type": "EQUAL_TO", "value": f"/{i}"} for i in range(50)],
    )
    assert len(p["rules"]) == 50
    r = client.post(
        f"{URL}/{p['id']}/rules",
        json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/51"}},
    )
    assert_fault(r, 409, "Too many rules")


def test_quotas_limit_policies_and_rules(client, api, stack):
    project = stack["lb"]["project_id"]
    r = client.put(
        f"{BASE}/quotas/{project}", headers=ADMIN, json={"quota": {"l7policy": 1, "l7rule": 1}}
    )
    assert r.status_code == 202, r.text
    quota = client.get(f"{BASE}/quotas/{project}", headers=ADMIN).json()["quota"]
    assert (quota["l7policy"], quota["l7rule"]) == (1, 1)
    p = policy(api, stack["listener"]["id"])
    r = client.post(
        URL, json={"l7policy": {"listener_id": stack["listener"]["id"], "action": "REJECT"}}
    )
    assert_fault(r, 403, "Quota has been met for resources: L7 Policy")
    rule(api, p["id"])
    r = client.post(
        f"{URL}/{p['id']}/rules",
        json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/b"}},
    )
    assert_fault(r, 403, "Quota has been met for resources: L7 Rule")


def test_listener_delete_cascades(client, api, stack):
    li = stack["listener"]["id"]
    p = policy(api, li)
    ru = rule(api, p["id"])
    assert client.delete(f"{BASE}/listeners/{li}").status_code == 204
    assert api.status(m.L7Policy, p["id"]) == "PENDING_DELETE"
    assert api.status(m.L7Rule, ru["id"]) == "PENDING_DELETE"
    api.settle()
    assert client.get(f"{URL}/{p['id']}").status_code == 404
    assert client.get(URL).json()["l7policies"] == []


def test_lb_cascade_delete(client, api, stack):
    p = policy(
        api,
        stack["listener"]["id"],
        action="REDIRECT_TO_POOL",
        redirect_pool_id=stack["pool"]["id"],
    )
    rule(api, p["id"])
    r = client.delete(f"{BASE}/loadbalancers/{stack['lb']['id']}", params={"cascade": "true"})
    assert r.status_code == 204, r.text
    assert api.status(m.L7Policy, p["id"]) == "PENDING_DELETE"
    api.settle()
    assert client.get(f"{URL}/{p['id']}").status_code == 404


def test_status_tree_shows_policies_rules_and_redirect_pools(client, api, stack):
    p = policy(
        api,
        stack["listener"]["id"],
        action="REDIRECT_TO_POOL",
        redirect_pool_id=stack["pool"]["id"],
        name="api",
    )
    ru = rule(api, p["id"])
    tree = client.get(f"{BASE}/loadbalancers/{stack['lb']['id']}/status").json()
    listener = tree["statuses"]["loadbalancer"]["listeners"][0]
    assert [x["id"] for x in listener["pools"]] == [stack["pool"]["id"]]
    assert listener["l7policies"] == [
        {
            "id": p["id"],
            "name": "api",
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "action": "REDIRECT_TO_POOL",
            "rules": [
                {
                    "id": ru["id"],
                    "type": "PATH",
                    "provisioning_status": "ACTIVE",
                    "operating_status": "ONLINE",
                }
            ],
        }
    ]


def test_fully_populated_create_with_policies(client, api, subnet_id):
    body = {
        "loadbalancer": {
            "vip_subnet_id": subnet_id,
            "listeners": [
                {
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {"name": "web"},
                    "l7policies": [
                        {
                            "action": "REDIRECT_TO_POOL",
                            "redirect_pool": {"name": "api"},
                            "rules": [
                                {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}
                            ],
                        },
                        {
                            "action": "REDIRECT_TO_POOL",
                            "position": 1,
                            "redirect_pool": {
                                "name": "img",
                                "protocol": "HTTP",
                                "lb_algorithm": "ROUND_ROBIN",
                            },
                            "rules": [
                                {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "png"}
                            ],
                        },
                        {
                            "action": "REJECT",
                            "rules": [
                                {
                                    "type": "HEADER",
                                    "key": "X-Bad",
                                    "compare_type": "EQUAL_TO",
                                    "value": "1",
                                }
                            ],
                        },
                    ],
                }
            ],
            "pools": [
                {"name": "web", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
                {"name": "api", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
            ],
        }
    }
    r = client.post(f"{BASE}/loadbalancers", json=body)
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    li = lb["listeners"][0]
    pools = {p["name"]: p["id"] for p in lb["pools"]}
    assert set(pools) == {"web", "api", "img"}
    by_pos = sorted(li["l7policies"], key=lambda p: p["position"])
    assert [p["redirect_pool_id"] for p in by_pos] == [pools["img"], pools["api"], None]
    assert [p["position"] for p in by_pos] == [1, 2, 3]
    assert by_pos[2]["rules"][0]["key"] == "X-Bad"
    api.settle()
    assert len(client.get(URL).json()["l7policies"]) == 3


def test_fully_populated_create_refuses_unknown_redirect_pool(client, db, subnet_id):
    before = snapshot(db)
    r = client.post(
        f"{BASE}/loadbalancers",
        json={
            "loadbalancer": {
                "vip_subnet_id": subnet_id,
                "listeners": [
                    {
                        "protocol": "HTTP",
                        "protocol_port": 80,
                        "l7policies": [
                            {"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "nope"}}
                        ],
                    }
                ],
            }
        },
    )
    assert_fault(r, 400, "redirect_pool 'nope'")
    assert snapshot(db) == before


def test_filters_sort_and_paging(client, api, stack):
    li = stack["listener"]["id"]
    ids = [policy(api, li, name=f"p{i}")["id"] for i in range(3)]
    page = client.get(URL, params={"limit": 2, "sort": "position:asc"}).json()
    assert [p["id"] for p in page["l7policies"]] == ids[:2]
    assert page["l7policies_links"][0]["rel"] == "next"
    assert [p["name"] for p in client.get(URL, params={"name": "p1"}).json()["l7policies"]] == [
        "p1"
    ]


def test_update_follows_octavias_redirect_rules(client, api, stack):
    p = policy(api, stack["listener"]["id"])
    r = client.put(f"{URL}/{p['id']}", json={"l7policy": {"redirect_url": "http://new.example/"}})
    assert r.status_code == 200, r.text
    shown = r.json()["l7policy"]
    assert (shown["action"], shown["redirect_http_code"]) == ("REDIRECT_TO_URL", 302)
    assert shown["provisioning_status"] == "PENDING_UPDATE"
    api.settle()
    r = client.put(f"{URL}/{p['id']}", json={"l7policy": {"action": "REDIRECT_TO_POOL"}})
    assert_fault(r, 400, "redirect_pool_id or redirect_pool must not be None")
    r = client.put(f"{URL}/{p['id']}", json={"l7policy": {"redirect_pool_id": stack["pool"]["id"]}})
    shown = r.json()["l7policy"]
    assert (shown["action"], shown["redirect_url"], shown["redirect_http_code"]) == (
        "REDIRECT_TO_POOL",
        None,
        None,
    )
    api.settle()
    r = client.put(f"{URL}/{p['id']}", json={"l7policy": {"action": None}})
    assert_fault(r, 400, "action")
    r = client.put(f"{URL}/{p['id']}", json={"l7policy": {"position": None, "name": "x"}})
    assert r.status_code == 200 and r.json()["l7policy"]["position"] == 1


def test_changes_wait_for_the_load_balancer(client, api, stack):
    p = policy(api, stack["listener"]["id"])
    api.post(
        f"l7policies/{p['id']}/rules", "rule", type="PATH", compare_type="EQUAL_TO", value="/a"
    )
    # the load balancer is PENDING_UPDATE until the controller converges it
    r = client.post(
        f"{URL}/{p['id']}/rules",
        json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/b"}},
    )
    assert r.status_code == 409, r.text
    assert client.delete(f"{URL}/{p['id']}").status_code == 409


def test_a_rule_is_only_found_under_its_own_policy(api, client, stack):
    first = policy(api, stack["listener"]["id"])
    second = policy(api, stack["listener"]["id"])
    r = rule(api, first["id"])
    assert client.get(f"{URL}/{first['id']}/rules/{r['id']}").status_code == 200
    wrong = client.get(f"{URL}/{second['id']}/rules/{r['id']}")
    assert_fault(wrong, 404, "L7 Rule", r["id"])
    assert_fault(client.put(f"{URL}/{second['id']}/rules/{r['id']}", json={"rule": {}}), 404)
    assert_fault(client.delete(f"{URL}/{second['id']}/rules/{r['id']}"), 404)
