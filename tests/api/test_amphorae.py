"""The amphora admin API: list, show, stats, failover, config, delete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hydria.api.app import create_app
from hydria.core import constants as c
from tests.api.conftest import ADMIN, TestClient, assert_fault, assert_routing_fault, snapshot
from tests.api.rows import add_amphora, add_stats, amphora, lb_row, set_lb_status
from tests.support.identity import HeaderIdentity, keystone_settings

AMPS = "/v2/octavia/amphorae"
# Octavia's AmphoraResponse attributes
AMP_KEYS = {
    "id",
    "loadbalancer_id",
    "compute_id",
    "lb_network_ip",
    "vrrp_ip",
    "ha_ip",
    "vrrp_port_id",
    "ha_port_id",
    "cert_expiration",
    "cert_busy",
    "role",
    "status",
    "vrrp_interface",
    "vrrp_id",
    "vrrp_priority",
    "cached_zone",
    "created_at",
    "updated_at",
    "image_id",
    "compute_flavor",
    "hydria_error_reason",  # Hydria's extension (docs/compatibility.md)
}
AMP_STATS_KEYS = {
    "id",
    "listener_id",
    "loadbalancer_id",
    "active_connections",
    "bytes_in",
    "bytes_out",
    "request_errors",
    "total_connections",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
OTHER = {"X-Project-Id": "someone-else"}


@pytest.fixture
def lb(api):
    return api.lb()


# -- list and show ------------------------------------------------------------


def test_empty_fleet(client):
    assert client.get(AMPS).json() == {"amphorae": [], "amphorae_links": []}


def test_show_has_octavias_fields(client, lb, db):
    amp_id = add_amphora(
        db,
        lb["id"],
        role=c.ROLE_MASTER,
        vrrp_priority=100,
        vrrp_id=1,
        image_id="c1c2ad6f-1c1e-4744-8d1a-d0ef36289e74",
    )
    r = client.get(f"{AMPS}/{amp_id}")
    assert r.status_code == 200
    assert set(r.json()) == {"amphora"}
    amp = r.json()["amphora"]
    assert set(amp) == AMP_KEYS
    assert amp["id"] == amp_id and amp["loadbalancer_id"] == lb["id"]
    assert amp["status"] == "ALLOCATED" and amp["role"] == "MASTER"
    assert amp["lb_network_ip"].startswith("127.43.")
    assert amp["cert_expiration"] == "2030-01-02T03:04:05"
    assert amp["cert_busy"] is False
    assert amp["vrrp_priority"] == 100 and amp["vrrp_id"] == 1
    assert amp["ha_ip"] is None and amp["vrrp_ip"] is None and amp["cached_zone"] is None
    assert ISO.match(amp["created_at"]) and amp["updated_at"] is None
    assert client.get(f"/v2.0/octavia/amphorae/{amp_id}").json() == r.json()


def test_show_fields(client, lb, db):
    amp_id = add_amphora(db, lb["id"])
    r = client.get(f"{AMPS}/{amp_id}", params={"fields": "id,status"})
    assert r.json() == {"amphora": {"id": amp_id, "status": "ALLOCATED"}}


def test_show_unknown_or_deleted_is_404(client, lb, db):
    assert_fault(client.get(f"{AMPS}/nope"), 404, "Amphora nope not found.")
    gone = add_amphora(db, lb["id"], status=c.DELETED)
    assert_fault(client.get(f"{AMPS}/{gone}"), 404, f"Amphora {gone} not found.")


def test_list_hides_deleted_and_filters(client, api, lb, db):
    other = api.lb()
    master = add_amphora(db, lb["id"], role=c.ROLE_MASTER, vrrp_priority=200)
    backup = add_amphora(db, lb["id"], role=c.ROLE_BACKUP, vrrp_priority=100)
    gone = add_amphora(db, lb["id"], status=c.DELETED)
    theirs = add_amphora(db, other["id"], status=c.AMPHORA_BOOTING)
    spare = add_amphora(db, None, status=c.AMPHORA_READY, role=None)

    body = client.get(AMPS).json()
    assert set(body) == {"amphorae", "amphorae_links"}
    assert {a["id"] for a in body["amphorae"]} == {master, backup, theirs, spare}
    assert all(set(a) == AMP_KEYS for a in body["amphorae"])

    def ids(**params):
        r = client.get(AMPS, params=params)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()["amphorae"]}

    assert ids(loadbalancer_id=lb["id"]) == {master, backup}
    assert ids(load_balancer_id=other["id"]) == {theirs}
    assert ids(role="BACKUP") == {backup}
    assert ids(status="READY") == {spare}
    # hidden as in Octavia, unless asked for (Hydria: kept for the retention time)
    assert ids(status="DELETED") == {gone}
    assert ids(status="DELETED", loadbalancer_id=other["id"]) == set()
    assert ids(vrrp_priority="200") == {master}
    assert ids(id=master) == {master}
    assert ids(cert_busy="false") == {master, backup, theirs, spare}
    assert ids(project_id=lb["project_id"]) == {master, backup, theirs}


def test_list_sorts_pages_and_selects_fields(client, lb, db):
    made = sorted(add_amphora(db, lb["id"]) for _ in range(3))
    r = client.get(AMPS, params={"sort": "id:asc", "limit": 2, "fields": "id"})
    body = r.json()
    assert body["amphorae"] == [{"id": made[0]}, {"id": made[1]}]
    assert [link["rel"] for link in body["amphorae_links"]] == ["next"]
    r = client.get(AMPS, params={"sort": "id:asc", "limit": 2, "marker": made[1]})
    assert [a["id"] for a in r.json()["amphorae"]] == [made[2]]


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"colour": "blue"}, "One or more arguments are either duplicate or invalid"),
        ({"vrrp_id": "one"}, "Value should be an integer."),
        ({"vrrp_priority": str(2**70)}, "vrrp_priority"),
        ({"cert_busy": "maybe"}, "Value should be a boolean."),
        ({"sort": "colour"}, "Supplied sort key 'colour' is not valid."),
        ({"marker": "nope"}, "Supplied pagination marker 'nope' is not valid."),
        ({"cert_expiration": "2030-01-01"}, "One or more arguments"),
    ],
)
def test_bad_list_queries_are_400(client, lb, db, params, fragment):
    add_amphora(db, lb["id"])
    assert_fault(client.get(AMPS, params=params), 400, fragment)


def test_noauth_caller_sees_the_whole_fleet(client, api, db):
    theirs = api.lb(headers=OTHER)
    amp_id = add_amphora(db, theirs["id"])
    assert [a["id"] for a in client.get(AMPS).json()["amphorae"]] == [amp_id]
    assert client.get(f"{AMPS}/{amp_id}").status_code == 200


def test_a_bad_limit_has_pecans_body(client, lb):
    """Octavia's paging hook refuses it before the amphora controller runs."""
    r = client.get(AMPS, params={"limit": "many"})
    assert_routing_fault(r, 400, "Bad Request", "Supplied pagination limit 'many' is not valid.")


