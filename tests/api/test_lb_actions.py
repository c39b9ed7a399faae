"""Load balancer failover, statistics and status tree; listener statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydria.api.app import create_app
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
from tests.api.rows import add_amphora, add_stats, amphora, lb_row, set_lb_status
from tests.support.identity import HeaderIdentity, keystone_settings

STATS_KEYS = {"bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors"}
NODE_KEYS = {"id", "name", "provisioning_status", "operating_status"}
OTHER = {"X-Project-Id": "someone-else"}


# -- failover -----------------------------------------------------------------


def test_failover_marks_every_live_amphora_and_moves_lb_to_pending_update(
    client, api, db, notifier
):
    lb = api.lb()
    other = api.lb()
    a1 = add_amphora(db, lb["id"], role=c.ROLE_MASTER)
    a2 = add_amphora(db, lb["id"], role=c.ROLE_BACKUP)
    gone = add_amphora(db, lb["id"], status=c.DELETED)
    elsewhere = add_amphora(db, other["id"])
    generation = lb_row(db, lb["id"]).generation
    notifier.calls.clear()

    r = client.put(f"{BASE}/loadbalancers/{lb['id']}/failover")
    assert r.status_code == 202
    assert r.content == b""
    row = lb_row(db, lb["id"])
    assert row.provisioning_status == c.PENDING_UPDATE
    assert row.generation == generation + 1
    assert amphora(db, a1).failover_requested and amphora(db, a2).failover_requested
    assert not amphora(db, gone).failover_requested
    assert not amphora(db, elsewhere).failover_requested
    assert notifier.calls == [lb["id"]]
    shown = client.get(f"{BASE}/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"


def test_failover_of_a_pending_lb_is_409_and_changes_nothing(client, api, db, notifier):
    lb = api.lb()
    add_amphora(db, lb["id"])
    for status in (c.PENDING_UPDATE, c.PENDING_CREATE, c.PENDING_DELETE):
        set_lb_status(db, lb["id"], status)
        notifier.calls.clear()
        before = snapshot(db)
        r = client.put(f"{BASE}/loadbalancers/{lb['id']}/failover")
        assert_fault(r, 409, f"Invalid state {status} of loadbalancer resource {lb['id']}")
        assert snapshot(db) == before
        assert notifier.calls == []


def test_failover_of_an_lb_in_error_is_allowed(client, api, db):
    lb = api.lb()
    amp = add_amphora(db, lb["id"])
    set_lb_status(db, lb["id"], c.ERROR)
    assert client.put(f"{BASE}/loadbalancers/{lb['id']}/failover").status_code == 202
    assert amphora(db, amp).failover_requested


def test_failover_of_an_lb_without_amphorae_still_wakes_the_controller(client, api, notifier):
    lb = api.lb()
    notifier.calls.clear()
    assert client.put(f"{BASE}/loadbalancers/{lb['id']}/failover").status_code == 202
    assert notifier.calls == [lb["id"]]


def test_failover_unknown_deleted_or_foreign_lb_is_404(client, api, db, notifier):
    lb = api.lb()
    add_amphora(db, lb["id"])
    notifier.calls.clear()
    before = snapshot(db)
    assert_fault(
        client.put(f"{BASE}/loadbalancers/nope/failover"), 404, "Load Balancer nope not found."
    )
    assert_fault(client.put(f"{BASE}/loadbalancers/{lb['id']}/failover", headers=OTHER), 404)
    assert snapshot(db) == before
    set_lb_status(db, lb["id"], c.DELETED)
    before = snapshot(db)
    assert_fault(client.put(f"{BASE}/loadbalancers/{lb['id']}/failover"), 404)
    assert snapshot(db) == before
    assert notifier.calls == []


def test_failover_wrong_method_is_405(client, api):
    lb = api.lb()
    assert_routing_fault(
        client.post(f"{BASE}/loadbalancers/{lb['id']}/failover"), 405, "Method Not Allowed"
    )
    assert_routing_fault(
        client.get(f"{BASE}/loadbalancers/{lb['id']}/failover"), 405, "Method Not Allowed"
    )


def test_admin_project_may_fail_over_any_lb(client, api, db):
    lb = api.lb(headers=OTHER)
    r = client.put(f"{BASE}/loadbalancers/{lb['id']}/failover", headers=ADMIN)
    assert r.status_code == 202


@pytest.fixture
def strict_client(db, notifier, tmp_path: Path):
    """An API whose auth strategy is not noauth: admin operations need an admin."""
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as tc:
        yield tc


def test_failover_needs_admin_outside_noauth(strict_client, api, db):
    lb = api.lb()
    before = snapshot(db)
    r = strict_client.put(f"{BASE}/loadbalancers/{lb['id']}/failover")
    assert_fault(r, 403, "Policy does not allow this request to be performed.")
    assert snapshot(db) == before
    r = strict_client.put(f"{BASE}/loadbalancers/{lb['id']}/failover", headers=ADMIN)
    assert r.status_code == 202
    # statistics and status stay the owner's to read
    assert strict_client.get(f"{BASE}/loadbalancers/{lb['id']}/stats").status_code == 200
    assert strict_client.get(f"{BASE}/loadbalancers/{lb['id']}/status").status_code == 200


# -- statistics ---------------------------------------------------------------


def _two_listeners(api: Api) -> tuple[dict, dict, dict]:
    lb = api.lb()
    l1 = api.listener(lb["id"], protocol_port=80)
    l2 = api.listener(lb["id"], protocol="TCP", protocol_port=7000)
    return lb, l1, l2


def test_stats_are_zero_before_any_heartbeat(client, api):
    lb, l1, _ = _two_listeners(api)
    body = client.get(f"{BASE}/loadbalancers/{lb['id']}/stats").json()
    assert body == {"stats": dict.fromkeys(STATS_KEYS, 0)}
    body = client.get(f"{BASE}/listeners/{l1['id']}/stats").json()
    assert body == {"stats": dict.fromkeys(STATS_KEYS, 0)}


def test_stats_sum_over_amphorae_and_listeners(client, api, db):
    lb, l1, l2 = _two_listeners(api)
    live = add_amphora(db, lb["id"])
    retired = add_amphora(db, lb["id"], status=c.DELETED)
    add_stats(db, l1["id"], live, bytes_in=100, bytes_out=1000, active=3, total=10, errors=1)
    add_stats(db, l1["id"], retired, bytes_in=50, bytes_out=500, active=7, total=5, errors=2)
    add_stats(db, l2["id"], live, bytes_in=1, bytes_out=2, active=4, total=6, errors=0)
    # a counter of another load balancer's listener never leaks in
    other = api.lb()
    other_listener = api.listener(other["id"])
    add_stats(db, other_listener["id"], add_amphora(db, other["id"]), bytes_in=10**12)

    r = client.get(f"{BASE}/listeners/{l1['id']}/stats")
    assert r.status_code == 200
    # totals keep what a replaced amphora counted; active connections only count
    # on amphorae that serve now
    assert r.json() == {
        "stats": {
            "bytes_in": 150,
            "bytes_out": 1500,
            "active_connections": 3,
            "total_connections": 15,
            "request_errors": 3,
        }
    }
    r = client.get(f"{BASE}/loadbalancers/{lb['id']}/stats")
    assert r.json() == {
        "stats": {
            "bytes_in": 151,
            "bytes_out": 1502,
            "active_connections": 7,
            "total_connections": 21,
            "request_errors": 3,
        }
    }


def test_stats_hold_64_bit_counters(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    add_stats(db, li["id"], add_amphora(db, lb["id"]), bytes_in=2**40, bytes_out=2**50, total=2**33)
    body = client.get(f"{BASE}/loadbalancers/{lb['id']}/stats").json()["stats"]
    assert body["bytes_in"] == 2**40 and body["bytes_out"] == 2**50
    assert body["total_connections"] == 2**33


def test_stats_unknown_or_foreign_is_404(client, api):
    lb = api.lb()
    li = api.listener(lb["id"])
    assert_fault(
        client.get(f"{BASE}/loadbalancers/nope/stats"), 404, "Load Balancer nope not found."
    )
    assert_fault(client.get(f"{BASE}/listeners/nope/stats"), 404, "Listener nope not found.")
    assert_fault(client.get(f"{BASE}/loadbalancers/{lb['id']}/stats", headers=OTHER), 404)
    assert_fault(client.get(f"{BASE}/listeners/{li['id']}/stats", headers=OTHER), 404)
    assert (
        client.get(f"{BASE}/listeners/{li['id']}/stats", headers={**OTHER, **ADMIN}).status_code
        == 200
    )


def test_stats_of_deleted_listener_is_404(client, api, db):
    lb = api.lb()
    li = api.listener(lb["id"])
    client.delete(f"{BASE}/listeners/{li['id']}")
    api.settle()
    assert_fault(client.get(f"{BASE}/listeners/{li['id']}/stats"), 404)


# -- status tree --------------------------------------------------------------


def test_status_tree_has_octavias_shape(client, api):
    s = api.stack()
    lb, li, pool, member, hm = s["lb"], s["listener"], s["pool"], s["member"], s["hm"]
    bare = api.listener(lb["id"], protocol="TCP", protocol_port=7000, name="bare")
    plain = api.pool(listener_id=bare["id"], protocol="TCP", name="plain")
    api.member(plain["id"], address="10.0.0.9", protocol_port=9)
    api.pool(loadbalancer_id=lb["id"], name="unused")  # no listener: not in the tree

    r = client.get(f"{BASE}/loadbalancers/{lb['id']}/status")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"statuses"} and set(body["statuses"]) == {"loadbalancer"}
    tree = body["statuses"]["loadbalancer"]
    assert set(tree) == NODE_KEYS | {"listeners"}
    assert tree["id"] == lb["id"] and tree["provisioning_status"] == "ACTIVE"
    assert tree["name"] == ""
    assert [x["id"] for x in tree["listeners"]] == [li["id"], bare["id"]]

    first = tree["listeners"][0]
    assert set(first) == NODE_KEYS | {"pools"}
    assert [p["id"] for p in first["pools"]] == [pool["id"]]
    p = first["pools"][0]
    assert set(p) == NODE_KEYS | {"health_monitor", "members"}
    assert p["health_monitor"] == {
        "id": hm["id"],
        "name": "",
        "type": "HTTP",
        "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE",
    }
    assert len(p["members"]) == 1
    m = p["members"][0]
    assert set(m) == NODE_KEYS | {"address", "protocol_port"}
    assert m["id"] == member["id"] and m["address"] == "10.0.0.1"
    assert m["protocol_port"] == 8080

    second = tree["listeners"][1]
    assert second["name"] == "bare"
    # a pool without a health monitor has no health_monitor key, as in Octavia
    assert set(second["pools"][0]) == NODE_KEYS | {"members"}
    assert second["pools"][0]["name"] == "plain"


def test_status_tree_follows_changes(client, api, db):
    s = api.stack()
    lb = s["lb"]
    client.delete(f"{BASE}/pools/{s['pool']['id']}/members/{s['member']['id']}")
    tree = client.get(f"{BASE}/loadbalancers/{lb['id']}/status").json()["statuses"]
    pool = tree["loadbalancer"]["listeners"][0]["pools"][0]
    assert pool["members"][0]["provisioning_status"] == "PENDING_DELETE"
    assert tree["loadbalancer"]["provisioning_status"] == "PENDING_UPDATE"
    api.settle()
    tree = client.get(f"{BASE}/loadbalancers/{lb['id']}/status").json()["statuses"]
    assert tree["loadbalancer"]["listeners"][0]["pools"][0]["members"] == []


def test_status_tree_of_an_empty_lb_and_the_statuses_alias(client, api):
    lb = api.lb(name="empty")
    shown = api.client.get(f"{BASE}/loadbalancers/{lb['id']}").json()["loadbalancer"]
    for suffix in ("status", "statuses"):
        body = client.get(f"/v2.0/lbaas/loadbalancers/{lb['id']}/{suffix}").json()
        assert body == {
            "statuses": {
                "loadbalancer": {
                    "id": lb["id"],
                    "name": "empty",
                    "provisioning_status": "ACTIVE",
                    "operating_status": shown["operating_status"],
                    "listeners": [],
                }
            }
        }


def test_status_tree_unknown_or_foreign_is_404(client, api):
    lb = api.lb()
    assert_fault(
        client.get(f"{BASE}/loadbalancers/nope/status"), 404, "Load Balancer nope not found."
    )
    assert_fault(client.get(f"{BASE}/loadbalancers/{lb['id']}/status", headers=OTHER), 404)
    assert (
        client.get(
            f"{BASE}/loadbalancers/{lb['id']}/status", headers={**OTHER, **ADMIN}
        ).status_code
        == 200
    )


def test_alarms_list_what_the_health_manager_raised(client, db):
    from hydria.db.alarms import clear_alarm, raise_alarm

    assert client.get("/v2/hydria/alarms").json() == {"alarms": []}
    with db.session() as s:
        raise_alarm(s, "failover_storm", {"silent_amphorae": ["a", "b", "c"], "fleet": 4})
    body = client.get("/v2.0/hydria/alarms").json()
    assert [a["name"] for a in body["alarms"]] == ["failover_storm"]
    assert body["alarms"][0]["detail"]["fleet"] == 4
    with db.session() as s:
        clear_alarm(s, "failover_storm")
    assert client.get("/v2/hydria/alarms").json() == {"alarms": []}
