"""Health monitors: Octavia's fields and defaults, one per pool, type rules."""

from __future__ import annotations

import pytest

from hydria.db import models as m
from tests.api.conftest import BASE, assert_fault, snapshot

URL = f"{BASE}/healthmonitors"
# HealthMonitorResponse's attributes (plus tenant_id, which WSME adds).
HM_KEYS = {
    "id",
    "name",
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "admin_state_up",
    "project_id",
    "tenant_id",
    "pools",
    "provisioning_status",
    "operating_status",
    "created_at",
    "updated_at",
    "tags",
    "http_version",
    "domain_name",
}


def post(client, **fields):
    return client.post(URL, json={"healthmonitor": fields})


def hm_body(pool_id, **fields):
    return {
        "pool_id": pool_id,
        "type": "HTTP",
        "delay": 5,
        "timeout": 3,
        "max_retries": 3,
        **fields,
    }


@pytest.fixture
def pool(api):
    lb = api.lb()
    li = api.listener(lb["id"])
    return api.pool(listener_id=li["id"])


def test_create_answers_201_with_octavia_fields_and_defaults(client, api, pool, notifier):
    r = post(client, **hm_body(pool["id"]))
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"healthmonitor"}
    hm = r.json()["healthmonitor"]
    assert set(hm) == HM_KEYS
    assert hm["provisioning_status"] == "PENDING_CREATE"
    assert hm["operating_status"] == "OFFLINE"
    assert hm["name"] == "" and hm["admin_state_up"] is True
    assert (hm["type"], hm["delay"], hm["timeout"], hm["max_retries"]) == ("HTTP", 5, 3, 3)
    assert hm["max_retries_down"] == 3
    assert hm["http_method"] == "GET" and hm["url_path"] == "/"
    assert hm["expected_codes"] == "200"
    assert hm["http_version"] is None and hm["domain_name"] is None
    assert hm["pools"] == [{"id": pool["id"]}] and hm["tags"] == []
    assert hm["project_id"] == hm["tenant_id"] == pool["project_id"]
    assert hm["created_at"] and hm["updated_at"] is None
    lb_id = pool["loadbalancers"][0]["id"]
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb_id
    shown = client.get(f"{BASE}/pools/{pool['id']}").json()["pool"]
    assert shown["healthmonitor_id"] == hm["id"]


@pytest.mark.parametrize("kind", ["TCP", "PING", "TLS-HELLO"])
def test_non_http_types_have_no_http_fields(client, api, pool, kind):
    hm = api.hm(pool["id"], settle=False, type=kind)
    assert hm["type"] == kind
    assert hm["http_method"] is None and hm["url_path"] is None
    assert hm["expected_codes"] is None


def test_create_keeps_every_given_field(client, api, pool):
    hm = api.hm(
        pool["id"],
        settle=False,
        type="HTTPS",
        name="check",
        delay=10,
        timeout=10,
        max_retries=10,
        max_retries_down=1,
        http_method="HEAD",
        url_path="/health?x=1",
        expected_codes="200-299",
        admin_state_up=False,
        tags=["t"],
        http_version=1.1,
        domain_name="example.com",
    )
    assert (hm["name"], hm["delay"], hm["timeout"], hm["max_retries"], hm["max_retries_down"]) == (
        "check",
        10,
        10,
        10,
        1,
    )
    assert (hm["http_method"], hm["url_path"], hm["expected_codes"]) == (
        "HEAD",
        "/health?x=1",
        "200-299",
    )
    assert hm["admin_state_up"] is False and hm["tags"] == ["t"]
    assert hm["http_version"] == 1.1 and hm["domain_name"] == "example.com"