def test_wrong_methods_are_405(client, lb, db):
    amp_id = add_amphora(db, lb["id"])
    assert_routing_fault(client.post(AMPS, json={"amphora": {}}), 405, "Method Not Allowed")
    assert_routing_fault(
        client.put(f"{AMPS}/{amp_id}", json={"amphora": {}}), 405, "Method Not Allowed"
    )
    assert_routing_fault(client.get(f"{AMPS}/{amp_id}/failover"), 405, "Method Not Allowed")
    assert_routing_fault(client.post(f"{AMPS}/{amp_id}/config"), 405, "Method Not Allowed")


# -- stats --------------------------------------------------------------------


def test_stats_per_listener_with_zeros_for_unreported(client, api, lb, db):
    l1 = api.listener(lb["id"], protocol_port=80)
    l2 = api.listener(lb["id"], protocol="TCP", protocol_port=7000)
    amp_id = add_amphora(db, lb["id"])
    other_amp = add_amphora(db, lb["id"], role=c.ROLE_BACKUP)
    add_stats(db, l1["id"], amp_id, bytes_in=5, bytes_out=100, active=2, total=9, errors=1)
    add_stats(db, l1["id"], other_amp, bytes_in=10**6)

    r = client.get(f"{AMPS}/{amp_id}/stats")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"amphora_stats"}
    rows = {s["listener_id"]: s for s in body["amphora_stats"]}
    assert set(rows) == {l1["id"], l2["id"]}
    assert all(set(s) == AMP_STATS_KEYS for s in rows.values())
    assert rows[l1["id"]] == {
        "id": amp_id,
        "listener_id": l1["id"],
        "loadbalancer_id": lb["id"],
        "active_connections": 2,
        "bytes_in": 5,
        "bytes_out": 100,
        "request_errors": 1,
        "total_connections": 9,
    }
    assert rows[l2["id"]]["bytes_in"] == 0 and rows[l2["id"]]["total_connections"] == 0


