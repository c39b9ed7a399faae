"""Request bodies are typed as Octavia's WSME types read JSON (issue 13, item 4).

Integers take a number or a string of one (the ``openstack`` CLI sends
``--connection-limit 100`` as ``"100"``); booleans take true/false, 0/1 and
WSME's unambiguous strings; UUIDs any form ``uuid.UUID`` reads, stored in the
canonical one. Everything else is a 400 in Octavia's words, changing nothing.
Options the provider cannot serve are Octavia's 501 (faultcode ``Server``).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import BASE, assert_fault, snapshot


def test_numeric_strings_are_integers(client, api):
    lb = api.lb()
    r = client.post(
        f"{BASE}/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "HTTP",
                "protocol_port": "80",
                "connection_limit": "100",
                "timeout_client_data": " 5000 ",
                "admin_state_up": "true",
            }
        },
    )
    assert r.status_code == 201, r.text
    li = r.json()["listener"]
    assert (li["protocol_port"], li["connection_limit"], li["timeout_client_data"]) == (
        80,
        100,
        5000,
    )
    assert li["admin_state_up"] is True
    api.settle()
    r = client.put(
        f"{BASE}/listeners/{li['id']}",
        json={"listener": {"connection_limit": "-1", "admin_state_up": "off"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["listener"]["connection_limit"] == -1
    assert r.json()["listener"]["admin_state_up"] is False


def test_member_and_monitor_numbers_and_booleans(client, api):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"])
    r = client.post(
        f"{BASE}/pools/{pool['id']}/members",
        json={
            "member": {
                "address": "10.0.0.7",
                "protocol_port": "8080",
                "weight": "3",
                "backup": "1",
                "monitor_port": 9000.0,
            }
        },
    )
    assert r.status_code == 201, r.text
    mb = r.json()["member"]
    assert (mb["protocol_port"], mb["weight"], mb["backup"], mb["monitor_port"]) == (
        8080,
        3,
        True,
        9000,
    )
    api.settle()
    r = client.post(
        f"{BASE}/healthmonitors",
        json={
            "healthmonitor": {
                "pool_id": pool["id"],
                "type": "TCP",
                "delay": "5",
                "timeout": "3",
                "max_retries": "2",
                "admin_state_up": 0,
            }
        },
    )
    assert r.status_code == 201, r.text
    hm = r.json()["healthmonitor"]
    assert (hm["delay"], hm["timeout"], hm["max_retries"], hm["admin_state_up"]) == (5, 3, 2, False)


def test_quota_takes_a_numeric_string(client):
    r = client.put(
        f"{BASE}/quotas/p-wsme", json={"quota": {"member": "7"}}, headers={"X-Roles": "admin"}
    )
    assert r.status_code == 202, r.text
    assert r.json()["quota"]["member"] == 7


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("protocol_port", "80.5", "Value should be an integer"),
        ("protocol_port", "eighty", "Value should be an integer"),
        ("protocol_port", 80.5, "protocol_port"),
        ("protocol_port", True, "protocol_port"),
        ("protocol_port", "", "Value should be an integer"),
        ("connection_limit", "1e3", "Value should be an integer"),
        ("admin_state_up", "maybe", "Value not an unambiguous boolean: maybe"),
        ("admin_state_up", 2, "admin_state_up"),
        ("admin_state_up", 1.0, "admin_state_up"),
        ("loadbalancer_id", "not-a-uuid", "Value should be UUID format"),
    ],
)
def test_what_wsme_refuses_is_400(client, api, db, field, value, reason):
    lb = api.lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
    body[field] = value
    before = snapshot(db)
    r = client.post(f"{BASE}/listeners", json={"listener": body})
    fault = assert_fault(r, 400, f"Invalid input for field/attribute {field}.", reason)
    assert fault["faultstring"].startswith("Invalid input")
    assert snapshot(db) == before


def test_uuids_in_any_form_uuid_reads_are_stored_canonical(client, api):
    lb = api.lb()
    loose = "{" + lb["id"].replace("-", "").upper() + "}"
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": loose, "protocol": "TCP", "protocol_port": 81}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["listener"]["loadbalancers"] == [{"id": lb["id"]}]


@pytest.mark.parametrize(
    ("path", "root", "fields"),
    [
        ("listeners", "listener", {"protocol": "SCTP", "protocol_port": 82}),
        (
            "loadbalancers",
            "loadbalancer",
            {"vip_qos_policy_id": "5d1f6a3e-0c1b-4e8a-9a43-2b6f1c7d9e10"},
        ),
    ],
)
def test_unsupported_options_are_octavias_501(client, api, db, path, root, fields):
    lb = api.lb()
    body = dict(fields)
    if root == "listener":
        body["loadbalancer_id"] = lb["id"]
    else:
        body["vip_subnet_id"] = api.subnet_id
    before = snapshot(db)
    r = client.post(f"{BASE}/{path}", json={root: body})
    fault = assert_fault(r, 501, "Provider 'amphora' does not support a requested option: ")
    assert fault["faultcode"] == "Server"
    assert snapshot(db) == before
