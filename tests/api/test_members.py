"""Members: one by one and by batch update, Octavia's fields, defaults and rules."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hydria.db import models as m
from tests.api.conftest import BASE, assert_fault, assert_routing_fault, snapshot

# MemberResponse's attributes (plus tenant_id, which WSME adds).
MEMBER_KEYS = {
    "id",
    "name",
    "operating_status",
    "provisioning_status",
    "admin_state_up",
    "address",
    "protocol_port",
    "weight",
    "backup",
    "subnet_id",
    "project_id",
    "tenant_id",
    "created_at",
    "updated_at",
    "monitor_address",
    "monitor_port",
    "tags",
    "vnic_type",
}


def url(pool_id: str) -> str:
    return f"{BASE}/pools/{pool_id}/members"


def members_of(db, pool_id):
    """{(address, port): (status, weight, name)} of every row of the pool."""
    with db.session() as s:
        rows = s.scalars(select(m.Member).where(m.Member.pool_id == pool_id))
        return {
            (r.address, r.protocol_port): (r.provisioning_status, r.weight, r.name) for r in rows
        }


@pytest.fixture
def pool(api):
    lb = api.lb()
    li = api.listener(lb["id"])
    return api.pool(listener_id=li["id"])


def test_create_answers_201_with_octavia_fields_and_defaults(client, api, pool, notifier):
    r = client.post(url(pool["id"]), json={"member": {"address": "10.0.0.5", "protocol_port": 80}})
    assert r.status_code == 201, r.text
    assert set(r.json()) == {"member"}
    mem = r.json()["member"]
    assert set(mem) == MEMBER_KEYS
    assert mem["provisioning_status"] == "PENDING_CREATE"
    # Octavia: no health monitor on the pool -> NO_MONITOR
    assert mem["operating_status"] == "NO_MONITOR"
    assert mem["name"] == "" and mem["admin_state_up"] is True
    assert mem["weight"] == 1 and mem["backup"] is False
    assert mem["subnet_id"] is None
    assert mem["monitor_address"] is None and mem["monitor_port"] is None
    assert mem["tags"] == [] and mem["vnic_type"] == "normal"
    assert mem["project_id"] == mem["tenant_id"] == pool["project_id"]
    assert mem["created_at"] and mem["updated_at"] is None
    lb_id = pool["loadbalancers"][0]["id"]
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb_id


def test_create_with_a_monitor_starts_offline_and_keeps_given_fields(client, api, pool):
    api.hm(pool["id"])
    mem = api.member(
        pool["id"],
        settle=False,
        address="2001:0db8::0001",
        protocol_port=443,
        name="web1",
        weight=0,
        backup=True,
        admin_state_up=False,
        monitor_address="10.1.1.1",
        monitor_port=9000,
        tags=["a"],
    )
    assert mem["operating_status"] == "OFFLINE"
    # kept as written, as Octavia's IPAddressType keeps it (its tests compare the text)
    assert mem["address"] == "2001:0db8::0001"
    shown = client.get(f"{url(pool['id'])}/{mem['id']}").json()["member"]
    assert shown["address"] == "2001:0db8::0001"
    assert (mem["name"], mem["weight"], mem["backup"], mem["admin_state_up"]) == (
        "web1",
        0,
        True,
        False,
    )
    assert (mem["monitor_address"], mem["monitor_port"], mem["tags"]) == ("10.1.1.1", 9000, ["a"])


def test_show_and_list_envelopes(client, api, pool):
    a = api.member(pool["id"], address="10.0.0.1", name="a")
    b = api.member(pool["id"], address="10.0.0.2", name="b", weight=5)
    shown = client.get(f"{url(pool['id'])}/{a['id']}").json()
    assert set(shown) == {"member"} and shown["member"]["provisioning_status"] == "ACTIVE"
    listed = client.get(url(pool["id"])).json()
    assert set(listed) == {"members", "members_links"} and listed["members_links"] == []
    assert [x["id"] for x in listed["members"]] == [a["id"], b["id"]]
    assert all(set(x) == MEMBER_KEYS for x in listed["members"])
    assert [x["id"] for x in client.get(f"{url(pool['id'])}?weight=5").json()["members"]] == [
        b["id"]
    ]
    assert [
        x["id"] for x in client.get(f"{url(pool['id'])}?address=10.0.0.1").json()["members"]
    ] == [a["id"]]
    assert client.get(f"{url(pool['id'])}?fields=id,weight").json()["members"] == [
        {"id": a["id"], "weight": 1},
        {"id": b["id"], "weight": 5},
    ]
    assert_fault(client.get(f"{url(pool['id'])}?weight=heavy"), 400, "weight")
    assert_fault(client.get(f"{url(pool['id'])}?weight=99999999999999999999999"), 400, "weight")


def test_a_member_is_only_found_under_its_own_pool(client, api, pool):
    mem = api.member(pool["id"])
    other = api.pool(loadbalancer_id=pool["loadbalancers"][0]["id"])
    assert_fault(
        client.get(f"{url(other['id'])}/{mem['id']}"), 404, f"Member {mem['id']} not found."
    )
    assert client.get(url(other["id"])).json()["members"] == []


def test_update_sets_pending_update_and_keeps_unsent_fields(client, api, pool, notifier):
    mem = api.member(pool["id"], name="a", weight=7, tags=["t"])
    r = client.put(
        f"{url(pool['id'])}/{mem['id']}",
        json={"member": {"name": "b", "backup": True, "monitor_port": 9000}},
    )
    assert r.status_code == 200, r.text
    body = r.json()["member"]
    assert set(body) == MEMBER_KEYS
    assert body["name"] == "b" and body["weight"] == 7 and body["tags"] == ["t"]
    assert body["backup"] is True and body["monitor_port"] == 9000
    assert body["provisioning_status"] == "PENDING_UPDATE" and body["updated_at"]
    lb_id = pool["loadbalancers"][0]["id"]
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb_id


def test_update_with_null_resets_octavia_defaults(client, api, pool):
    mem = api.member(pool["id"], name="a", weight=7, backup=True, tags=["t"], monitor_port=9000)
    r = client.put(
        f"{url(pool['id'])}/{mem['id']}",
        json={
            "member": {
                "name": None,
                "weight": None,
                "backup": None,
                "tags": None,
                "monitor_port": None,
            }
        },
    )
    body = r.json()["member"]
    assert (body["name"], body["weight"], body["backup"], body["tags"], body["monitor_port"]) == (
        "",
        1,
        False,
        [],
        None,
    )


def test_address_and_port_cannot_change(client, api, pool, db):
    mem = api.member(pool["id"])
    before = snapshot(db)
    for field in ({"address": "10.0.0.9"}, {"protocol_port": 81}, {"subnet_id": None}):
        r = client.put(f"{url(pool['id'])}/{mem['id']}", json={"member": field})
        assert_fault(r, 400, "Unknown attribute for argument member")
    assert snapshot(db) == before


def test_delete_lifecycle(client, api, pool, notifier):
    mem = api.member(pool["id"])
    r = client.delete(f"{url(pool['id'])}/{mem['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.status(m.Member, mem["id"]) == "PENDING_DELETE"
    assert notifier.calls[-1] == pool["loadbalancers"][0]["id"]
    api.settle()
    assert_fault(client.get(f"{url(pool['id'])}/{mem['id']}"), 404)
    # the same address and port may be used again once the member is gone
    assert api.member(pool["id"])["address"] == mem["address"]


def test_duplicate_address_and_port_is_409(client, api, pool, db):
    api.member(pool["id"], address="10.0.0.1", protocol_port=80)
    before = snapshot(db)
    r = client.post(url(pool["id"]), json={"member": {"address": "10.0.0.1", "protocol_port": 80}})
    assert_fault(
        r, 409, "Another member on this pool is already using ip 10.0.0.1 on protocol_port 80"
    )
    assert snapshot(db) == before
    # another port, or the same pair in another pool, is fine
    assert api.member(pool["id"], address="10.0.0.1", protocol_port=81)
    other = api.pool(loadbalancer_id=pool["loadbalancers"][0]["id"])
    assert api.member(other["id"], address="10.0.0.1", protocol_port=80)


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"address": "169.254.169.254"}, 400, "The IP Address 169.254.169.254 is invalid."),
        ({"address": "10.0.0.256"}, 400, "address"),
        ({"address": "example.com"}, 400, "address"),
        ({"protocol_port": 0}, 400, "protocol_port"),
        ({"protocol_port": 70000}, 400, "protocol_port"),
        ({"protocol_port": "80x"}, 400, "protocol_port"),
        ({"weight": 257}, 400, "weight"),
        ({"weight": -1}, 400, "weight"),
        ({"weight": 1.5}, 400, "weight"),
        ({"backup": 2}, 400, "backup"),
        ({"monitor_port": 0}, 400, "monitor_port"),
        ({"monitor_address": "nowhere"}, 400, "monitor_address"),
        ({"subnet_id": "not-a-uuid"}, 400, "subnet_id"),
        ({"subnet_id": "0e4b6a3c-9d7f-4f0e-8a43-3f2b0c1d0001"}, 400, "Subnet"),
        ({"request_sriov": True}, 400, "SR-IOV"),
        ({"colour": "red"}, 400, "Unknown attribute for argument member: colour"),
    ],
)
def test_bad_member_fields(client, api, pool, db, fields, status, fragment):
    body = {"address": "10.0.0.1", "protocol_port": 80, **fields}
    before = snapshot(db)
    assert_fault(client.post(url(pool["id"]), json={"member": body}), status, fragment)
    assert snapshot(db) == before


def test_unknown_pool_or_member_is_404(client, api, pool, db):
    ghost = "0e4b6a3c-9d7f-4f0e-8a43-3f2b0c1d0002"
    before = snapshot(db)
    body = {"member": {"address": "10.0.0.1", "protocol_port": 80}}
    # the pool of the path: Octavia's routing answers, with pecan's body
    for r in (
        client.get(url(ghost)),
        client.post(url(ghost), json=body),
        client.put(url(ghost), json={"members": []}),
    ):
        assert_routing_fault(r, 404, "Bad Request", f"Pool {ghost} not found.")
    for method in ("get", "delete"):
        assert_fault(
            getattr(client, method)(f"{url(pool['id'])}/{ghost}"), 404, f"Member {ghost} not found."
        )
    assert_fault(
        client.put(f"{url(pool['id'])}/{ghost}", json={"member": {"weight": 2}}),
        404,
        f"Member {ghost} not found.",
    )
    assert snapshot(db) == before


def test_every_change_is_409_while_the_load_balancer_is_pending(client, api, pool, db):
    mem = api.member(pool["id"])
    lb_id = pool["loadbalancers"][0]["id"]
    client.put(f"{BASE}/loadbalancers/{lb_id}", json={"loadbalancer": {"name": "x"}})
    before = snapshot(db)
    immutable = f"Load Balancer {lb_id} is immutable and cannot be updated."
    assert_fault(
        client.post(url(pool["id"]), json={"member": {"address": "10.0.0.9", "protocol_port": 80}}),
        409,
        immutable,
    )
    assert_fault(
        client.put(f"{url(pool['id'])}/{mem['id']}", json={"member": {"weight": 3}}), 409, immutable
    )
    assert_fault(client.delete(f"{url(pool['id'])}/{mem['id']}"), 409, immutable)
    assert_fault(client.put(url(pool["id"]), json={"members": []}), 409, immutable)
    # even a batch that would change nothing is refused, as Octavia does
    assert_fault(
        client.put(
            url(pool["id"]),
            json={"members": [{"address": mem["address"], "protocol_port": mem["protocol_port"]}]},
        ),
        409,
        immutable,
    )
    assert snapshot(db) == before


def test_foreign_project_sees_nothing_and_changes_nothing(client, api, pool, db):
    mem = api.member(pool["id"])
    other = {"X-Project-Id": "someone-else"}
    before = snapshot(db)
    assert_fault(client.get(url(pool["id"]), headers=other), 404)
    assert_fault(client.get(f"{url(pool['id'])}/{mem['id']}", headers=other), 404)
    assert_fault(
        client.post(
            url(pool["id"]),
            headers=other,
            json={"member": {"address": "10.0.0.9", "protocol_port": 80}},
        ),
        404,
    )
    assert_fault(
        client.put(f"{url(pool['id'])}/{mem['id']}", headers=other, json={"member": {"weight": 3}}),
        404,
    )
    assert_fault(client.delete(f"{url(pool['id'])}/{mem['id']}", headers=other), 404)
    assert_fault(client.put(url(pool["id"]), headers=other, json={"members": []}), 404)
    assert snapshot(db) == before


# --- batch update: PUT /v2/lbaas/pools/{pool_id}/members ---------------------------------


def test_batch_creates_updates_and_deletes_in_one_request(client, api, pool, db, notifier):
    keep = api.member(
        pool["id"], address="10.0.0.1", protocol_port=80, name="keep", weight=3, tags=["t"]
    )
    gone = api.member(pool["id"], address="10.0.0.2", protocol_port=80)
    lb_id = pool["loadbalancers"][0]["id"]
    r = client.put(
        url(pool["id"]),
        json={
            "members": [
                {"address": "10.0.0.1", "protocol_port": 80, "weight": 9},
                {"address": "10.0.0.3", "protocol_port": 80, "name": "new", "backup": True},
            ]
        },
    )
    assert r.status_code == 202 and r.content == b""
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_UPDATE"
    assert notifier.calls[-1] == lb_id
    rows = members_of(db, pool["id"])
    assert rows[("10.0.0.1", 80)] == ("PENDING_UPDATE", 9, "keep")
    assert rows[("10.0.0.2", 80)][0] == "PENDING_DELETE"
    assert rows[("10.0.0.3", 80)] == ("PENDING_CREATE", 1, "new")
    # the updated member kept its id, its name and its tags (not given in the entry)
    shown = client.get(f"{url(pool['id'])}/{keep['id']}").json()["member"]
    assert shown["weight"] == 9 and shown["name"] == "keep" and shown["tags"] == ["t"]
    api.settle()
    listed = client.get(url(pool["id"])).json()["members"]
    assert sorted(x["address"] for x in listed) == ["10.0.0.1", "10.0.0.3"]
    assert all(x["provisioning_status"] == "ACTIVE" for x in listed)
    assert_fault(client.get(f"{url(pool['id'])}/{gone['id']}"), 404)


def test_batch_entries_without_defaults_reset_them_as_octavia(client, api, pool, db):
    mem = api.member(pool["id"], weight=3, backup=True, monitor_port=9000)
    client.put(
        url(pool["id"]),
        json={"members": [{"address": mem["address"], "protocol_port": mem["protocol_port"]}]},
    )
    shown = client.get(f"{url(pool['id'])}/{mem['id']}").json()["member"]
    assert (shown["weight"], shown["backup"], shown["monitor_port"]) == (1, False, None)
    assert shown["provisioning_status"] == "PENDING_UPDATE"


def test_batch_additive_only_never_deletes(client, api, pool, db):
    api.member(pool["id"], address="10.0.0.1")
    r = client.put(
        f"{url(pool['id'])}?additive_only=true",
        json={"members": [{"address": "10.0.0.2", "protocol_port": 8080}]},
    )
    assert r.status_code == 202
    rows = members_of(db, pool["id"])
    assert rows[("10.0.0.1", 8080)][0] == "ACTIVE"
    assert rows[("10.0.0.2", 8080)][0] == "PENDING_CREATE"


def test_batch_with_an_empty_list_deletes_every_member(client, api, pool, db):
    api.member(pool["id"], address="10.0.0.1")
    api.member(pool["id"], address="10.0.0.2")
    assert client.put(url(pool["id"]), json={"members": []}).status_code == 202
    assert {s for s, _, _ in members_of(db, pool["id"]).values()} == {"PENDING_DELETE"}


def test_batch_that_changes_nothing_is_202_and_touches_nothing(client, api, pool, db, notifier):
    before = snapshot(db)
    calls = list(notifier.calls)
    assert client.put(url(pool["id"]), json={"members": []}).status_code == 202
    assert snapshot(db) == before and notifier.calls == calls


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {
                "members": [
                    {"address": "10.0.0.1", "protocol_port": 80},
                    {"address": "10.0.0.1", "protocol_port": 80},
                ]
            },
            "Member must be updated only once in the same request.",
        ),
        ({"members": [{"address": "10.0.0.1"}]}, "protocol_port"),
        ({"members": [{"address": "10.0.0.1", "protocol_port": 80, "weight": 257}]}, "weight"),
        ({"members": [{"address": "10.0.0.1", "protocol_port": 0}]}, "protocol_port"),
        ({"members": [{"address": "169.254.169.254", "protocol_port": 80}]}, "invalid"),
        (
            {"members": [{"address": "10.0.0.1", "protocol_port": 80, "colour": 1}]},
            "Unknown attribute",
        ),
        ({"members": ["10.0.0.1:80"]}, "members[0]"),
        ({"members": {"address": "10.0.0.1", "protocol_port": 80}}, "members"),
        ({"members": None}, "members"),
        ({}, "members"),
        ({"member": []}, "Unknown attribute"),
        ([], "JSON object"),
    ],
)
def test_bad_batches_change_nothing(client, api, pool, db, body, fragment):
    api.member(pool["id"], address="10.0.0.7")
    before = snapshot(db)
    assert_fault(client.put(url(pool["id"]), json=body), 400, fragment)
    assert snapshot(db) == before


def test_batch_on_a_deleted_pool_is_409(client, api, pool, db):
    with db.session() as s:
        s.get(m.Pool, pool["id"]).provisioning_status = "PENDING_DELETE"
    before = snapshot(db)
    assert_fault(
        client.put(url(pool["id"]), json={"members": []}), 409, f"Pool {pool['id']} is immutable"
    )
    assert snapshot(db) == before


def test_batch_noop_is_still_409_while_the_load_balancer_is_pending(client, api, pool, db):
    lb_id = pool["loadbalancers"][0]["id"]
    client.put(f"{BASE}/loadbalancers/{lb_id}", json={"loadbalancer": {"name": "x"}})
    before = snapshot(db)
    assert_fault(
        client.put(url(pool["id"]), json={"members": []}),
        409,
        f"Load Balancer {lb_id} is immutable",
    )
    assert snapshot(db) == before


def test_changes_show_on_the_pool_and_its_listeners_as_octavia(client, api, pool):
    li_id = pool["listeners"][0]["id"]
    mem = api.member(pool["id"], settle=False)
    assert api.status(m.Pool, pool["id"]) == "PENDING_UPDATE"
    assert api.status(m.Listener, li_id) == "PENDING_UPDATE"
    api.settle()
    assert api.status(m.Pool, pool["id"]) == api.status(m.Listener, li_id) == "ACTIVE"
    for request in (
        lambda: client.put(f"{url(pool['id'])}/{mem['id']}", json={"member": {"weight": 2}}),
        lambda: client.put(url(pool["id"]), json={"members": []}),
    ):
        assert request().status_code in (200, 202)
        assert api.status(m.Pool, pool["id"]) == "PENDING_UPDATE"
        assert api.status(m.Listener, li_id) == "PENDING_UPDATE"
        api.settle()
    assert (
        client.get(f"{BASE}/pools/{pool['id']}").json()["pool"]["provisioning_status"] == "ACTIVE"
    )


def test_batch_refuses_two_new_entries_for_one_address_and_port(client, api, pool, db):
    """Octavia only catches this for existing members; Hydria catches it for new ones too."""
    before = snapshot(db)
    r = client.put(
        url(pool["id"]),
        json={
            "members": [
                {"address": "10.0.0.5", "protocol_port": 80, "name": "a"},
                {"address": "10.0.0.5", "protocol_port": 80, "name": "b"},
            ]
        },
    )
    assert_fault(r, 400, "Member must be updated only once in the same request.")
    assert snapshot(db) == before
