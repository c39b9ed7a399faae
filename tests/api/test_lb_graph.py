"""Fully populated load balancer create: one POST with nested listeners, pools, members
and monitors. The answer shows the children in full; GET shows ids; a refused request
writes nothing and wakes no controller."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from hydria.db import models as m
from tests.api.conftest import ADMIN, BASE, assert_fault, snapshot
from tests.api.test_healthmonitors import HM_KEYS as SINGLE_HM_KEYS
from tests.api.test_listeners import LISTENER_KEYS as SINGLE_LISTENER_KEYS
from tests.api.test_loadbalancers import LB_KEYS
from tests.api.test_members import MEMBER_KEYS as SINGLE_MEMBER_KEYS
from tests.api.test_pools import POOL_KEYS as SINGLE_POOL_KEYS

URL = f"{BASE}/loadbalancers"
# Octavia's ListenerFullResponse / PoolFullResponse / HealthMonitorFullResponse: the
# single-object views without their parents' ids (a pool shows its monitor in full).
LISTENER_KEYS = SINGLE_LISTENER_KEYS - {"loadbalancers"}
POOL_KEYS = SINGLE_POOL_KEYS - {"loadbalancers", "healthmonitor_id"} | {"healthmonitor"}
MEMBER_KEYS = SINGLE_MEMBER_KEYS
HM_KEYS = SINGLE_HM_KEYS - {"pools"}


def graph_body(subnet_id: str) -> dict[str, Any]:
    """What cloud-provider-openstack sends, plus a top-level pool shared by name."""
    return {
        "loadbalancer": {
            "name": "k8s",
            "vip_subnet_id": subnet_id,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {
                        "name": "web",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [
                            {"address": "10.0.0.1", "protocol_port": 8080},
                            {"address": "10.0.0.2", "protocol_port": 8080, "weight": 5},
                        ],
                        "healthmonitor": {
                            "type": "HTTP",
                            "delay": 5,
                            "timeout": 3,
                            "max_retries": 2,
                            "url_path": "/healthz",
                        },
                    },
                },
                {
                    "name": "tcp",
                    "protocol": "TCP",
                    "protocol_port": 443,
                    "default_pool": {"name": "shared"},
                },
                {
                    "name": "tcp-alt",
                    "protocol": "TCP",
                    "protocol_port": 8443,
                    "default_pool": {"name": "shared"},
                },
            ],
            "pools": [
                {
                    "name": "shared",
                    "protocol": "TCP",
                    "lb_algorithm": "SOURCE_IP",
                    "members": [{"address": "10.0.0.3", "protocol_port": 443}],
                },
            ],
        }
    }


def post(client, body: Any, headers: dict[str, str] | None = None):
    return client.post(URL, json=body, headers=headers)


def test_graph_create_answers_the_children_in_full(client, api, notifier):
    r = post(client, graph_body(api.subnet_id))
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    assert set(lb) == LB_KEYS
    assert lb["provisioning_status"] == "PENDING_CREATE" and lb["name"] == "k8s"
    http, tcp, alt = lb["listeners"]
    assert all(set(li) == LISTENER_KEYS for li in lb["listeners"])
    assert [li["name"] for li in lb["listeners"]] == ["http", "tcp", "tcp-alt"]
    # Top-level pools first, then those given inline (Octavia's order).
    shared, web = lb["pools"]
    assert (shared["name"], web["name"]) == ("shared", "web")
    assert all(set(p) == POOL_KEYS for p in lb["pools"])
    assert http["default_pool_id"] == web["id"]
    assert tcp["default_pool_id"] == alt["default_pool_id"] == shared["id"]
    assert sorted(x["id"] for x in shared["listeners"]) == sorted([tcp["id"], alt["id"]])
    assert web["listeners"] == [{"id": http["id"]}]
    # Octavia's defaults, filled as the single creates fill them.
    assert http["connection_limit"] == -1 and http["timeout_client_data"] == 50000
    assert http["insert_headers"] == {} and http["l7policies"] == []
    assert http["project_id"] == lb["project_id"] == web["project_id"]
    assert shared["lb_algorithm"] == "SOURCE_IP" and shared["healthmonitor"] is None
    assert shared["session_persistence"] is None and shared["tls_enabled"] is False
    hm = web["healthmonitor"]
    assert set(hm) == HM_KEYS
    assert (hm["http_method"], hm["expected_codes"], hm["url_path"]) == ("GET", "200", "/healthz")
    assert hm["max_retries_down"] == 3 and hm["provisioning_status"] == "PENDING_CREATE"
    assert [(x["address"], x["weight"]) for x in web["members"]] == [
        ("10.0.0.1", 1),
        ("10.0.0.2", 5),
    ]
    assert all(set(x) == MEMBER_KEYS for x in web["members"] + shared["members"])
    # Checked members start OFFLINE, unchecked ones NO_MONITOR (as single creates).
    assert {x["operating_status"] for x in web["members"]} == {"OFFLINE"}
    assert shared["members"][0]["operating_status"] == "NO_MONITOR"
    everything = [*lb["listeners"], *lb["pools"], hm, *web["members"], *shared["members"]]
    assert {x["provisioning_status"] for x in everything} == {"PENDING_CREATE"}
    # One transaction, one wake-up of the controller.
    assert notifier.calls == [lb["id"]]
    with api.db.session() as s:
        for model in (m.LoadBalancer, m.Listener, m.Pool, m.Member, m.HealthMonitor):
            assert set(s.scalars(select(model.provisioning_status))) == {"PENDING_CREATE"}
        assert s.scalar(select(m.LoadBalancer.generation)) == 1


def test_get_afterwards_shows_ids_and_everything_settles_active(client, api):
    lb = post(client, graph_body(api.subnet_id)).json()["loadbalancer"]
    shown = client.get(f"{URL}/{lb['id']}").json()["loadbalancer"]
    assert sorted(shown["listeners"], key=str) == sorted(
        ({"id": li["id"]} for li in lb["listeners"]), key=str
    )
    assert sorted(shown["pools"], key=str) == sorted(
        ({"id": p["id"]} for p in lb["pools"]), key=str
    )
    web = lb["pools"][1]
    pool = client.get(f"{BASE}/pools/{web['id']}").json()["pool"]
    assert pool["healthmonitor_id"] == web["healthmonitor"]["id"]
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    assert sorted(x["id"] for x in pool["members"]) == sorted(x["id"] for x in web["members"])
    listener = client.get(f"{BASE}/listeners/{lb['listeners'][0]['id']}").json()["listener"]
    assert listener["loadbalancers"] == [{"id": lb["id"]}]
    assert listener["default_pool_id"] == web["id"]
    api.settle()
    tree = client.get(f"{URL}/{lb['id']}/status").json()["statuses"]["loadbalancer"]
    assert tree["provisioning_status"] == "ACTIVE"
    assert {li["provisioning_status"] for li in tree["listeners"]} == {"ACTIVE"}
    members = client.get(f"{BASE}/pools/{web['id']}/members").json()["members"]
    assert {x["provisioning_status"] for x in members} == {"ACTIVE"}


def test_nested_nulls_mean_not_given_and_unnamed_listeners_are_fine(client, api):
    body = {
        "loadbalancer": {
            "vip_subnet_id": api.subnet_id,
            "pools": None,
            "listeners": [
                {
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "admin_state_up": None,
                    "name": None,
                    "default_pool": {
                        "name": "p",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "admin_state_up": None,
                        "healthmonitor": None,
                        "members": [
                            {
                                "address": "10.0.0.1",
                                "protocol_port": 80,
                                "weight": None,
                                "subnet_id": None,
                            }
                        ],
                    },
                }
            ],
        }
    }
    r = post(client, body)
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    (li,) = lb["listeners"]
    (pool,) = lb["pools"]
    assert li["admin_state_up"] is True and li["name"] == ""
    assert pool["admin_state_up"] is True and pool["healthmonitor"] is None
    assert pool["members"][0]["weight"] == 1


def test_a_pool_alone_and_a_listener_alone(client, api):
    body = {
        "loadbalancer": {
            "vip_subnet_id": api.subnet_id,
            "listeners": [{"protocol": "TCP", "protocol_port": 22}],
            "pools": [
                {
                    "protocol": "TCP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "session_persistence": {"type": "SOURCE_IP"},
                }
            ],
        }
    }
    lb = post(client, body).json()["loadbalancer"]
    assert lb["listeners"][0]["default_pool_id"] is None
    assert lb["pools"][0]["listeners"] == []
    assert lb["pools"][0]["session_persistence"]["type"] == "SOURCE_IP"


def test_admin_creates_the_whole_graph_in_the_given_project(client, api):
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["project_id"] = "tenant-a"
    lb = post(client, body, headers=ADMIN).json()["loadbalancer"]
    owners = {
        lb["project_id"],
        *(li["project_id"] for li in lb["listeners"]),
        *(p["project_id"] for p in lb["pools"]),
        *(x["project_id"] for p in lb["pools"] for x in p["members"]),
    }
    assert owners == {"tenant-a"}


# ----------------------------------------------------------------------------- refusals


@pytest.fixture
def other_pool(api) -> str:
    """A pool of another, existing load balancer: never a valid default_pool_id here."""
    lb = api.lb()
    return api.pool(loadbalancer_id=lb["id"])["id"]


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    """Set ``listeners.0.default_pool.members.1.weight`` in the body's load balancer."""
    node: Any = body["loadbalancer"]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


