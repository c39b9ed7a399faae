"""Load balancers: envelopes, Octavia's fields and defaults, VIPs, lifecycle."""

from __future__ import annotations

import re

from hydria.db import models as m
from hydria.db.subnets import create_subnet
from tests.api.conftest import BASE, assert_fault, snapshot

# LoadBalancerResponse's attributes (plus tenant_id, which WSME adds).
LB_KEYS = {
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "tenant_id",
    "created_at",
    "updated_at",
    "vip_address",
    "vip_port_id",
    "vip_subnet_id",
    "vip_network_id",
    "vip_sg_ids",
    "additional_vips",
    "listeners",
    "pools",
    "provider",
    "flavor_id",
    "vip_qos_policy_id",
    "tags",
    "availability_zone",
    "vip_vnic_type",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def test_create_answers_201_with_octavia_fields_and_defaults(client, api, notifier):
    r = client.post(
        f"{BASE}/loadbalancers", json={"loadbalancer": {"vip_subnet_id": api.subnet_id}}
    )
    assert r.status_code == 201
    lb = r.json()["loadbalancer"]
    assert set(lb) == LB_KEYS
    assert lb["provisioning_status"] == "PENDING_CREATE"
    assert lb["operating_status"] == "OFFLINE"
    assert lb["name"] == "" and lb["description"] == ""
    assert lb["admin_state_up"] is True
    assert lb["provider"] == "amphora"
    assert lb["project_id"] == lb["tenant_id"] == "hydria-default-project"
    assert lb["vip_address"] == "127.42.0.2"
    assert lb["vip_subnet_id"] == api.subnet_id and lb["vip_network_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", lb["vip_port_id"])
    assert lb["listeners"] == [] and lb["pools"] == [] and lb["tags"] == []
    assert lb["additional_vips"] == [] and lb["vip_sg_ids"] == []
    assert lb["flavor_id"] is None and lb["availability_zone"] is None
    assert lb["vip_qos_policy_id"] is None
    assert ISO.match(lb["created_at"]) and lb["updated_at"] is None
    assert notifier.calls == [lb["id"]]


def test_show_list_and_stable_port_id(client, api):
    lb = api.lb(name="web", description="d", tags=["a", "b"])
    shown = client.get(f"{BASE}/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown["provisioning_status"] == "ACTIVE"
    assert shown["vip_port_id"] == lb["vip_port_id"]
    assert shown["tags"] == ["a", "b"] and shown["name"] == "web"
    listed = client.get(f"{BASE}/loadbalancers").json()
    assert set(listed) == {"loadbalancers", "loadbalancers_links"}
    assert listed["loadbalancers_links"] == []
    assert [x["id"] for x in listed["loadbalancers"]] == [lb["id"]]


def test_not_found(client):
    assert_fault(client.get(f"{BASE}/loadbalancers/nope"), 404, "Load Balancer nope not found.")
    assert_fault(client.put(f"{BASE}/loadbalancers/nope", json={"loadbalancer": {}}), 404)
    assert_fault(client.delete(f"{BASE}/loadbalancers/nope"), 404)


def test_vip_address_is_honoured_and_never_given_twice(client, api, db):
    lb = api.lb(vip_address="127.42.3.4")
    assert lb["vip_address"] == "127.42.3.4"
    before = snapshot(db)
    r = client.post(
        f"{BASE}/loadbalancers",
        json={"loadbalancer": {"vip_subnet_id": api.subnet_id, "vip_address": "127.42.3.4"}},
    )
    assert_fault(r, 409, "already in use")
    assert snapshot(db) == before
    other = api.lb()
    assert other["vip_address"] != "127.42.3.4"


def test_an_ipv6_vip_address_is_stored_as_the_network_hands_it_out(client, api, db):
    """One text per address (as Neutron's port has it), so another spelling of a
    taken address is still taken."""
    with db.session() as s:
        v6 = create_subnet(s, "v6", "fd71::/64", network_name="public", ipv6=True).id
    lb = api.lb(vip_subnet_id=v6, vip_address="fd71:0:0:0:0:0:0:0005")
    assert lb["vip_address"] == "fd71::5"
    assert (
        client.get(f"{BASE}/loadbalancers/{lb['id']}").json()["loadbalancer"]["vip_address"]
        == "fd71::5"
    )
    before = snapshot(db)
    r = client.post(
        f"{BASE}/loadbalancers",
        json={"loadbalancer": {"vip_subnet_id": v6, "vip_address": "fd71::0005"}},
    )
    assert_fault(r, 409, "already in use")
    assert snapshot(db) == before


def test_vip_network_id_picks_the_networks_subnet(client, api):
    network_id = api.lb()["vip_network_id"]
    lb = api.lb(vip_subnet_id=None, vip_network_id=network_id)
    assert lb["vip_subnet_id"] == api.subnet_id and lb["vip_network_id"] == network_id
    lb2 = api.lb(vip_subnet_id=None, vip_network_id=network_id, vip_address="127.42.9.9")
    assert lb2["vip_address"] == "127.42.9.9"


def test_exhausted_subnet_is_a_clear_400(client, api, small_subnet, db):
    api.lb(vip_subnet_id=small_subnet)
    api.lb(vip_subnet_id=small_subnet)
    before = snapshot(db)
    r = client.post(f"{BASE}/loadbalancers", json={"loadbalancer": {"vip_subnet_id": small_subnet}})
    assert_fault(r, 400, "enough available IPs")
    assert snapshot(db) == before


def test_update_sets_pending_update_and_keeps_unsent_fields(client, api, notifier):
    lb = api.lb(name="a", description="keep")
    r = client.put(
        f"{BASE}/loadbalancers/{lb['id']}",
        json={"loadbalancer": {"name": "b", "admin_state_up": False}},
    )
    assert r.status_code == 200
    body = r.json()["loadbalancer"]
    assert body["name"] == "b" and body["description"] == "keep"
    assert body["admin_state_up"] is False
    assert body["provisioning_status"] == "PENDING_UPDATE"
    assert ISO.match(body["updated_at"])
    assert notifier.calls[-1] == lb["id"]
    r = client.put(f"{BASE}/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "c"}})
    assert_fault(r, 409, f"Invalid state PENDING_UPDATE of loadbalancer resource {lb['id']}")


def test_update_clears_name_with_null(client, api):
    lb = api.lb(name="a")
    r = client.put(f"{BASE}/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": None}})
    assert r.json()["loadbalancer"]["name"] == ""


def test_changes_are_allowed_on_error_unlike_octavia(client, api, db):
    lb = api.lb()
    with db.session() as s:
        s.get(m.LoadBalancer, lb["id"]).provisioning_status = "ERROR"
    r = client.put(f"{BASE}/loadbalancers/{lb['id']}", json={"loadbalancer": {"name": "fix"}})
    assert r.status_code == 200


def test_delete_lifecycle(client, api, notifier):
    lb = api.lb()
    r = client.delete(f"{BASE}/loadbalancers/{lb['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.status(m.LoadBalancer, lb["id"]) == "PENDING_DELETE"
    assert notifier.calls[-1] == lb["id"]
    # shown while PENDING_DELETE (as Octavia), refused a second delete
    assert client.get(f"{BASE}/loadbalancers/{lb['id']}").status_code == 200
    assert_fault(client.delete(f"{BASE}/loadbalancers/{lb['id']}"), 409, "Invalid state")
    api.settle()
    assert_fault(client.get(f"{BASE}/loadbalancers/{lb['id']}"), 404)
    assert client.get(f"{BASE}/loadbalancers").json()["loadbalancers"] == []


def test_delete_with_children_needs_cascade(client, api, db):
    s = api.stack()
    lb_id = s["lb"]["id"]
    before = snapshot(db)
    assert_fault(
        client.delete(f"{BASE}/loadbalancers/{lb_id}"),
        400,
        f"Cannot delete Load Balancer {lb_id} - it has children",
    )
    assert snapshot(db) == before
    assert client.delete(f"{BASE}/loadbalancers/{lb_id}?cascade=true").status_code == 204
    assert api.status(m.LoadBalancer, lb_id) == "PENDING_DELETE"
    for model, key in (
        (m.Listener, "listener"),
        (m.Pool, "pool"),
        (m.Member, "member"),
        (m.HealthMonitor, "hm"),
    ):
        assert api.status(model, s[key]["id"]) == "PENDING_DELETE"


def test_pending_load_balancer_is_immutable_for_children(client, api, db):
    lb = api.lb(settle=False)
    before = snapshot(db)
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}},
    )
    assert_fault(r, 409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert snapshot(db) == before


def test_listeners_and_pools_are_listed_as_ids(client, api):
    s = api.stack()
    lb = client.get(f"{BASE}/loadbalancers/{s['lb']['id']}").json()["loadbalancer"]
    assert lb["listeners"] == [{"id": s["listener"]["id"]}]
    assert lb["pools"] == [{"id": s["pool"]["id"]}]


def test_provider_alias_octavia_is_accepted(client, api):
    lb = api.lb(provider="octavia")
    assert lb["provider"] == "amphora"
