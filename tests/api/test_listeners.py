"""Listeners: Octavia's fields and defaults, lifecycle, ports, pools, headers."""

from __future__ import annotations

import pytest

from hydria.db import models as m
from tests.api.conftest import BASE, assert_fault, assert_routing_fault, snapshot

URL = f"{BASE}/listeners"
# ListenerResponse's attributes (plus tenant_id, which WSME adds).
LISTENER_KEYS = {
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_tls_container_ref",
    "sni_container_refs",
    "project_id",
    "tenant_id",
    "default_pool_id",
    "l7policies",
    "insert_headers",
    "created_at",
    "updated_at",
    "loadbalancers",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "tags",
    "client_ca_tls_container_ref",
    "client_authentication",
    "client_crl_container_ref",
    "allowed_cidrs",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
}


def post(client, **fields):
    return client.post(URL, json={"listener": fields})


def test_create_answers_201_with_octavia_fields_and_defaults(client, api, notifier):
    lb = api.lb()
    r = post(client, loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80)
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"listener"}
    li = r.json()["listener"]
    assert set(li) == LISTENER_KEYS
    assert li["provisioning_status"] == "PENDING_CREATE"
    assert li["operating_status"] == "OFFLINE"
    assert li["name"] == "" and li["description"] == ""
    assert li["admin_state_up"] is True
    assert li["protocol"] == "HTTP" and li["protocol_port"] == 80
    assert li["connection_limit"] == -1
    assert li["timeout_client_data"] == 50000
    assert li["timeout_member_connect"] == 5000
    assert li["timeout_member_data"] == 50000
    assert li["timeout_tcp_inspect"] == 0
    assert li["default_pool_id"] is None and li["default_tls_container_ref"] is None
    assert li["sni_container_refs"] == [] and li["l7policies"] == []
    assert li["insert_headers"] == {} and li["tags"] == []
    assert li["allowed_cidrs"] is None
    assert li["client_authentication"] == "NONE"
    assert li["loadbalancers"] == [{"id": lb["id"]}]
    assert li["project_id"] == li["tenant_id"] == lb["project_id"]
    assert li["created_at"] and li["updated_at"] is None
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb["id"]


def test_create_keeps_every_given_field(client, api):
    lb = api.lb()
    li = api.listener(
        lb["id"],
        settle=False,
        name="web",
        description="front",
        admin_state_up=False,
        connection_limit=100,
        timeout_client_data=1,
        timeout_member_connect=2,
        timeout_member_data=3,
        timeout_tcp_inspect=4,
        insert_headers={"X-Forwarded-For": "true"},
        tags=["a"],
        allowed_cidrs=["10.0.0.0/8", "192.168.1.7/24"],
    )
    assert li["name"] == "web" and li["description"] == "front"
    assert li["admin_state_up"] is False and li["connection_limit"] == 100
    assert (
        li["timeout_client_data"],
        li["timeout_member_connect"],
        li["timeout_member_data"],
        li["timeout_tcp_inspect"],
    ) == (1, 2, 3, 4)
    assert li["insert_headers"] == {"X-Forwarded-For": "true"}
    assert li["tags"] == ["a"]
    assert li["allowed_cidrs"] == ["10.0.0.0/8", "192.168.1.0/24"]


def test_show_and_list_envelopes(client, api):
    lb = api.lb()
    a = api.listener(lb["id"], name="a")
    b = api.listener(lb["id"], name="b", protocol="TCP", protocol_port=443)
    shown = client.get(f"{URL}/{a['id']}").json()
    assert set(shown) == {"listener"}
    assert shown["listener"]["provisioning_status"] == "ACTIVE"
    assert shown["listener"]["operating_status"] == "ONLINE"
    listed = client.get(URL).json()
    assert set(listed) == {"listeners", "listeners_links"}
    assert listed["listeners_links"] == []
    assert [x["id"] for x in listed["listeners"]] == [a["id"], b["id"]]
    assert all(set(x) == LISTENER_KEYS for x in listed["listeners"])


def test_list_filters_and_field_selection(client, api):
    lb = api.lb()
    other_lb = api.lb()
    a = api.listener(lb["id"], name="a")
    b = api.listener(lb["id"], name="b", protocol="TCP", protocol_port=443)
    c = api.listener(other_lb["id"], name="c")

    def ids(query):
        r = client.get(f"{URL}?{query}")
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["listeners"]]

    assert ids("protocol=TCP") == [b["id"]]
    assert ids("protocol_port=80") == [a["id"], c["id"]]
    assert ids(f"loadbalancer_id={lb['id']}") == [a["id"], b["id"]]
    assert ids("name=a&name=c") == [a["id"], c["id"]]
    assert ids("admin_state_up=true") == [a["id"], b["id"], c["id"]]
    assert ids("protocol_port=81") == []
    r = client.get(f"{URL}?fields=id&fields=protocol_port").json()["listeners"]
    assert r == [{"id": x["id"], "protocol_port": x["protocol_port"]} for x in (a, b, c)]
    shown = client.get(f"{URL}/{a['id']}?fields=name,id").json()["listener"]
    assert shown == {"id": a["id"], "name": "a"}