WEB = "listeners.0.default_pool"
SHARED = "pools.0"
# an id that names nothing; fixed, so every process collects the same test ids
UNKNOWN_ID = "5d1f6a3e-0c1b-4e8a-9a43-2b6f1c7d9e10"
# (path to set, value, status, fragments of the faultstring)
BAD = [
    # wrong types, at each level
    ("listeners", {"protocol": "HTTP"}, 400, "listeners", "Input should be a valid list"),
    ("listeners.0", "http", 400, "listeners[0]", "JSON object"),
    ("listeners.0.protocol_port", "80x", 400, "listeners[0].protocol_port"),
    ("listeners.0.admin_state_up", 2, 400, "listeners[0].admin_state_up"),
    (WEB, ["web"], 400, "listeners[0].default_pool", "JSON object"),
    (f"{WEB}.lb_algorithm", 7, 400, "listeners[0].default_pool.lb_algorithm"),
    (f"{WEB}.members", {"address": "10.0.0.1"}, 400, "listeners[0].default_pool.members"),
    (f"{WEB}.members.1.weight", "5.5", 400, "listeners[0].default_pool.members[1].weight"),
    (f"{WEB}.members.0.protocol_port", 70000, 400, "members[0].protocol_port"),
    (f"{WEB}.healthmonitor.delay", "five", 400, "listeners[0].default_pool.healthmonitor.delay"),
    (f"{SHARED}.admin_state_up", "yes!", 400, "pools[0].admin_state_up"),
    (f"{SHARED}.session_persistence", "x", 400, "pools[0].session_persistence"),
    # unknown fields, at each level (and the parent ids the nesting implies)
    ("listeners.0.colour", "red", 400, "Unknown attribute for argument listeners[0]: colour"),
    (
        "listeners.0.loadbalancer_id",
        UNKNOWN_ID,
        400,
        "Unknown attribute for argument listeners[0]: loadbalancer_id",
    ),
    ("listeners.0.project_id", "p", 400, "argument listeners[0]: project_id"),
    (
        f"{WEB}.colour",
        "red",
        400,
        "Unknown attribute for argument listeners[0].default_pool: colour",
    ),
    (f"{WEB}.listener_id", UNKNOWN_ID, 400, "default_pool: listener_id"),
    (
        f"{WEB}.members.1.colour",
        1,
        400,
        "Unknown attribute for argument listeners[0].default_pool.members[1]: colour",
    ),
    (f"{WEB}.members.0.project_id", "p", 400, "members[0]: project_id"),
    (
        f"{WEB}.healthmonitor.colour",
        1,
        400,
        "Unknown attribute for argument listeners[0].default_pool.healthmonitor: colour",
    ),
    (f"{WEB}.healthmonitor.pool_id", UNKNOWN_ID, 400, "healthmonitor: pool_id"),
    (f"{SHARED}.colour", 1, 400, "Unknown attribute for argument pools[0]: colour"),
    (f"{SHARED}.loadbalancer_id", UNKNOWN_ID, 400, "pools[0]: loadbalancer_id"),
    (
        f"{SHARED}.session_persistence",
        {"type": "SOURCE_IP", "x": 1},
        400,
        "argument pools[0].session_persistence: x",
    ),
    # listeners: ports, protocols, options this release refuses on its own too
    ("listeners.1.protocol_port", 80, 409, "already using protocol HTTP and protocol_port 80"),
    ("listeners.2.protocol_port", 443, 409, "already using protocol TCP and protocol_port 443"),
    (
        "listeners.0.protocol",
        "TERMINATED_HTTPS",
        400,
        "An SNI or default certificate container reference must be provided",
    ),
    ("listeners.0.protocol", "SPDY", 400, "Value should be one of"),
    (
        "listeners.0.l7policies",
        [{"action": "REDIRECT_TO_POOL"}],
        400,
        "redirect_pool_id or redirect_pool must not be None",
    ),
    (
        "listeners.0.default_tls_container_ref",
        "ref",
        400,
        "Certificate container references are not allowed on HTTP protocol listeners",
    ),
    ("listeners.0.insert_headers", {"X-Bogus": "1"}, 400, "insert_headers"),
    ("listeners.1.insert_headers", {"X-Forwarded-For": "true"}, 400, "TCP protocol listener"),
    ("listeners.0.allowed_cidrs", ["2001:db8::/64"], 400, "IP version incompatible"),
    # pools: references, names, protocols
    (
        f"{WEB}.protocol",
        "TCP",
        400,
        "pool protocol 'TCP' is invalid while the listener protocol is 'HTTP'",
    ),
    (f"{WEB}.name", None, 400, "needs a name"),
    (f"{WEB}.name", "shared", 400, "names that differ"),
    ("listeners.1.default_pool", {"name": "nowhere"}, 400, "default_pool 'nowhere'"),
    (f"{SHARED}.protocol", None, 400, "pool 'shared' is defined without protocol"),
    (f"{WEB}.lb_algorithm", None, 400, "pool 'web' is defined without lb_algorithm"),
    (f"{SHARED}.crl_container_ref", "ref", 400, "A CA certificate reference is required"),
    (
        f"{SHARED}.protocol",
        "UDP",
        400,
        "pool protocol 'UDP' is invalid while the listener protocol is 'TCP'",
    ),
    # members and monitors
    (f"{WEB}.members.1.address", "10.0.0.300", 400, "members[1].address", "IPv4 or IPv6"),
    (f"{WEB}.members.1.address", "169.254.169.254", 400, "169.254.169.254 is invalid"),
    (f"{WEB}.members.1.protocol_port", 8080, 400, None),  # replaced below: a duplicate
    (f"{WEB}.members.0.subnet_id", UNKNOWN_ID, 400, "Subnet", "not found"),
    (f"{WEB}.members.0.request_sriov", True, 400, "SR-IOV"),
    (
        f"{WEB}.healthmonitor.type",
        "UDP-CONNECT",
        400,
        "url_path is not a valid option for health monitors of type UDP-CONNECT",
    ),
    (f"{WEB}.healthmonitor.http_method", "FETCH", 400, "http_method"),
]
# A duplicate member: the second one takes the first one's address and port.
BAD[BAD.index((f"{WEB}.members.1.protocol_port", 8080, 400, None))] = (
    f"{WEB}.members.1.address",
    "10.0.0.1",
    409,
    "already using ip 10.0.0.1 on protocol_port 8080",
)


