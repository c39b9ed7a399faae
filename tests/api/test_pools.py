"""Pools: Octavia's fields and defaults, lifecycle, listeners, persistence."""

from __future__ import annotations

import pytest

from hydria.db import models as m
from hydria.db.snapshot import load_lb_row, to_graph
from hydria.render.haproxy import render
from tests.api.conftest import BASE, assert_fault, snapshot
from tests.render.cases import AMPHORA, OPTIONS

URL = f"{BASE}/pools"
# PoolResponse's attributes (plus tenant_id, which WSME adds).
POOL_KEYS = {
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "protocol",
    "lb_algorithm",
    "session_persistence",
    "project_id",
    "tenant_id",
    "loadbalancers",
    "listeners",
    "created_at",
    "updated_at",
    "healthmonitor_id",
    "members",
    "tags",
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    "tls_enabled",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
}


def post(client, **fields):
    return client.post(URL, json={"pool": fields})


def test_create_on_a_load_balancer_answers_201_with_octavia_defaults(client, api, notifier):
    lb = api.lb()
    r = post(client, loadbalancer_id=lb["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"pool"}
    pool = r.json()["pool"]
    assert set(pool) == POOL_KEYS
    assert pool["provisioning_status"] == "PENDING_CREATE"
    assert pool["operating_status"] == "OFFLINE"
    assert pool["name"] == "" and pool["description"] == ""
    assert pool["admin_state_up"] is True
    assert pool["session_persistence"] is None
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    assert pool["listeners"] == [] and pool["members"] == []
    assert pool["healthmonitor_id"] is None and pool["tags"] == []
    assert pool["tls_enabled"] is False and pool["tls_container_ref"] is None
    assert pool["project_id"] == pool["tenant_id"] == lb["project_id"]
    assert pool["created_at"] and pool["updated_at"] is None
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb["id"]


def test_create_on_a_listener_becomes_its_default_pool(client, api):
    lb = api.lb()
    li = api.listener(lb["id"])
    pool = api.pool(
        settle=False,
        listener_id=li["id"],
        name="p",
        description="d",
        lb_algorithm="LEAST_CONNECTIONS",
        tags=["t"],
    )
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    assert pool["listeners"] == [{"id": li["id"]}]
    assert pool["lb_algorithm"] == "LEAST_CONNECTIONS"
    assert (pool["name"], pool["description"], pool["tags"]) == ("p", "d", ["t"])
    shown = client.get(f"{BASE}/listeners/{li['id']}").json()["listener"]
    assert shown["default_pool_id"] == pool["id"]


def test_show_and_list_envelopes_with_children(client, api):
    s = api.stack()
    shown = client.get(f"{URL}/{s['pool']['id']}").json()
    assert set(shown) == {"pool"}
    pool = shown["pool"]
    assert pool["provisioning_status"] == "ACTIVE"
    assert pool["members"] == [{"id": s["member"]["id"]}]
    assert pool["healthmonitor_id"] == s["hm"]["id"]
    assert pool["listeners"] == [{"id": s["listener"]["id"]}]
    listed = client.get(URL).json()
    assert set(listed) == {"pools", "pools_links"} and listed["pools_links"] == []
    assert [p["id"] for p in listed["pools"]] == [s["pool"]["id"]]
    assert set(listed["pools"][0]) == POOL_KEYS


def test_list_filters_and_field_selection(client, api):
    lb = api.lb()
    a = api.pool(loadbalancer_id=lb["id"], name="a")
    b = api.pool(loadbalancer_id=lb["id"], name="b", protocol="TCP", lb_algorithm="SOURCE_IP")
    c = api.pool(loadbalancer_id=api.lb()["id"], name="c")

    def ids(query):
        r = client.get(f"{URL}?{query}")
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["pools"]]

    assert ids("protocol=TCP") == [b["id"]]
    assert ids("lb_algorithm=ROUND_ROBIN") == [a["id"], c["id"]]
    assert ids(f"loadbalancer_id={lb['id']}") == [a["id"], b["id"]]
    assert ids("name=c") == [c["id"]]
    assert ids("sort=name:desc") == [c["id"], b["id"], a["id"]]
    assert ids("limit=2") == [a["id"], b["id"]]
    page = client.get(f"{URL}?limit=2").json()
    assert page["pools_links"][0]["rel"] == "next"
    assert ids(f"marker={b['id']}") == [c["id"]]
    assert client.get(f"{URL}?fields=id,name").json()["pools"][0] == {"id": a["id"], "name": "a"}
    assert_fault(client.get(f"{URL}?colour=red"), 400, "duplicate or invalid")


def test_update_sets_pending_update_and_keeps_unsent_fields(client, api, notifier):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], name="a", description="keep", tags=["x"])
    r = client.put(
        f"{URL}/{pool['id']}",
        json={"pool": {"name": "b", "lb_algorithm": "SOURCE_IP", "admin_state_up": False}},
    )
    assert r.status_code == 200, r.text
    body = r.json()["pool"]
    assert set(body) == POOL_KEYS
    assert body["name"] == "b" and body["description"] == "keep" and body["tags"] == ["x"]
    assert body["lb_algorithm"] == "SOURCE_IP" and body["admin_state_up"] is False
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb["id"]


