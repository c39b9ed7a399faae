"""Bad input on every write endpoint: always a 4xx with Octavia's fault body, never a
5xx, and never a change to the database.

Each endpoint is described once (method, path, root key, a valid body); the cases
then break that body in every way a client (or an attacker) might.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.subnets import ensure_default_subnet
from tests.api.conftest import (
    BASE,
    Api,
    RecordingNotifier,
    TestClient,
    assert_fault,
    assert_routing_fault,
    snapshot,
)

JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    root: str
    valid: dict[str, Any]
    # (field, wrong value) pairs: strings for integers, integers for booleans, ...
    wrong_types: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Built:
    path: Path
    ids: dict[str, str]


@pytest.fixture(scope="module")
def built_world(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """An ACTIVE stack and a second pool without a monitor, built once through the API.

    Every test starts from a copy of this file (the ``db`` below): building the
    stack for each of the many cases was most of this module's time.
    """
    folder = tmp_path_factory.mktemp("world")
    path = folder / "hydria.db"
    shutil.copyfile(migrated_template, path)
    database = Database(f"sqlite:///{path}")
    try:
        subnet = ensure_default_subnet(database, "public", "127.42.0.0/16").id
        app = create_app(
            database, RecordingNotifier(), Settings(state_dir=folder, max_body_bytes=64 * 1024)
        )
        with TestClient(app) as tc:
            api = Api(tc, database, subnet)
            stack = api.stack()
            bare_pool = api.pool(loadbalancer_id=stack["lb"]["id"])
    finally:
        database.dispose()
    return Built(path, {**{k: v["id"] for k, v in stack.items()}, "bare_pool": bare_pool["id"]})


@pytest.fixture
def db(built_world: Built, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "hydria.db"
    shutil.copyfile(built_world.path, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()


@pytest.fixture
def world(api: Api, built_world: Built) -> dict[str, Endpoint]:
    """Every write endpoint, on the built world."""
    ids = built_world.ids
    lb_id, li_id, pool_id = ids["lb"], ids["listener"], ids["pool"]
    endpoints = [
        Endpoint(
            "lb-create",
            "POST",
            "loadbalancers",
            "loadbalancer",
            {"vip_subnet_id": api.subnet_id},
            (("admin_state_up", 2), ("name", 5), ("tags", "a")),
        ),
        Endpoint(
            "lb-update",
            "PUT",
            f"loadbalancers/{lb_id}",
            "loadbalancer",
            {"name": "x"},
            (("admin_state_up", "maybe"), ("description", [])),
        ),
        Endpoint(
            "listener-create",
            "POST",
            "listeners",
            "listener",
            {"loadbalancer_id": lb_id, "protocol": "TCP", "protocol_port": 81},
            (
                ("protocol_port", "81a"),
                ("admin_state_up", 2),
                ("connection_limit", "5.0"),
                ("protocol_port", 81.5),
                ("protocol_port", True),
                ("tags", [1]),
                ("timeout_client_data", "one"),
                ("insert_headers", ["X-Forwarded-For"]),
            ),
        ),
        Endpoint(
            "listener-update",
            "PUT",
            f"listeners/{li_id}",
            "listener",
            {"name": "x"},
            (
                ("connection_limit", "ten"),
                ("admin_state_up", -1),
                ("name", 1),
                ("timeout_member_data", 1.5),
                ("default_pool_id", 7),
            ),
        ),
        Endpoint(
            "pool-create",
            "POST",
            "pools",
            "pool",
            {"loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
            (
                ("admin_state_up", 2),
                ("protocol", 1),
                ("session_persistence", "x"),
                ("loadbalancer_id", 12),
            ),
        ),
        Endpoint(
            "pool-update",
            "PUT",
            f"pools/{pool_id}",
            "pool",
            {"name": "x"},
            (("admin_state_up", "nope!"), ("lb_algorithm", 1), ("tags", {"a": 1})),
        ),
        Endpoint(
            "member-create",
            "POST",
            f"pools/{pool_id}/members",
            "member",
            {"address": "10.0.0.9", "protocol_port": 80},
            (
                ("protocol_port", "eighty"),
                ("weight", "1.0"),
                ("backup", 3),
                ("address", 167772161),
                ("monitor_port", "9000x"),
            ),
        ),
        Endpoint(
            "member-update",
            "PUT",
            f"pools/{pool_id}/members/{ids['member']}",
            "member",
            {"weight": 2},
            (("weight", "2x"), ("backup", -1), ("admin_state_up", "falsch")),
        ),
        Endpoint(
            "hm-create",
            "POST",
            "healthmonitors",
            "healthmonitor",
            {
                "pool_id": ids["bare_pool"],
                "type": "HTTP",
                "delay": 5,
                "timeout": 3,
                "max_retries": 3,
            },
            (
                ("delay", "5s"),
                ("timeout", "3s"),
                ("max_retries", 3.5),
                ("admin_state_up", 2),
                ("type", 1),
            ),
        ),
        Endpoint(
            "hm-update",
            "PUT",
            f"healthmonitors/{ids['hm']}",
            "healthmonitor",
            {"delay": 6},
            (("delay", "6s"), ("admin_state_up", 2), ("url_path", 1)),
        ),
    ]
    return {e.name: e for e in endpoints}


ENDPOINTS = [
    "lb-create",
    "lb-update",
    "listener-create",
    "listener-update",
    "pool-create",
    "pool-update",
    "member-create",
    "member-update",
    "hm-create",
    "hm-update",
]


def send(
    client,
    e: Endpoint,
    *,
    content: bytes | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
):
    if content is None:
        content = json.dumps(body).encode()
    return client.request(
        e.method, f"{BASE}/{e.path}", content=content, headers={**JSON, **(headers or {})}
    )


def refused(client, db, e: Endpoint, status: int, *fragments: str, **kwargs) -> None:
    before = snapshot(db)
    assert_fault(send(client, e, **kwargs), status, *fragments)
    assert snapshot(db) == before


def test_every_valid_body_is_accepted(client, api, world):
    """The baseline the other cases break: each valid body really does succeed."""
    for e in world.values():
        r = send(client, e, body={e.root: e.valid})
        assert r.status_code in (200, 201), (e.name, r.text)
        api.settle()


RAW_BODIES = [
    (b"{", "not valid JSON"),
    (b'{"x": 1} trailing', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"null", "JSON object"),
    (b"[]", "JSON object"),
    (b'"text"', "JSON object"),
    (b"42", "JSON object"),
    (b"[" * 30000 + b"]" * 30000, "nested too deeply"),
    (b'{"a": NaN}', "NaN"),
    (b'{"a": Infinity}', "Infinity"),
    (b'{"a": "\\ud800"}', "surrogate"),
    (b'{"a\\u0000": 1}', "NUL"),
]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_bodies_that_are_not_usable_json(client, db, world, name):
    for raw, fragment in RAW_BODIES:
        refused(client, db, world[name], 400, fragment, content=raw)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_strings_that_no_database_can_store(client, db, world, name):
    e = world[name]
    for bad in ("\ud800", "a\x00b"):
        raw = json.dumps({e.root: {**e.valid, "name": bad}}).encode()
        refused(client, db, e, 400, content=raw)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_envelope_faults(client, db, world, name):
    e = world[name]
    refused(client, db, e, 400, f"field/attribute {e.root}", "Mandatory field missing", body={})
    refused(client, db, e, 400, "Unknown attribute", body={"thing": e.valid})
    refused(client, db, e, 400, "Unknown attribute", "extra", body={e.root: e.valid, "extra": 1})
    for inner in ([], "x", 1, True):
        refused(client, db, e, 400, f"field/attribute {e.root}", body={e.root: inner})


@pytest.mark.parametrize("name", ENDPOINTS)
def test_unknown_fields(client, db, world, name):
    e = world[name]
    refused(
        client,
        db,
        e,
        400,
        f"Unknown attribute for argument {e.root}: colour",
        body={e.root: {**e.valid, "colour": "red"}},
    )
    refused(
        client,
        db,
        e,
        400,
        "Unknown attribute",
        "id",
        body={e.root: {**e.valid, "id": "8f2d5f1e-0000-4000-8000-000000000000"}},
    )
    refused(
        client,
        db,
        e,
        400,
        "Unknown attribute",
        "provisioning_status",
        body={e.root: {**e.valid, "provisioning_status": "ACTIVE"}},
    )


@pytest.mark.parametrize("name", ENDPOINTS)
def test_wrong_types(client, db, world, name):
    e = world[name]
    for field, value in e.wrong_types:
        before = snapshot(db)
        r = send(client, e, body={e.root: {**e.valid, field: value}})
        assert_fault(r, 400, field)
        assert snapshot(db) == before, (field, value)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("listener-create", "protocol_port"),
        ("member-create", "protocol_port"),
        ("member-create", "monitor_port"),
        ("member-update", "monitor_port"),
    ],
)
def test_ports_out_of_range(client, db, world, name, field):
    e = world[name]
    for value in (0, -1, 65536, 70000, 10**30):
        refused(
            client,
            db,
            e,
            400,
            f"field/attribute {field}",
            f"Value: '{value}'",
            body={e.root: {**e.valid, field: value}},
        )


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("member-create", "weight", 257),
        ("member-update", "weight", 257),
        ("member-create", "weight", -1),
        ("listener-create", "connection_limit", -2),
        ("listener-create", "connection_limit", 2**31),
        ("listener-update", "connection_limit", 2**63),
        ("listener-create", "timeout_client_data", -1),
        ("listener-update", "timeout_member_connect", 24 * 24 * 60 * 60 * 1000 + 1),
        ("hm-create", "delay", 2**31),
        ("hm-update", "timeout", -1),
        ("hm-create", "max_retries_down", 0),
        ("lb-create", "name", "n" * 256),
        ("listener-update", "description", "d" * 256),
        ("pool-update", "name", "n" * 256),
        ("member-create", "tags", ["t" * 256]),
        ("lb-create", "project_id", "p" * 37),
    ],
)
def test_values_out_of_range(client, db, world, name, field, value):
    e = world[name]
    refused(client, db, e, 400, field, body={e.root: {**e.valid, field: value}})


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("lb-create", "vip_subnet_id"),
        ("listener-create", "loadbalancer_id"),
        ("listener-update", "default_pool_id"),
        ("pool-create", "loadbalancer_id"),
        ("pool-create", "listener_id"),
        ("member-create", "subnet_id"),
        ("hm-create", "pool_id"),
    ],
)
def test_invalid_uuids_in_bodies(client, db, world, name, field):
    e = world[name]
    for value in ("", "abc", "123e4567-e89b-12d3-a456-42661417400", "../../etc/passwd"):
        refused(client, db, e, 400, field, "UUID", body={e.root: {**e.valid, field: value}})


@pytest.mark.parametrize("name", ENDPOINTS)
def test_oversized_bodies_are_413(client, db, world, name, settings):
    e = world[name]
    big = json.dumps({e.root: {**e.valid, "name": "n" * (2 * 1024 * 1024)}}).encode()
    assert len(big) > 1024 * 1024 > settings.max_body_bytes
    refused(client, db, e, 413, "larger than the limit", content=big)


def test_oversized_bodies_without_a_length_are_413(client, db, world):
    """A chunked body has no Content-Length; the limit still holds while reading."""
    e = world["listener-create"]

    def chunks():
        yield b'{"listener": {"name": "'
        for _ in range(32):
            yield b"n" * 65536
        yield b'"}}'

    before = snapshot(db)
    r = client.request(e.method, f"{BASE}/{e.path}", content=chunks(), headers=JSON)
    assert_fault(r, 413, "larger than the limit")
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["listener-create", "member-update", "hm-create"])
def test_bodies_that_are_not_json_are_415(client, db, world, name):
    e = world[name]
    raw = json.dumps({e.root: e.valid}).encode()
    refused(
        client,
        db,
        e,
        415,
        "must be JSON",
        content=raw,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_an_overlong_project_header_is_400(client, db, world):
    e = world["listener-create"]
    refused(
        client,
        db,
        e,
        400,
        "X-Project-Id",
        body={e.root: e.valid},
        headers={"X-Project-Id": "p" * 100},
    )


# --- members batch update --------------------------------------------------------------


def test_batch_bodies_that_are_not_usable(client, db, world):
    pool_path = world["member-create"].path
    batch = Endpoint("batch", "PUT", pool_path, "members", {}, ())
    for raw, fragment in RAW_BODIES:
        refused(client, db, batch, 400, fragment, content=raw)
    ok = {"address": "10.0.0.9", "protocol_port": 80}
    for body, fragment in [
        ({"members": [{**ok, "protocol_port": "80x"}]}, "protocol_port"),
        ({"members": [{**ok, "weight": 257}]}, "weight"),
        ({"members": [{**ok, "protocol_port": 70000}]}, "protocol_port"),
        ({"members": [{**ok, "backup": 5}]}, "backup"),
        ({"members": [{**ok, "name": "\ud800"}]}, "surrogate"),
        ({"members": [ok, None]}, "members[1]"),
        ({"members": [ok], "extra": 1}, "Unknown attribute"),
    ]:
        refused(client, db, batch, 400, fragment, body=body)
    big = json.dumps({"members": [{**ok, "name": "n" * (2 * 1024 * 1024)}]}).encode()
    refused(client, db, batch, 413, content=big)


# --- paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "listeners/{bad}",
        "pools/{bad}",
        "healthmonitors/{bad}",
        "pools/{bad}/members",
        "pools/{pool}/members/{bad}",
    ],
)
def test_invalid_ids_in_paths_are_404(client, db, world, path):
    pool_id = world["member-create"].path.split("/")[1]
    before = snapshot(db)
    for bad in ("not-a-uuid", "123", "%00", "x" * 5000, "8F2D5F1E-0000-4000-8000-000000000000"):
        url = f"{BASE}/" + path.format(bad=bad, pool=pool_id)
        if path == "pools/{bad}/members":  # Octavia finds the pool missing while routing
            r = client.get(url)
            text = r.json().get("description") or r.json().get("faultstring")  # NUL: a guard's
            assert r.status_code == 404 and "not found" in text, r.text
            continue
        assert_fault(client.get(url), 404, "not found")
        if path.endswith("{bad}"):
            assert_fault(client.delete(url), 404)
    assert snapshot(db) == before


@pytest.fixture
def postgres_like(db):
    """Make the test database refuse NUL in text parameters, as PostgreSQL does."""

    def refuse_nul(conn, cursor, statement, parameters, context, executemany):
        rows = parameters if executemany else [parameters]
        for row in rows:
            values = row.values() if isinstance(row, dict) else row
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise ValueError("text fields cannot contain NUL (0x00) bytes")

    event.listen(db.engine, "before_cursor_execute", refuse_nul)
    yield
    event.remove(db.engine, "before_cursor_execute", refuse_nul)


@pytest.mark.parametrize(
    "path",
    [
        "loadbalancers/%00",
        "listeners/a%00b",
        "pools/%00/members",
        "healthmonitors/%00",
        "loadbalancers/%00/status",
    ],
)
def test_nul_in_a_path_is_404_on_every_database(client, db, world, postgres_like, path):
    before = snapshot(db)
    for method in ("get", "delete"):
        assert_fault(getattr(client, method)(f"{BASE}/{path}"), 404, "not found")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "query",
    [
        "name=%00",
        "id=a%00",
        "tags=%00",
        "marker=%00",
        "sort_key=%00",
        "fields=%00",
    ],
)
def test_nul_in_a_query_is_400_on_every_database(client, world, postgres_like, query):
    for path in ("loadbalancers", "listeners", "pools", "healthmonitors"):
        assert_fault(client.get(f"{BASE}/{path}?{query}"), 400, "NUL")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "listeners/{id}"),
        ("POST", "listeners/{id}"),
        ("PUT", "listeners"),
        ("DELETE", "pools"),
        ("PATCH", "healthmonitors/{id}"),
        ("POST", "pools/{id}"),
    ],
)
def test_wrong_methods_are_405(client, db, world, method, path):
    url = f"{BASE}/" + path.format(id="8f2d5f1e-0000-4000-8000-000000000000")
    before = snapshot(db)
    assert_routing_fault(client.request(method, url, json={}), 405, "Method Not Allowed")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "query",
    [
        "protocol_port=99999999999999999999999",
        "protocol_port=-99999999999999999999999",
        "connection_limit=1e3",
        "admin_state_up=2",
        "limit=x",
        "sort=name:sideways",
        "sort_key=colour",
        "page_reverse=true&marker=nope",
        "unknown=1",
    ],
)
def test_bad_queries_on_listeners_are_400(client, world, query):
    r = client.get(f"{BASE}/listeners?{query}")
    if query.startswith(("limit=", "sort=")):  # Octavia's paging hook: pecan's body
        assert r.status_code == 400 and r.json()["title"] == "Bad Request", r.text
        return
    assert_fault(r, 400)


def test_fault_strings_do_not_echo_huge_values(client, db, world):
    e = world["listener-create"]
    huge = "n" * 50000
    for body in (
        {e.root: {**e.valid, "name": huge}},
        {e.root: {**e.valid, huge: 1}},
        {e.root: [huge]},
        {huge: 1},
    ):
        before = snapshot(db)
        fault = assert_fault(send(client, e, body=body), 400)
        assert len(fault["faultstring"]) < 500
        assert snapshot(db) == before


@pytest.mark.parametrize("address", ["fe80::1%eth0", "10.0.0.1/32", " 10.0.0.1", "10.0.0"])
def test_member_addresses_must_be_plain_ip_addresses(client, db, world, address):
    e = world["member-create"]
    refused(client, db, e, 400, "address", body={e.root: {**e.valid, "address": address}})


# --- a seeded shake of every endpoint --------------------------------------------------

FUZZ_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    10**40,
    1.5,
    1e308,
    "",
    "x",
    "a" * 300,
    "10.0.0.1",
    "::1",
    "8f2d5f1e-0000-4000-8000-000000000000",
    [],
    [1],
    ["a"],
    {},
    {"a": 1},
    "HTTP",
    "TCP",
    "ROUND_ROBIN",
    {"type": "APP_COOKIE"},
    {"type": "SOURCE_IP"},
    "200",
    "/",
    "GET",
    "\u202e",
    1.1,
    "0.0.0.0/0",
    ["10.0.0.0/8"],
    {"X-Forwarded-For": "true"},
]
FUZZ_FIELDS = [
    "name",
    "description",
    "admin_state_up",
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_pool_id",
    "insert_headers",
    "loadbalancer_id",
    "listener_id",
    "timeout_client_data",
    "tags",
    "allowed_cidrs",
    "lb_algorithm",
    "session_persistence",
    "address",
    "weight",
    "backup",
    "subnet_id",
    "monitor_port",
    "monitor_address",
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "http_version",
    "domain_name",
    "pool_id",
    "project_id",
    "vip_subnet_id",
    "vip_address",
    "provider",
    "request_sriov",
    "sni_container_refs",
    "tls_enabled",
    "healthmonitor",
    "members",
    "default_pool",
]


def test_random_field_values_never_break_the_api(client, api, db, world):
    """Valid bodies with one to three fields replaced by odd values: each answer is a
    success or a fault, a fault changes nothing, and nothing is ever a 5xx (``client``
    fails the test on any)."""
    rng = random.Random(20261126)
    for _ in range(300):
        e = world[rng.choice(ENDPOINTS)]
        body = dict(e.valid)
        for _ in range(rng.randint(1, 3)):
            body[rng.choice(FUZZ_FIELDS + list(e.valid))] = rng.choice(FUZZ_VALUES)
        before = snapshot(db)
        r = send(client, e, body={e.root: body})
        if r.status_code >= 400:
            assert_fault(r, r.status_code)
            assert snapshot(db) == before, (e.name, body)
        else:
            api.settle()


@pytest.mark.parametrize("depth", [40, 900])
def test_deep_values_inside_a_valid_envelope_are_400(client, db, world, depth):
    e = world["listener-create"]
    nested = "[" * depth + "]" * depth
    raw = json.dumps({e.root: {**e.valid, "default_pool": None}}).replace("null", nested)
    refused(client, db, e, 400, "nested too deeply", content=raw.encode())