@pytest.mark.parametrize("case", BAD, ids=lambda c: f"{c[0]}={c[1]!r}"[:60])
def test_bad_nested_input_is_refused_and_writes_nothing(client, api, notifier, case):
    path, value, status, *fragments = case
    body = graph_body(api.subnet_id)
    _set(body, path, value)
    before = snapshot(api.db)
    calls = list(notifier.calls)
    assert_fault(post(client, body), status, *fragments)
    assert snapshot(api.db) == before
    assert notifier.calls == calls


def test_default_pool_id_of_another_load_balancer_is_404(client, api, notifier, other_pool):
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["listeners"][1]["default_pool_id"] = other_pool
    del body["loadbalancer"]["listeners"][1]["default_pool"]
    before = snapshot(api.db)
    calls = list(notifier.calls)
    assert_fault(post(client, body), 404, f"Pool {other_pool} not found.")
    assert snapshot(api.db) == before and notifier.calls == calls


def test_a_fault_deep_in_a_long_list_writes_nothing(client, api, notifier):
    body = graph_body(api.subnet_id)
    members = [
        {"address": f"10.1.{i // 250}.{i % 250 + 1}", "protocol_port": 80} for i in range(400)
    ]
    members[-1]["subnet_id"] = str(uuid.uuid4())  # found out only while writing rows
    body["loadbalancer"]["pools"][0]["members"] = members
    before = snapshot(api.db)
    assert_fault(post(client, body), 400, "Subnet")
    assert snapshot(api.db) == before and notifier.calls == []
    del members[-1]["subnet_id"]
    lb = post(client, body).json()["loadbalancer"]
    assert len(lb["pools"][0]["members"]) == 400