def test_list_refuses_unknown_and_malformed_filters(client, api):
    api.listener(api.lb()["id"])
    assert_fault(client.get(f"{URL}?colour=red"), 400, "duplicate or invalid")
    assert_fault(client.get(f"{URL}?protocol_port=eighty"), 400, "protocol_port")
    assert_fault(client.get(f"{URL}?protocol_port=99999999999999999999999"), 400, "protocol_port")
    assert_fault(client.get(f"{URL}?admin_state_up=maybe"), 400, "admin_state_up")
    assert_fault(client.get(f"{URL}?sort=colour"), 400, "sort key")
    assert_routing_fault(
        client.get(f"{URL}?limit=many"),
        400,
        "Bad Request",
        "Supplied pagination limit 'many' is not valid.",
    )
    assert_fault(client.get(f"{URL}?marker=nope"), 400, "marker")


def test_update_sets_pending_update_and_keeps_unsent_fields(client, api, notifier):
    lb = api.lb()
    li = api.listener(lb["id"], name="a", description="keep", connection_limit=10)
    r = client.put(
        f"{URL}/{li['id']}",
        json={
            "listener": {
                "name": "b",
                "timeout_client_data": 7,
                "insert_headers": {"X-Forwarded-Port": "true"},
            }
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()["listener"]
    assert set(body) == LISTENER_KEYS
    assert body["name"] == "b" and body["description"] == "keep"
    assert body["connection_limit"] == 10 and body["timeout_client_data"] == 7
    assert body["insert_headers"] == {"X-Forwarded-Port": "true"}
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb["id"]


def test_update_with_null_resets_octavia_defaults(client, api):
    li = api.listener(
        api.lb()["id"],
        name="a",
        connection_limit=10,
        timeout_client_data=1,
        tags=["x"],
        allowed_cidrs=["10.0.0.0/8"],
    )
    r = client.put(
        f"{URL}/{li['id']}",
        json={
            "listener": {
                "name": None,
                "connection_limit": None,
                "timeout_client_data": None,
                "tags": None,
                "allowed_cidrs": None,
            }
        },
    )
    body = r.json()["listener"]
    assert body["name"] == "" and body["connection_limit"] == -1
    assert body["timeout_client_data"] == 50000
    assert body["tags"] == [] and body["allowed_cidrs"] is None


def test_delete_lifecycle(client, api, notifier):
    lb = api.lb()
    li = api.listener(lb["id"])
    r = client.delete(f"{URL}/{li['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.status(m.Listener, li["id"]) == "PENDING_DELETE"
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb["id"]
    assert (
        client.get(f"{URL}/{li['id']}").json()["listener"]["provisioning_status"]
        == "PENDING_DELETE"
    )
    api.settle()
    assert_fault(client.get(f"{URL}/{li['id']}"), 404, f"Listener {li['id']} not found.")
    assert client.get(URL).json()["listeners"] == []
    # the port is free again once the listener is gone
    again = api.listener(lb["id"])
    assert again["protocol_port"] == li["protocol_port"]


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_listener_is_404(client, method, db):
    before = snapshot(db)
    ghost = "8a1f1e4c-5e2b-4d6b-9b55-0b8f6bb7a001"
    kwargs = {"json": {"listener": {"name": "x"}}} if method == "put" else {}
    assert_fault(
        getattr(client, method)(f"{URL}/{ghost}", **kwargs), 404, f"Listener {ghost} not found."
    )
    assert snapshot(db) == before


def test_create_on_unknown_load_balancer_is_404(client, db):
    before = snapshot(db)
    ghost = "8a1f1e4c-5e2b-4d6b-9b55-0b8f6bb7a002"
    assert_fault(
        post(client, loadbalancer_id=ghost, protocol="HTTP", protocol_port=80),
        404,
        f"Load Balancer {ghost} not found.",
    )
    assert snapshot(db) == before


def test_every_change_is_409_while_the_load_balancer_is_pending(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    client.put(f"{BASE}/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "x"}})
    before = snapshot(db)
    immutable = f"Load Balancer {lb['id']} is immutable and cannot be updated."
    assert_fault(
        post(client, loadbalancer_id=lb["id"], protocol="TCP", protocol_port=81), 409, immutable
    )
    assert_fault(client.put(f"{URL}/{li['id']}", json={"listener": {"name": "y"}}), 409, immutable)
    assert_fault(client.delete(f"{URL}/{li['id']}"), 409, immutable)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("HTTP", "HTTP"),
        ("HTTP", "TCP"),
        ("TCP", "HTTPS"),
    ],
)
def test_duplicate_port_on_one_load_balancer_is_409(client, api, db, first, second):
    lb = api.lb()
    api.listener(lb["id"], protocol=first, protocol_port=80)
    before = snapshot(db)
    r = post(client, loadbalancer_id=lb["id"], protocol=second, protocol_port=80)
    assert_fault(
        r,
        409,
        "Another Listener on this Load Balancer is already using protocol",
        "protocol_port 80",
    )
    assert snapshot(db) == before


def test_same_port_on_another_load_balancer_is_fine(client, api):
    api.listener(api.lb()["id"], protocol_port=80)
    assert api.listener(api.lb()["id"], protocol_port=80)["protocol_port"] == 80


def test_default_pool_is_checked_for_protocol_and_load_balancer(client, api, db):
    lb = api.lb()
    tcp_pool = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    http_pool = api.pool(loadbalancer_id=lb["id"], protocol="HTTP")
    foreign_pool = api.pool(loadbalancer_id=api.lb()["id"], protocol="HTTP")
    before = snapshot(db)
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        default_pool_id=tcp_pool["id"],
    )
    assert_fault(r, 400, "The pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'")
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        default_pool_id=foreign_pool["id"],
    )
    assert_fault(r, 404, f"Pool {foreign_pool['id']} not found.")
    assert snapshot(db) == before
    li = api.listener(lb["id"], default_pool_id=http_pool["id"])
    assert li["default_pool_id"] == http_pool["id"]
    pool = client.get(f"{BASE}/pools/{http_pool['id']}").json()["pool"]
    assert pool["listeners"] == [{"id": li["id"]}]
    # TCP listeners may send to HTTP pools (Octavia's matrix)
    tcp = api.listener(lb["id"], protocol="TCP", protocol_port=81, default_pool_id=http_pool["id"])
    assert tcp["default_pool_id"] == http_pool["id"]


def test_update_default_pool_checks_protocol_and_can_unset(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    tcp_pool = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    http_pool = api.pool(loadbalancer_id=lb["id"], protocol="HTTP")
    before = snapshot(db)
    r = client.put(f"{URL}/{li['id']}", json={"listener": {"default_pool_id": tcp_pool["id"]}})
    assert_fault(r, 400, "invalid while the listener protocol is 'HTTP'")
    assert snapshot(db) == before
    r = client.put(f"{URL}/{li['id']}", json={"listener": {"default_pool_id": http_pool["id"]}})
    assert r.json()["listener"]["default_pool_id"] == http_pool["id"]
    api.settle()
    r = client.put(f"{URL}/{li['id']}", json={"listener": {"default_pool_id": None}})
    assert r.status_code == 200 and r.json()["listener"]["default_pool_id"] is None


def test_insert_headers_only_on_http_and_only_known_ones(client, api, db):
    lb = api.lb()
    before = snapshot(db)
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="TCP",
        protocol_port=80,
        insert_headers={"X-Forwarded-For": "true"},
    )
    assert_fault(r, 400, "insert-headers is not a valid option for a TCP protocol listener")
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        insert_headers={"X-Colour": "true"},
    )
    assert_fault(r, 400, "X-Colour", "not a valid option for insert_headers")
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        insert_headers={"X-Forwarded-For": True},
    )
    assert_fault(r, 400, "insert_headers")
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        insert_headers={"X-SSL-Client-CN": "true"},
    )
    assert_fault(r, 400, "['X-SSL-Client-CN'] is not a valid option for HTTP protocol listener.")
    assert snapshot(db) == before