def test_show_and_list_envelopes_filters_and_fields(client, api):
    lb = api.lb()
    p1 = api.pool(loadbalancer_id=lb["id"])
    p2 = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    a = api.hm(p1["id"], name="a")
    b = api.hm(p2["id"], name="b", type="TCP", delay=7)
    shown = client.get(f"{URL}/{a['id']}").json()
    assert set(shown) == {"healthmonitor"}
    assert shown["healthmonitor"]["provisioning_status"] == "ACTIVE"
    listed = client.get(URL).json()
    assert set(listed) == {"healthmonitors", "healthmonitors_links"}
    assert listed["healthmonitors_links"] == []
    assert [x["id"] for x in listed["healthmonitors"]] == [a["id"], b["id"]]
    assert all(set(x) == HM_KEYS for x in listed["healthmonitors"])

    def ids(query):
        r = client.get(f"{URL}?{query}")
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["healthmonitors"]]

    assert ids("type=TCP") == [b["id"]]
    assert ids("delay=7") == [b["id"]]
    assert ids(f"pool_id={p1['id']}") == [a["id"]]
    assert client.get(f"{URL}?fields=id,type").json()["healthmonitors"] == [
        {"id": a["id"], "type": "HTTP"},
        {"id": b["id"], "type": "TCP"},
    ]
    assert_fault(client.get(f"{URL}?delay=soon"), 400, "delay")


def test_one_monitor_per_pool(client, api, pool, db):
    api.hm(pool["id"])
    before = snapshot(db)
    assert_fault(post(client, **hm_body(pool["id"])), 409, "This pool already has a health monitor")
    assert snapshot(db) == before


def test_a_new_monitor_after_the_old_one_is_gone(client, api, pool):
    hm = api.hm(pool["id"])
    assert client.delete(f"{URL}/{hm['id']}").status_code == 204
    api.settle()
    assert api.hm(pool["id"])["id"] != hm["id"]


def test_expected_codes_are_stored_as_sent(client, api, pool):
    # Octavia's pattern allows spaces after the commas and keeps them; a client
    # comparing what it sent with what it reads back (Terraform) must see no change.
    # The renderer drops them for HAProxy (tests/render).
    hm = api.hm(pool["id"], expected_codes="200, 202 ,204")
    assert hm["expected_codes"] == "200, 202 ,204"
    r = client.put(
        f"{URL}/{hm['id']}",
        json={"healthmonitor": {"expected_codes": "\u0662\u0660\u0660-\u0662\u0660\u0664"}},
    )
    assert r.status_code == 400, r.text
    assert (
        client.get(f"{URL}/{hm['id']}").json()["healthmonitor"]["expected_codes"] == "200, 202 ,204"
    )


def test_update_sets_pending_update_and_keeps_unsent_fields(client, api, pool, notifier):
    hm = api.hm(pool["id"], name="a", url_path="/ping", tags=["t"])
    r = client.put(
        f"{URL}/{hm['id']}",
        json={"healthmonitor": {"delay": 9, "expected_codes": "200,202", "http_method": "POST"}},
    )
    assert r.status_code == 200, r.text
    body = r.json()["healthmonitor"]
    assert set(body) == HM_KEYS
    assert body["delay"] == 9 and body["expected_codes"] == "200,202"
    assert body["http_method"] == "POST"
    assert body["name"] == "a" and body["url_path"] == "/ping" and body["tags"] == ["t"]
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    lb_id = pool["loadbalancers"][0]["id"]
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb_id


def test_update_with_null_resets_octavia_defaults(client, api, pool, db):
    hm = api.hm(
        pool["id"],
        name="a",
        url_path="/ping",
        http_method="HEAD",
        expected_codes="204",
        max_retries_down=5,
        tags=["t"],
    )
    r = client.put(
        f"{URL}/{hm['id']}",
        json={
            "healthmonitor": {
                "name": None,
                "url_path": None,
                "http_method": None,
                "expected_codes": None,
                "max_retries_down": None,
                "tags": None,
            }
        },
    )
    body = r.json()["healthmonitor"]
    assert (
        body["name"],
        body["url_path"],
        body["http_method"],
        body["expected_codes"],
        body["max_retries_down"],
        body["tags"],
    ) == ("", "/", "GET", "200", 3, [])
    api.settle()
    before = snapshot(db)
    for field in ("delay", "timeout", "max_retries"):
        r = client.put(f"{URL}/{hm['id']}", json={"healthmonitor": {field: None}})
        assert_fault(r, 400, f"None is not a valid option for {field}")
    assert snapshot(db) == before


def test_type_and_pool_cannot_change(client, api, pool, db):
    hm = api.hm(pool["id"])
    before = snapshot(db)
    for field in ({"type": "TCP"}, {"pool_id": pool["id"]}):
        r = client.put(f"{URL}/{hm['id']}", json={"healthmonitor": field})
        assert_fault(r, 400, "Unknown attribute for argument healthmonitor")
    assert snapshot(db) == before