def test_a_huge_body_is_413_and_writes_nothing(client, api, notifier):
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["listeners"] = [
        {"protocol": "TCP", "protocol_port": port} for port in range(1, 5001)
    ]
    before = snapshot(api.db)
    assert_fault(post(client, body), 413, "larger than the limit")
    assert snapshot(api.db) == before and notifier.calls == []


def test_the_load_balancer_level_checks_still_come_first(client, api):
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["vip_subnet_id"] = str(uuid.uuid4())
    before = snapshot(api.db)
    assert_fault(post(client, body), 400, "Subnet", "not found")
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["colour"] = "red"
    assert_fault(post(client, body), 400, "Unknown attribute for argument loadbalancer: colour")
    assert snapshot(api.db) == before


def test_the_body_is_not_changed_by_a_refusal(client, api):
    """The same body sent again after a fix works: nothing of the first try lingers."""
    body = graph_body(api.subnet_id)
    bad = copy.deepcopy(body)
    bad["loadbalancer"]["listeners"][2]["protocol_port"] = 443
    assert_fault(post(client, bad), 409)
    r = post(client, body)
    assert r.status_code == 201, r.text
    assert r.json()["loadbalancer"]["vip_address"] == "127.42.0.2"


# ----------------------------------------------------------------------------- quotas