def test_stats_of_a_spare_are_empty_and_unknown_is_404(client, db):
    spare = add_amphora(db, None, status=c.AMPHORA_READY, role=None)
    assert client.get(f"{AMPS}/{spare}/stats").json() == {"amphora_stats": []}
    assert_fault(client.get(f"{AMPS}/nope/stats"), 404, "Amphora nope not found.")


# -- failover -----------------------------------------------------------------


def test_failover_marks_the_amphora_and_locks_its_lb(client, api, lb, db, notifier):
    amp_id = add_amphora(db, lb["id"])
    sibling = add_amphora(db, lb["id"], role=c.ROLE_BACKUP)
    generation = lb_row(db, lb["id"]).generation
    notifier.calls.clear()
    r = client.put(f"{AMPS}/{amp_id}/failover")
    assert r.status_code == 202 and r.content == b""
    assert amphora(db, amp_id).failover_requested
    assert not amphora(db, sibling).failover_requested
    row = lb_row(db, lb["id"])
    assert row.provisioning_status == c.PENDING_UPDATE and row.generation == generation + 1
    assert notifier.calls == [lb["id"]]


def test_failover_while_lb_is_pending_is_409(client, lb, db, notifier):
    amp_id = add_amphora(db, lb["id"])
    set_lb_status(db, lb["id"], c.PENDING_UPDATE)
    notifier.calls.clear()
    before = snapshot(db)
    assert_fault(
        client.put(f"{AMPS}/{amp_id}/failover"),
        409,
        f"Load Balancer {lb['id']} is immutable and cannot be updated.",
    )
    assert_fault(
        client.put(f"{AMPS}/{amp_id}/config"),
        409,
        f"Load Balancer {lb['id']} is immutable and cannot be updated.",
    )
    assert snapshot(db) == before
    assert notifier.calls == []


def test_failover_of_a_spare_retires_it(client, db, notifier):
    spare = add_amphora(db, None, status=c.AMPHORA_READY, role=None)
    assert client.put(f"{AMPS}/{spare}/failover").status_code == 202
    row = amphora(db, spare)
    assert row.status == c.PENDING_DELETE and row.failover_requested
    assert notifier.calls == []


def test_failover_unknown_or_deleted_is_404(client, lb, db, notifier):
    gone = add_amphora(db, lb["id"], status=c.DELETED)
    before = snapshot(db)
    assert_fault(client.put(f"{AMPS}/nope/failover"), 404, "Amphora nope not found.")
    assert_fault(client.put(f"{AMPS}/{gone}/failover"), 404)
    assert_fault(client.put(f"{AMPS}/nope/config"), 404)
    assert snapshot(db) == before
    assert notifier.calls == [lb["id"]]  # the create only


# -- config -------------------------------------------------------------------