def test_delete_lifecycle(client, api, pool, notifier):
    hm = api.hm(pool["id"])
    r = client.delete(f"{URL}/{hm['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.status(m.HealthMonitor, hm["id"]) == "PENDING_DELETE"
    assert notifier.calls[-1] == pool["loadbalancers"][0]["id"]
    api.settle()
    assert_fault(client.get(f"{URL}/{hm['id']}"), 404, f"Health Monitor {hm['id']} not found.")
    assert client.get(f"{BASE}/pools/{pool['id']}").json()["pool"]["healthmonitor_id"] is None


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"type": "TCP", "http_method": "GET"}, "http_method is not a valid option"),
        ({"type": "PING", "url_path": "/"}, "url_path is not a valid option"),
        ({"type": "TCP", "expected_codes": "200"}, "expected_codes is not a valid option"),
        ({"type": "BOGUS"}, "Value should be one of"),
        (
            {"type": "UDP-CONNECT"},
            "The UDP-CONNECT type is only supported for pools of type UDP/SCTP.",
        ),
        ({"http_method": "FETCH"}, "Value should be one of"),
        ({"url_path": "health"}, "url_path"),
        ({"url_path": "/a b"}, "url_path"),
        ({"expected_codes": "2xx"}, "expected_codes"),
        ({"expected_codes": "200-"}, "expected_codes"),
        ({"delay": -1}, "delay"),
        # Octavia takes these; HAProxy (and Hydria's renderer) cannot, so a 201 here
        # would be followed by a load balancer in ERROR.
        ({"delay": 0, "timeout": 0}, "delay"),
        ({"timeout": 0}, "timeout"),
        ({"expected_codes": "600"}, "from 100 to 599"),
        ({"expected_codes": "099"}, "from 100 to 599"),
        ({"expected_codes": "300-200"}, "lower code to the higher"),
        ({"url_path": "/x\n"}, "url_path"),
        ({"domain_name": "_srv.example.com", "http_version": 1.1}, "host name"),
        ({"domain_name": "example.com\n", "http_version": 1.1}, "host name"),
        ({"delay": "5s"}, "delay"),
        ({"max_retries": 0}, "max_retries"),
        ({"max_retries": 11}, "max_retries"),
        ({"max_retries_down": 11}, "max_retries_down"),
        ({"http_version": 2.0}, "http_version"),
        ({"http_version": "1.1"}, "http_version"),
        ({"domain_name": "example.com"}, "'http_version' must be specified"),
        ({"domain_name": "example.com", "http_version": 1.0}, "http_version 1.0"),
        ({"domain_name": "-bad-.com", "http_version": 1.1}, "domain_name"),
        ({"admin_state_up": "sure"}, "admin_state_up"),
        ({"pool_id": "not-a-uuid"}, "pool_id"),
        ({"colour": "red"}, "Unknown attribute for argument healthmonitor: colour"),
    ],
)
def test_bad_monitor_fields(client, api, pool, db, fields, fragment):
    before = snapshot(db)
    assert_fault(post(client, **{**hm_body(pool["id"]), **fields}), 400, fragment)
    assert snapshot(db) == before


@pytest.mark.parametrize("missing", ["type", "delay", "timeout", "max_retries", "pool_id"])
def test_mandatory_fields(client, api, pool, db, missing):
    body = hm_body(pool["id"])
    del body[missing]
    before = snapshot(db)
    assert_fault(post(client, **body), 400, f"field/attribute {missing}", "Mandatory field missing")
    assert snapshot(db) == before


def test_update_is_checked_against_the_monitor_as_it_will_be(client, api, pool, db):
    hm = api.hm(pool["id"], delay=5, timeout=3)
    tcp_pool = api.pool(loadbalancer_id=pool["loadbalancers"][0]["id"], protocol="TCP")
    tcp = api.hm(tcp_pool["id"], type="TCP")
    before = snapshot(db)
    assert_fault(
        client.put(f"{URL}/{tcp['id']}", json={"healthmonitor": {"url_path": "/x"}}),
        400,
        "url_path is not a valid option",
    )
    assert_fault(
        client.put(f"{URL}/{hm['id']}", json={"healthmonitor": {"domain_name": "example.com"}}),
        400,
        "'http_version' must be specified",
    )
    assert snapshot(db) == before