PROJECT = "hydria-default-project"


def _set_quota(db, **limits: int) -> None:
    with db.session() as s:
        s.merge(m.Quota(project_id=PROJECT, **limits))


@pytest.mark.parametrize(
    ("limits", "kind"),
    [
        ({"listener": 2}, "Listener"),
        ({"pool": 1}, "Pool"),
        ({"member": 2}, "Member"),
        ({"health_monitor": 0}, "Health Monitor"),
        ({"load_balancer": 0}, "Load Balancer"),
    ],
)
def test_every_object_of_the_graph_counts_against_the_quota(client, api, notifier, limits, kind):
    """graph_body: 3 listeners, 2 pools, 1 monitor, 3 members, on top of what exists."""
    _set_quota(api.db, **limits)
    before = snapshot(api.db)
    assert_fault(
        post(client, graph_body(api.subnet_id)), 403, f"Quota has been met for resources: {kind}"
    )
    assert snapshot(api.db) == before and notifier.calls == []


def test_a_graph_that_just_fits_the_quota_is_created(client, api):
    _set_quota(api.db, load_balancer=1, listener=3, pool=2, member=3, health_monitor=1)
    assert post(client, graph_body(api.subnet_id)).status_code == 201
    body = graph_body(api.subnet_id)
    body["loadbalancer"]["listeners"] = []
    body["loadbalancer"]["pools"] = []
    assert_fault(post(client, body), 403, "Load Balancer")


def _orm_graph(db, lb_id: str):  # type: ignore[no-untyped-def]
    """The snapshot as it was read before ``load_lb_row`` read Core rows."""
    from sqlalchemy.orm import selectinload

    from hydria.db.snapshot import to_graph

    with db.read() as s:
        lb = s.scalars(
            select(m.LoadBalancer)
            .where(m.LoadBalancer.id == lb_id)
            .options(
                selectinload(m.LoadBalancer.listeners)
                .selectinload(m.Listener.l7policies)
                .selectinload(m.L7Policy.rules),
                selectinload(m.LoadBalancer.pools).selectinload(m.Pool.members),
                selectinload(m.LoadBalancer.pools).selectinload(m.Pool.health_monitor),
            )
        ).one()
        return to_graph(lb)  # type: ignore[arg-type]  # duck-typed: the same attributes


def test_the_reconciler_snapshot_from_core_rows_is_the_mapped_objects_one(client, api):
    from hydria.db.snapshot import load_lb_row, to_graph

    lb = post(client, graph_body(api.subnet_id)).json()["loadbalancer"]
    api.settle()
    listener, web = lb["listeners"][0]["id"], lb["pools"][1]["id"]
    res = client.post(
        f"{BASE}/l7policies",
        json={
            "l7policy": {
                "listener_id": listener,
                "action": "REDIRECT_TO_POOL",
                "redirect_pool_id": web,
                "position": 1,
            }
        },
    )
    assert res.status_code == 201, res.text
    api.settle()
    res = client.post(
        f"{BASE}/l7policies/{res.json()['l7policy']['id']}/rules",
        json={"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}},
    )
    assert res.status_code == 201, res.text
    api.settle()
    with api.db.read() as s:
        row = load_lb_row(s, lb["id"])
        assert row is not None
        core = to_graph(row)
    assert core == _orm_graph(api.db, lb["id"])
    assert core.listeners[0].l7policies[0].rules and core.pools[1].health_monitor
    assert [p.members for p in core.pools] and any(p.members for p in core.pools)
    with api.db.read() as s:
        assert load_lb_row(s, "no-such-lb") is None
