"""The answers Octavia gives while routing, before its WSME controllers run.

Octavia (pecan) answers an unknown path, and a path under a pool or L7 policy
that does not exist, with pecan's body ``{"code", "title", "description"}``,
not the ``faultcode``/``faultstring`` body of its controllers. Checked against
Octavia 19's source: ``PoolsController._lookup`` and ``L7PolicyController._lookup``
raise its ``NotFound`` (a webob client error, so its title stays "Bad Request")
and pecan's ``__call__`` writes the JSON body, the request's Accept being forced
to JSON by Octavia's ``ContentTypeHook``.
"""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import BASE, assert_fault, assert_routing_fault, snapshot

GHOST = "8f2d5f1e-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "path",
    [f"{BASE}/listenerz", f"{BASE}/pools/a/b/c/d", "/v2/nothing"],
)
def test_an_unknown_path_has_pecans_body(client, path):
    assert_routing_fault(client.get(path), 404, "Not Found", "")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_members_of_a_missing_pool(client, db, api, method):
    api.lb()  # something to change, so "nothing changed" means something
    before = snapshot(db)
    body = {"member": {"address": "10.0.0.9", "protocol_port": 80}}
    if method == "PUT":
        body = {"members": []}
    r = client.request(method, f"{BASE}/pools/{GHOST}/members", json=body)
    assert_routing_fault(r, 404, "Bad Request", f"Pool {GHOST} not found.")
    assert snapshot(db) == before


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_one_member_of_a_missing_pool(client, api, method):
    """Octavia looks the pool up first: the member's own id does not matter."""
    pool = api.pool(loadbalancer_id=api.lb()["id"])
    member = api.member(pool["id"])
    url = f"{BASE}/pools/{GHOST}/members/{member['id']}"
    r = client.request(method, url, json={"member": {"weight": 3}})
    assert_routing_fault(r, 404, "Bad Request", f"Pool {GHOST} not found.")


def test_a_bad_body_for_a_missing_pool_is_still_the_pool_not_found(client):
    r = client.post(f"{BASE}/pools/{GHOST}/members", json={"member": {"address": "nope"}})
    assert_routing_fault(r, 404, "Bad Request", f"Pool {GHOST} not found.")


def test_rules_of_a_missing_l7policy(client):
    for method in ("GET", "POST"):
        r = client.request(
            method,
            f"{BASE}/l7policies/{GHOST}/rules",
            json={"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/"}},
        )
        assert_routing_fault(r, 404, "Bad Request", f"L7Policy {GHOST} not found.")
    r = client.get(f"{BASE}/l7policies/{GHOST}/rules/{uuid.uuid4()}")
    assert_routing_fault(r, 404, "Bad Request", f"L7Policy {GHOST} not found.")


def test_a_missing_child_of_an_existing_parent_keeps_the_wsme_fault(client, api):
    pool = api.pool(loadbalancer_id=api.lb()["id"])
    assert_fault(
        client.get(f"{BASE}/pools/{pool['id']}/members/{GHOST}"),
        404,
        f"Member {GHOST} not found.",
    )
    # and a refusal that is not about the pool stays the controller's answer too
    r = client.post(f"{BASE}/pools/{pool['id']}/members", json={"member": {"address": "nope"}})
    assert_fault(r, 400)


def test_a_missing_object_itself_keeps_the_wsme_fault(client):
    assert_fault(client.get(f"{BASE}/pools/{GHOST}"), 404, f"Pool {GHOST} not found.")
    assert_fault(client.get(f"{BASE}/l7policies/{GHOST}"), 404)


FP = f"{BASE}/flavorprofiles"
ADMIN = {"X-Roles": "admin"}


@pytest.mark.parametrize("limit", ["0", "-1", "infinite"])
def test_no_limit_is_every_item_and_a_next_link_as_octavia_writes_it(client, limit):
    """Octavia 19 answers ``limit`` 0, below 0 or ``infinite`` with every item and a
    ``next`` link with ``limit=None``, which it then refuses with 400 (pecan's body)."""
    made = []
    for i in range(3):
        r = client.post(
            FP,
            headers=ADMIN,
            json={
                "flavorprofile": {"name": f"fp{i}", "provider_name": "amphora", "flavor_data": "{}"}
            },
        )
        assert r.status_code == 201, r.text
        made.append(r.json()["flavorprofile"]["id"])
    r = client.get(FP, headers=ADMIN, params={"limit": limit})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(fp["id"] for fp in body["flavorprofiles"]) == sorted(made)
    last = body["flavorprofiles"][-1]["id"]
    [link] = body["flavorprofile_links"]
    assert link["rel"] == "next"
    assert link["href"].endswith(f"/flavorprofiles?limit=None&marker={last}"), link
    r = client.get(link["href"], headers=ADMIN)
    assert_routing_fault(r, 400, "Bad Request", "Supplied pagination limit 'None' is not valid.")


def test_an_empty_list_with_no_limit_has_no_links(client):
    body = client.get(FP, headers=ADMIN, params={"limit": 0}).json()
    assert body == {"flavorprofiles": [], "flavorprofile_links": []}


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("limit=x", "Supplied pagination limit 'x' is not valid."),
        ("sort=name:sideways", "Supplied sort direction 'sideways' is not valid."),
        ("sort_key=name&sort_dir=up", "Supplied sort direction 'up' is not valid."),
        ("sort=colour:sideways", "Supplied sort direction 'sideways' is not valid."),
    ],
)
def test_paging_refused_by_octavias_hook_has_pecans_body(client, query, text):
    assert_routing_fault(client.get(f"{FP}?{query}", headers=ADMIN), 400, "Bad Request", text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("sort_key=colour", "Supplied sort key 'colour' is not valid."),
        ("marker=nope", "Supplied pagination marker 'nope' is not valid."),
    ],
)
def test_paging_refused_by_the_controller_keeps_the_wsme_fault(client, query, text):
    assert_fault(client.get(f"{FP}?{query}", headers=ADMIN), 400, text)