def test_config_pushes_the_configuration_again(client, lb, db, notifier):
    amp_id = add_amphora(db, lb["id"])
    generation = lb_row(db, lb["id"]).generation
    notifier.calls.clear()
    r = client.put(f"{AMPS}/{amp_id}/config")
    assert r.status_code == 202 and r.content == b""
    row = lb_row(db, lb["id"])
    assert row.provisioning_status == c.PENDING_UPDATE and row.generation == generation + 1
    assert not amphora(db, amp_id).failover_requested
    assert notifier.calls == [lb["id"]]


def test_config_of_a_spare_changes_nothing(client, db):
    spare = add_amphora(db, None, status=c.AMPHORA_READY, role=None)
    before = snapshot(db)
    assert client.put(f"{AMPS}/{spare}/config").status_code == 202
    assert snapshot(db) == before


# -- delete -------------------------------------------------------------------


@pytest.mark.parametrize("status", [c.AMPHORA_ALLOCATED, c.AMPHORA_BOOTING, c.PENDING_DELETE])
def test_delete_of_a_serving_amphora_is_409(client, lb, db, notifier, status):
    amp_id = add_amphora(db, lb["id"], status=status)
    notifier.calls.clear()
    before = snapshot(db)
    assert_fault(
        client.delete(f"{AMPS}/{amp_id}"),
        409,
        f"Amphora {amp_id} is immutable and cannot be updated.",
    )
    assert snapshot(db) == before
    assert notifier.calls == []


def test_delete_of_a_ready_amphora_of_an_lb_is_409(client, lb, db):
    amp_id = add_amphora(db, lb["id"], status=c.AMPHORA_READY)
    assert_fault(client.delete(f"{AMPS}/{amp_id}"), 409)


def test_delete_of_an_error_amphora_has_it_replaced(client, lb, db, notifier):
    amp_id = add_amphora(db, lb["id"], status=c.ERROR)
    notifier.calls.clear()
    r = client.delete(f"{AMPS}/{amp_id}")
    assert r.status_code == 204 and r.content == b""
    row = amphora(db, amp_id)
    assert row.status == c.PENDING_DELETE and row.failover_requested
    assert notifier.calls == [lb["id"]]
    shown = client.get(f"{AMPS}/{amp_id}").json()["amphora"]
    assert shown["status"] == "PENDING_DELETE"
    # a second delete finds it on its way out
    assert_fault(client.delete(f"{AMPS}/{amp_id}"), 409)


def test_delete_of_a_spare(client, db):
    spare = add_amphora(db, None, status=c.AMPHORA_READY, role=None)
    assert client.delete(f"{AMPS}/{spare}").status_code == 204
    assert amphora(db, spare).status == c.PENDING_DELETE


def test_delete_unknown_is_404(client, db):
    before = snapshot(db)
    assert_fault(client.delete(f"{AMPS}/nope"), 404, "Amphora nope not found.")
    assert snapshot(db) == before


# -- policy -------------------------------------------------------------------


@pytest.fixture
def strict_client(db, notifier, tmp_path: Path):
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as tc:
        yield tc


def test_outside_noauth_only_admins_may_use_the_amphora_api(strict_client, lb, db):
    amp_id = add_amphora(db, lb["id"], status=c.ERROR)
    before = snapshot(db)
    calls = [
        ("GET", AMPS),
        ("GET", f"{AMPS}/{amp_id}"),
        ("GET", f"{AMPS}/{amp_id}/stats"),
        ("PUT", f"{AMPS}/{amp_id}/failover"),
        ("PUT", f"{AMPS}/{amp_id}/config"),
        ("DELETE", f"{AMPS}/{amp_id}"),
    ]
    for method, path in calls:
        r = strict_client.request(method, path)
        assert_fault(r, 403, "Policy does not allow this request to be performed.")
    assert snapshot(db) == before
    assert strict_client.get(AMPS, headers=ADMIN).status_code == 200
    assert strict_client.get(f"{AMPS}/{amp_id}/stats", headers=ADMIN).status_code == 200
    assert strict_client.delete(f"{AMPS}/{amp_id}", headers=ADMIN).status_code == 204