def test_unknown_ids_are_404(client, api, db):
    ghost = "7e0d2b0a-4d8e-4a70-b0c8-2f6f8a9e0001"
    before = snapshot(db)
    for method in ("get", "delete"):
        assert_fault(
            getattr(client, method)(f"{URL}/{ghost}"), 404, f"Health Monitor {ghost} not found."
        )
    assert_fault(client.put(f"{URL}/{ghost}", json={"healthmonitor": {"delay": 9}}), 404)
    assert_fault(post(client, **hm_body(ghost)), 404, f"Pool {ghost} not found.")
    assert snapshot(db) == before


def test_every_change_is_409_while_the_load_balancer_is_pending(client, api, pool, db):
    hm = api.hm(pool["id"])
    other_pool = api.pool(loadbalancer_id=pool["loadbalancers"][0]["id"])
    lb_id = pool["loadbalancers"][0]["id"]
    client.put(f"{BASE}/loadbalancers/{lb_id}", json={"loadbalancer": {"name": "x"}})
    before = snapshot(db)
    immutable = f"Load Balancer {lb_id} is immutable and cannot be updated."
    assert_fault(post(client, **hm_body(other_pool["id"])), 409, immutable)
    assert_fault(
        client.put(f"{URL}/{hm['id']}", json={"healthmonitor": {"delay": 9}}), 409, immutable
    )
    assert_fault(client.delete(f"{URL}/{hm['id']}"), 409, immutable)
    assert snapshot(db) == before


def test_a_deleted_pool_takes_no_monitor(client, api, pool, db):
    with db.session() as s:
        s.get(m.Pool, pool["id"]).provisioning_status = "PENDING_DELETE"
    before = snapshot(db)
    assert_fault(post(client, **hm_body(pool["id"])), 409, f"Pool {pool['id']} is immutable")
    assert snapshot(db) == before


def test_foreign_project_sees_nothing_and_changes_nothing(client, api, pool, db):
    hm = api.hm(pool["id"])
    other = {"X-Project-Id": "someone-else"}
    before = snapshot(db)
    assert_fault(client.get(f"{URL}/{hm['id']}", headers=other), 404)
    assert client.get(URL, headers=other).json()["healthmonitors"] == []
    assert_fault(
        client.put(f"{URL}/{hm['id']}", headers=other, json={"healthmonitor": {"delay": 9}}), 404
    )
    assert_fault(client.delete(f"{URL}/{hm['id']}", headers=other), 404)
    assert_fault(
        client.post(URL, headers=other, json={"healthmonitor": hm_body(pool["id"])}),
        404,
        f"Pool {pool['id']} not found.",
    )
    assert snapshot(db) == before


def test_changes_show_on_the_pool_and_its_listeners_as_octavia(client, api, pool):
    li_id = pool["listeners"][0]["id"]
    hm = api.hm(pool["id"], settle=False)
    assert api.status(m.Pool, pool["id"]) == "PENDING_UPDATE"
    assert api.status(m.Listener, li_id) == "PENDING_UPDATE"
    api.settle()
    for request in (
        lambda: client.put(f"{URL}/{hm['id']}", json={"healthmonitor": {"delay": 9}}),
        lambda: client.delete(f"{URL}/{hm['id']}"),
    ):
        assert request().status_code in (200, 204)
        assert api.status(m.Pool, pool["id"]) == "PENDING_UPDATE"
        assert api.status(m.Listener, li_id) == "PENDING_UPDATE"
        api.settle()
    assert api.status(m.Pool, pool["id"]) == api.status(m.Listener, li_id) == "ACTIVE"


def test_a_timeout_longer_than_the_delay_is_accepted_as_in_octavia(client, api, pool):
    r = client.post(
        URL,
        json={
            "healthmonitor": {
                "pool_id": pool["id"],
                "type": "HTTP",
                "delay": 2,
                "timeout": 3,
                "max_retries": 3,
            }
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["healthmonitor"]["delay"], r.json()["healthmonitor"]["timeout"]) == (2, 3)