def test_insert_headers_accept_octavias_client_address_headers(client, api):
    lb = api.lb()
    headers = {"X-Real-IP": "true", "X-Client-IP": "true", "X-Forwarded-IP": "false"}
    r = post(
        client, loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80, insert_headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["listener"]["insert_headers"] == headers
    api.settle()
    r = client.put(
        f"{URL}/{r.json()['listener']['id']}",
        json={"listener": {"insert_headers": {"X-SSL-Issuer": "true"}}},
    )
    assert_fault(r, 400, "['X-SSL-Issuer'] is not a valid option for HTTP protocol listener.")


def test_allowed_cidrs_must_match_the_vip_family(client, api, db):
    lb = api.lb()
    before = snapshot(db)
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        allowed_cidrs=["2001:db8::/32"],
    )
    assert_fault(r, 400, "IP version incompatible")
    r = post(
        client,
        loadbalancer_id=lb["id"],
        protocol="HTTP",
        protocol_port=80,
        allowed_cidrs=["10.0.0.0/33"],
    )
    assert_fault(r, 400, "allowed_cidrs")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("protocol", "status", "fragment"),
    [
        ("FTP", 400, "Value should be one of"),
        (
            "TERMINATED_HTTPS",
            400,
            "An SNI or default certificate container reference must be "
            "provided for TERMINATED_HTTPS protocol listeners",
        ),
    ],
)
def test_unknown_protocols_are_400_unsupported_ones_501(
    client, api, db, protocol, status, fragment
):
    lb = api.lb()
    before = snapshot(db)
    r = post(client, loadbalancer_id=lb["id"], protocol=protocol, protocol_port=80)
    assert_fault(r, status, fragment)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("field", "status", "fragment"),
    [
        (
            {"default_tls_container_ref": "https://barbican/secret"},
            400,
            "Certificate container references are not allowed on HTTP protocol listeners",
        ),
        (
            {"sni_container_refs": ["https://barbican/secret"]},
            400,
            "Certificate container references are not allowed on HTTP protocol listeners",
        ),
        ({"l7policies": [{"action": "REJECT"}]}, 501, "does not support a requested option"),
        (
            {"hsts_max_age": 10},
            400,
            "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol",
        ),
        ({"hsts_preload": True}, 400, "only make sense if hsts_max_age is set"),
        ({"client_authentication": "MANDATORY"}, 400, "requires a client CA container reference"),
    ],
)
def test_tls_options_on_a_plain_listener_are_refused_as_in_octavia(
    client, api, db, field, status, fragment
):
    lb = api.lb()
    before = snapshot(db)
    r = post(client, loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80, **field)
    assert_fault(r, status, fragment)
    assert snapshot(db) == before


