"""The read path (Core rows, children by page: ``hydria.services.views``) answers exactly
what the write path's views of the same objects (mapped objects and their relationships:
``hydria.services.shape``) answer, key order included, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.db.subnets import ensure_default_subnet
from hydria.services import shape
from tests.api.test_lb_graph import graph_body

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/v2/lbaas"
STATUS_TABLES = (m.LoadBalancer, m.Listener, m.Pool, m.Member, m.HealthMonitor)
STATUS_TABLES += (m.L7Policy, m.L7Rule)


class _Quiet:
    def notify(self, lb_id: str) -> None:
        pass


def _settle(db: Database) -> None:
    with db.session() as s:
        for model in STATUS_TABLES:
            s.execute(update(model).values(provisioning_status=c.ACTIVE))


def _post(client: TestClient, path: str, root: str, **fields: Any) -> dict[str, Any]:
    r = client.post(f"{BASE}/{path}", json={root: fields})
    assert r.status_code == 201, r.text
    return dict(r.json()[root])


@pytest.fixture
def world(any_db: Database, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """Two load balancers with everything: listeners sharing a pool, members, a monitor,
    an L7 policy redirecting to a pool (so it lists that listener too), a rule, and a
    DELETED member and listener (never shown)."""
    subnet = ensure_default_subnet(any_db, "public", "127.42.0.0/16").id
    app = create_app(any_db, _Quiet(), Settings(state_dir=tmp_path))  # type: ignore[arg-type]
    with TestClient(app) as client:
        lbs = []
        for _ in range(2):
            r = client.post(f"{BASE}/loadbalancers", json=graph_body(subnet))
            assert r.status_code == 201, r.text
            lbs.append(r.json()["loadbalancer"])
            _settle(any_db)
        lb = lbs[0]
        http, tcp = lb["listeners"][0], lb["listeners"][1]
        shared = lb["pools"][0]
        # a pool only an L7 policy reaches: it lists the policy's listener
        extra = _post(
            client,
            "pools",
            "pool",
            loadbalancer_id=lb["id"],
            protocol="HTTP",
            lb_algorithm="ROUND_ROBIN",
        )
        _settle(any_db)
        policy = _post(
            client,
            "l7policies",
            "l7policy",
            listener_id=http["id"],
            action="REDIRECT_TO_POOL",
            redirect_pool_id=extra["id"],
        )
        _settle(any_db)
        _post(
            client,
            f"l7policies/{policy['id']}/rules",
            "rule",
            type="PATH",
            compare_type="STARTS_WITH",
            value="/api",
        )
        _settle(any_db)
        gone = _post(
            client, f"pools/{shared['id']}/members", "member", address="10.0.0.9", protocol_port=80
        )
        with any_db.session() as s:
            s.execute(
                update(m.Member)
                .where(m.Member.id == gone["id"])
                .values(provisioning_status=c.DELETED)
            )
            s.execute(
                update(m.Listener)
                .where(m.Listener.id == tcp["id"])
                .values(provisioning_status=c.DELETED)
            )
        _settle_but_deleted(any_db)
        yield client, {"lbs": lbs, "policy": policy, "db": any_db}


def _settle_but_deleted(db: Database) -> None:
    with db.session() as s:
        for model in STATUS_TABLES:
            s.execute(
                update(model)
                .where(model.provisioning_status != c.DELETED)
                .values(provisioning_status=c.ACTIVE)
            )


def _text(value: Any) -> str:
    return json.dumps(value)


# collection path, answer key, model, the write path's view of one object
FAMILIES: list[tuple[str, str, Any, Callable[[Any], dict[str, Any]]]] = [
    ("loadbalancers", "loadbalancer", m.LoadBalancer, shape.lb_view),
    ("listeners", "listener", m.Listener, shape.listener_view),
    ("pools", "pool", m.Pool, shape.pool_view),
    ("healthmonitors", "healthmonitor", m.HealthMonitor, shape.hm_view),
    ("l7policies", "l7policy", m.L7Policy, shape.l7policy_view),
]


@pytest.mark.parametrize(("path", "root", "model", "view"), FAMILIES)
def test_lists_and_shows_answer_the_write_paths_views(world, path, root, model, view):
    client, objects = world
    listed = client.get(f"{BASE}/{path}").json()[f"{path}"]
    assert listed
    with objects["db"].session() as s:
        for item in listed:
            expected = _text(view(s.get(model, item["id"])))
            assert _text(item) == expected
            shown = client.get(f"{BASE}/{path}/{item['id']}").json()[root]
            assert _text(shown) == expected


def test_members_and_rules_answer_the_write_paths_views(world):
    client, objects = world
    with objects["db"].session() as s:
        for pool in objects["lbs"][0]["pools"]:
            members = client.get(f"{BASE}/pools/{pool['id']}/members").json()["members"]
            assert members
            for item in members:
                expected = _text(shape.member_view(s.get(m.Member, item["id"])))
                assert _text(item) == expected
                one = client.get(f"{BASE}/pools/{pool['id']}/members/{item['id']}")
                assert _text(one.json()["member"]) == expected
        policy = objects["policy"]["id"]
        rules = client.get(f"{BASE}/l7policies/{policy}/rules").json()["rules"]
        assert len(rules) == 1
        expected = _text(shape.l7rule_view(s.get(m.L7Rule, rules[0]["id"])))
        assert _text(rules[0]) == expected
        one = client.get(f"{BASE}/l7policies/{policy}/rules/{rules[0]['id']}")
        assert _text(one.json()["rule"]) == expected


@pytest.mark.parametrize("path", ["loadbalancers", "listeners", "pools", "healthmonitors"])
def test_pages_of_one_walk_the_whole_list_both_ways(world, path):
    client, _ = world
    everything = client.get(f"{BASE}/{path}", params={"sort": "name:desc"}).json()[path]
    walked, marker = [], None
    while True:
        params = {"sort": "name:desc", "limit": "1", **({"marker": marker} if marker else {})}
        page = client.get(f"{BASE}/{path}", params=params).json()[path]
        if not page:
            break
        walked += page
        marker = page[-1]["id"]
    assert walked == everything
    back = client.get(
        f"{BASE}/{path}",
        params={"sort": "name:desc", "limit": "100", "marker": marker, "page_reverse": "True"},
    ).json()[path]
    assert back == everything[:-1]