def test_update_refuses_a_null_algorithm(client, api, db):
    pool = api.pool(loadbalancer_id=api.lb()["id"])
    before = snapshot(db)
    assert_fault(
        client.put(f"{URL}/{pool['id']}", json={"pool": {"lb_algorithm": None}}),
        400,
        "lb_algorithm",
    )
    assert snapshot(db) == before


def test_session_persistence_rules(client, api, db):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], session_persistence={"type": "HTTP_COOKIE"})
    assert pool["session_persistence"] == {
        "type": "HTTP_COOKIE",
        "cookie_name": None,
        "persistence_timeout": None,
        "persistence_granularity": None,
    }
    app = api.pool(
        loadbalancer_id=lb["id"],
        session_persistence={"type": "APP_COOKIE", "cookie_name": "JSESSIONID"},
    )
    assert app["session_persistence"]["cookie_name"] == "JSESSIONID"
    before = snapshot(db)
    bad = [
        ({"type": "APP_COOKIE"}, "must be specified"),
        ({"type": "HTTP_COOKIE", "cookie_name": "c"}, "can only be specified"),
        ({"type": "STICKY"}, "Value should be one of"),
        ({"type": "SOURCE_IP", "persistence_timeout": 5}, "only for UDP and SCTP"),
        ({"type": "APP_COOKIE", "cookie_name": "a b"}, "cookie_name"),
        # Written into req.cook(...): characters HAProxy reads specially are refused.
        ({"type": "APP_COOKIE", "cookie_name": "a)b"}, "cookie_name"),
        ({"type": "APP_COOKIE", "cookie_name": "a#b"}, "cookie_name"),
        ({"type": "APP_COOKIE", "cookie_name": "SID\n"}, "cookie_name"),
        ({"cookie_name": "c"}, "type"),
        ("HTTP_COOKIE", "session_persistence"),
    ]
    for sp, fragment in bad:
        r = post(
            client,
            loadbalancer_id=lb["id"],
            protocol="HTTP",
            lb_algorithm="ROUND_ROBIN",
            session_persistence=sp,
        )
        assert_fault(r, 400, fragment)
    assert snapshot(db) == before
    r = client.put(f"{URL}/{app['id']}", json={"pool": {"session_persistence": None}})
    assert r.json()["pool"]["session_persistence"] is None