def test_off_values_of_unsupported_options_are_accepted(client, api):
    lb = api.lb()
    li = api.listener(
        lb["id"],
        sni_container_refs=[],
        client_authentication="NONE",
        hsts_preload=False,
        tls_versions=None,
    )
    assert li["sni_container_refs"] == []


def test_foreign_project_sees_nothing_and_changes_nothing(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    other = {"X-Project-Id": "someone-else"}
    before = snapshot(db)
    assert_fault(client.get(f"{URL}/{li['id']}", headers=other), 404)
    assert client.get(URL, headers=other).json()["listeners"] == []
    assert_fault(
        client.put(f"{URL}/{li['id']}", json={"listener": {"name": "x"}}, headers=other), 404
    )
    assert_fault(client.delete(f"{URL}/{li['id']}", headers=other), 404)
    r = client.post(
        URL,
        headers=other,
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 81}},
    )
    assert_fault(r, 404, f"Load Balancer {lb['id']} not found.")
    r = client.post(
        URL,
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "TCP",
                "protocol_port": 81,
                "project_id": "someone-else",
            }
        },
    )
    assert_fault(r, 403)
    assert snapshot(db) == before
    # an admin sees every project's listeners
    admin = {"X-Project-Id": "someone-else", "X-Roles": "admin"}
    assert client.get(f"{URL}/{li['id']}", headers=admin).status_code == 200


def test_served_under_v2_0_too(client, api):
    li = api.listener(api.lb()["id"])
    assert client.get(f"/v2.0/lbaas/listeners/{li['id']}").json()["listener"]["id"] == li["id"]


def test_protocol_port_and_load_balancer_cannot_change(client, api, db):
    li = api.listener(api.lb()["id"])
    before = snapshot(db)
    for field in (
        {"protocol": "TCP"},
        {"protocol_port": 81},
        {"loadbalancer_id": li["loadbalancers"][0]["id"]},
        {"project_id": "x"},
    ):
        r = client.put(f"{URL}/{li['id']}", json={"listener": field})
        assert_fault(r, 400, "Unknown attribute for argument listener")
    assert snapshot(db) == before


def test_tag_filters(client, api):
    lb = api.lb()
    a = api.listener(lb["id"], tags=["web", "blue"])
    b = api.listener(lb["id"], protocol_port=81, tags=["web"])
    c = api.listener(lb["id"], protocol_port=82)

    def ids(query):
        return [x["id"] for x in client.get(f"{URL}?{query}").json()["listeners"]]

    assert ids("tags=web") == [a["id"], b["id"]]
    assert ids("tags=web,blue") == [a["id"]]
    assert ids("tags-any=blue,red") == [a["id"]]
    assert ids("not-tags=web") == [c["id"]]
