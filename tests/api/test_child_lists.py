"""The members of a pool and the rules of an L7 policy, listed by someone of
another project whom the policy lets in (an admin): all of them, as Octavia
lists them (it checks the caller against the parent's project, then lists the
parent's children with no project filter). Octavia's conformance tests list them
as an admin of another project and expect every id (test_l7rule_list,
test_member_list)."""

from __future__ import annotations

from pathlib import Path

from hydria.api.app import create_app
from hydria.core import constants as c
from tests.api.conftest import TestClient
from tests.support.identity import HeaderIdentity, keystone_settings

ADMIN_ELSEWHERE = {"X-Project-Id": "project-b", "X-Roles": "admin,member,reader"}
READER_ELSEWHERE = {"X-Project-Id": "project-b", "X-Roles": "member,reader"}


def test_an_admin_of_another_project_lists_all_children(api, db, notifier, tmp_path: Path):
    lb = api.lb()
    listener = api.listener(lb["id"])
    pool = api.pool(listener_id=listener["id"])
    members = {api.member(pool["id"], address=f"10.0.0.{i}")["id"] for i in (1, 2)}
    policy = api.post("l7policies", "l7policy", listener_id=listener["id"], action="REJECT")
    api.settle()
    rule = api.post(
        f"l7policies/{policy['id']}/rules",
        "rule",
        type="PATH",
        compare_type="STARTS_WITH",
        value="/a",
    )
    api.settle()
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        url = f"/v2/lbaas/pools/{pool['id']}/members"
        r = client.get(url, headers=ADMIN_ELSEWHERE)
        assert r.status_code == 200, r.text
        assert {m["id"] for m in r.json()["members"]} == members
        # project_id is then an ordinary filter
        r = client.get(url, headers=ADMIN_ELSEWHERE, params={"project_id": "project-b"})
        assert r.json()["members"] == []
        r = client.get(url, headers=ADMIN_ELSEWHERE, params={"project_id": c.DEFAULT_PROJECT_ID})
        assert {m["id"] for m in r.json()["members"]} == members
        r = client.get(f"/v2/lbaas/l7policies/{policy['id']}/rules", headers=ADMIN_ELSEWHERE)
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["rules"]] == [rule["id"]]
        # whom the parent's project refuses still sees nothing
        assert client.get(url, headers=READER_ELSEWHERE).status_code == 403