def test_delete_lifecycle_and_default_pool_of_a_listener(client, api, notifier):
    s = api.stack()
    pool_id, li_id = s["pool"]["id"], s["listener"]["id"]
    # As in Octavia, a listener's default pool may be deleted; the listener loses it.
    r = client.delete(f"{URL}/{pool_id}")
    assert r.status_code == 204 and r.content == b""
    assert api.status(m.Pool, pool_id) == "PENDING_DELETE"
    assert api.status(m.LoadBalancer, s["lb"]["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == s["lb"]["id"]
    api.settle()
    assert_fault(client.get(f"{URL}/{pool_id}"), 404, f"Pool {pool_id} not found.")
    assert client.get(f"{BASE}/listeners/{li_id}").json()["listener"]["default_pool_id"] is None
    # its members and monitor went with it
    assert_fault(client.get(f"{BASE}/healthmonitors/{s['hm']['id']}"), 404)
    assert client.get(f"{BASE}/healthmonitors").json()["healthmonitors"] == []


def test_a_deleted_pool_takes_no_children(client, api, db):
    s = api.stack()
    pool_id = s["pool"]["id"]
    with db.session() as session:
        session.get(m.Pool, pool_id).provisioning_status = "PENDING_DELETE"
    before = snapshot(db)
    r = client.post(
        f"{URL}/{pool_id}/members", json={"member": {"address": "10.0.0.9", "protocol_port": 80}}
    )
    assert_fault(r, 409, f"Pool {pool_id} is immutable")
    assert snapshot(db) == before


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_pool_is_404(client, method, db):
    before = snapshot(db)
    ghost = "5c0e8c8e-2f7b-4d57-9a3e-0d8a7c7f0001"
    kwargs = {"json": {"pool": {"name": "x"}}} if method == "put" else {}
    assert_fault(
        getattr(client, method)(f"{URL}/{ghost}", **kwargs), 404, f"Pool {ghost} not found."
    )
    assert snapshot(db) == before


def test_create_needs_a_parent_that_exists(client, api, db):
    before = snapshot(db)
    ghost = "5c0e8c8e-2f7b-4d57-9a3e-0d8a7c7f0002"
    assert_fault(
        post(client, protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
        400,
        "Must provide at least one of: loadbalancer_id, listener_id",
    )
    assert_fault(
        post(client, loadbalancer_id=ghost, protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
        404,
        f"Load Balancer {ghost} not found.",
    )
    assert_fault(
        post(client, listener_id=ghost, protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
        404,
        f"Listener {ghost} not found.",
    )
    assert snapshot(db) == before


def test_listener_and_load_balancer_must_agree(client, api, db):
    li = api.listener(api.lb()["id"])
    other_lb = api.lb()
    before = snapshot(db)
    r = post(
        client,
        listener_id=li["id"],
        loadbalancer_id=other_lb["id"],
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
    )
    assert_fault(r, 400, f"Listener {li['id']} is not on load balancer {other_lb['id']}")
    assert snapshot(db) == before


def test_a_listener_has_one_default_pool(client, api, db):
    s = api.stack()
    before = snapshot(db)
    r = post(client, listener_id=s["listener"]["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    assert_fault(r, 409, "This listener already has a default pool")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("listener", "pool", "ok"),
    [
        ("HTTP", "HTTP", True),
        ("HTTP", "PROXY", True),
        ("HTTP", "PROXYV2", True),
        ("HTTP", "TCP", False),
        ("HTTP", "HTTPS", False),
        ("HTTPS", "HTTPS", True),
        ("HTTPS", "TCP", True),
        ("HTTPS", "HTTP", False),
        ("TCP", "TCP", True),
        ("TCP", "HTTP", True),
        ("TCP", "HTTPS", True),
    ],
)
def test_listener_pool_protocol_matrix(client, api, db, listener, pool, ok):
    li = api.listener(api.lb()["id"], protocol=listener, protocol_port=80)
    before = snapshot(db)
    r = post(client, listener_id=li["id"], protocol=pool, lb_algorithm="ROUND_ROBIN")
    if ok:
        assert r.status_code == 201, r.text
    else:
        assert_fault(
            r,
            400,
            f"The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'.",
        )
        assert snapshot(db) == before


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"protocol": "FTP"}, 400, "Value should be one of"),
        ({"lb_algorithm": "RANDOM"}, 400, "Value should be one of"),
        (
            {"crl_container_ref": "https://barbican/v1/secrets/x"},
            400,
            "A CA certificate reference is required to specify a revocation list",
        ),
        (
            {"members": [{"address": "10.0.0.1", "protocol_port": 80}]},
            501,
            "does not support a requested option",
        ),
        ({"healthmonitor": {"type": "PING"}}, 501, "does not support a requested option"),
    ],
)
def test_bad_options_are_400_unsupported_ones_501(client, api, db, fields, status, fragment):
    lb = api.lb()
    body = {
        "loadbalancer_id": lb["id"],
        "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN",
        **fields,
    }
    before = snapshot(db)
    assert_fault(post(client, **body), status, fragment)
    assert snapshot(db) == before


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_source_ip_port_is_accepted(client, api, protocol):
    lb = api.lb()
    r = post(client, loadbalancer_id=lb["id"], protocol=protocol, lb_algorithm="SOURCE_IP_PORT")
    assert r.status_code == 201, r.text
    assert r.json()["pool"]["lb_algorithm"] == "SOURCE_IP_PORT"


def test_every_change_is_409_while_the_load_balancer_is_pending(client, api, db):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    client.put(f"{BASE}/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "x"}})
    before = snapshot(db)
    immutable = f"Load Balancer {lb['id']} is immutable and cannot be updated."
    assert_fault(
        post(client, loadbalancer_id=lb["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN"),
        409,
        immutable,
    )
    assert_fault(client.put(f"{URL}/{pool['id']}", json={"pool": {"name": "y"}}), 409, immutable)
    assert_fault(client.delete(f"{URL}/{pool['id']}"), 409, immutable)
    assert snapshot(db) == before


def test_foreign_project_sees_nothing_and_changes_nothing(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    pool = api.pool(loadbalancer_id=lb["id"])
    other = {"X-Project-Id": "someone-else"}
    before = snapshot(db)
    assert_fault(client.get(f"{URL}/{pool['id']}", headers=other), 404)
    assert client.get(URL, headers=other).json()["pools"] == []
    assert_fault(
        client.put(f"{URL}/{pool['id']}", json={"pool": {"name": "x"}}, headers=other), 404
    )
    assert_fault(client.delete(f"{URL}/{pool['id']}", headers=other), 404)
    for parent in ({"loadbalancer_id": lb["id"]}, {"listener_id": li["id"]}):
        r = client.post(
            URL,
            headers=other,
            json={"pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", **parent}},
        )
        assert_fault(r, 404, "not found")
    assert snapshot(db) == before


def test_changes_show_on_the_pools_listeners_as_octavia(client, api):
    li = api.listener(api.lb()["id"])
    pool = api.pool(settle=False, listener_id=li["id"])
    assert api.status(m.Listener, li["id"]) == "PENDING_UPDATE"
    api.settle()
    assert client.put(f"{URL}/{pool['id']}", json={"pool": {"name": "x"}}).status_code == 200
    assert api.status(m.Listener, li["id"]) == "PENDING_UPDATE"
    api.settle()
    assert client.delete(f"{URL}/{pool['id']}").status_code == 204
    assert api.status(m.Listener, li["id"]) == "PENDING_UPDATE"
    api.settle()
    assert api.status(m.Listener, li["id"]) == "ACTIVE"


def test_protocol_and_parents_cannot_change(client, api, db):
    pool = api.pool(loadbalancer_id=api.lb()["id"])
    before = snapshot(db)
    for field in (
        {"protocol": "TCP"},
        {"loadbalancer_id": pool["loadbalancers"][0]["id"]},
        {"listener_id": None},
        {"healthmonitor_id": None},
    ):
        r = client.put(f"{URL}/{pool['id']}", json={"pool": field})
        assert_fault(r, 400, "Unknown attribute for argument pool")
    assert snapshot(db) == before


def test_tls_versions_are_stored_shown_and_changed_as_in_octavia(client, api, db):
    """Octavia's pool ``tls_versions``: null unless given (a pool without TLS gets no
    default), any of its version names, never an empty list; a PUT changes or clears it."""
    lb = api.lb()
    plain = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    assert plain["tls_versions"] is None
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
        tls_versions=["TLSv1.2", "TLSv1.3"],
    )
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    assert pool["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    api.settle()
    assert client.get(f"{URL}/{pool['id']}").json()["pool"]["tls_versions"] == [
        "TLSv1.2",
        "TLSv1.3",
    ]
    listed = client.get(URL, params={"fields": "tls_versions", "id": pool["id"]}).json()
    assert listed["pools"] == [{"tls_versions": ["TLSv1.2", "TLSv1.3"]}]

    r = client.put(f"{URL}/{pool['id']}", json={"pool": {"tls_versions": ["TLSv1.3"]}})
    assert r.status_code == 200, r.text
    assert r.json()["pool"]["tls_versions"] == ["TLSv1.3"]
    api.settle()
    r = client.put(f"{URL}/{pool['id']}", json={"pool": {"tls_versions": None}})
    assert r.json()["pool"]["tls_versions"] is None
    api.settle()

    before = snapshot(db)
    for bad, fragment in (
        ([], "Empty TLS version list"),
        (["TLSv9"], "Invalid TLS versions: TLSv9"),
        ("TLSv1.2", "Input should be a valid list"),
    ):
        assert_fault(
            post(
                client,
                loadbalancer_id=lb["id"],
                protocol="HTTP",
                lb_algorithm="ROUND_ROBIN",
                tls_versions=bad,
            ),
            400,
            fragment,
        )
        assert_fault(
            client.put(f"{URL}/{pool['id']}", json={"pool": {"tls_versions": bad}}), 400, fragment
        )
    assert snapshot(db) == before


def test_tls_versions_leave_the_rendered_configuration_alone(api, db):
    """HAProxy applies a pool's TLS versions to its servers' connections only when the
    pool speaks TLS to them (Octavia's template); this release's pools do not
    (``tls_enabled`` is refused), so the data plane's view of the pool is unchanged."""
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    with db.session() as s:
        without = render(to_graph(load_lb_row(s, lb["id"])), AMPHORA, OPTIONS, version=1)
    api.client.put(f"{URL}/{pool['id']}", json={"pool": {"tls_versions": ["TLSv1.3"]}})
    api.settle()
    with db.session() as s:
        assert render(to_graph(load_lb_row(s, lb["id"])), AMPHORA, OPTIONS, version=1) == without


def test_a_pool_no_listener_uses_stays_offline_once_active(client, api):
    """As in Octavia: only a pool a listener reaches is served and reported ONLINE."""
    lb = api.lb()
    alone = api.pool(loadbalancer_id=lb["id"])
    shown = client.get(f"{URL}/{alone['id']}").json()["pool"]
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "OFFLINE")
    listener = api.listener(lb["id"], default_pool_id=alone["id"])
    shown = client.get(f"{URL}/{alone['id']}").json()["pool"]
    assert shown["operating_status"] == "ONLINE"
    client.delete(f"{BASE}/listeners/{listener['id']}")
    api.settle()
    shown = client.get(f"{URL}/{alone['id']}").json()["pool"]
    assert shown["operating_status"] == "OFFLINE"
