"""A GET of one PENDING_* object answers once its load balancer settled.

Clients poll: a GET at once, then a sleep of 2-3 s while the object is
PENDING_* (``hydria.api.settle``). These tests play the controller's part: they
wait until the reader waits, converge the rows and say ``settled``; the reader
then answers ACTIVE (or 404 for a delete) on its first GET. Without the board
(``settle=None``, every other API test) nothing waits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.settle import SettleBoard
from tests.api.conftest import BASE, Api, RecordingNotifier
from tests.support.wait import wait_for


@pytest.fixture
def board() -> SettleBoard:
    return SettleBoard()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, max_body_bytes=64 * 1024, api_settle_wait=30)


@pytest.fixture
def app(db: Database, notifier: RecordingNotifier, settings: Settings, board: SettleBoard) -> Any:
    return create_app(db, notifier, settings, settle=board)


def in_thread(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    got: list[httpx.Response] = []
    reader = threading.Thread(target=lambda: got.append(call()))
    reader.start()
    return reader, got


def converge_when_waited(api: Api, board: SettleBoard, lb_id: str) -> None:
    """The controller's part: the reader waits, the change converges, ``settled``."""
    wait_for(lambda: board.waiting() == 1, what="the GET waits for the settle")
    api.settle()
    board.settled(lb_id)


@pytest.fixture
def stack(api: Api) -> dict[str, dict[str, Any]]:
    return api.stack()


def test_a_pending_load_balancer_is_answered_active_on_the_first_get(
    api: Api, board: SettleBoard
) -> None:
    lb = api.lb(settle=False)
    assert lb["provisioning_status"] == "PENDING_CREATE"  # the POST's answer is unchanged
    reader, got = in_thread(lambda: api.client.get(f"{BASE}/loadbalancers/{lb['id']}"))
    converge_when_waited(api, board, lb["id"])
    reader.join()
    assert got[0].status_code == 200
    assert got[0].json()["loadbalancer"]["provisioning_status"] == "ACTIVE"


@pytest.mark.parametrize("kind", ["listener", "pool", "member", "healthmonitor"])
def test_each_kind_waits_on_its_load_balancer(
    api: Api, board: SettleBoard, stack: dict[str, dict[str, Any]], kind: str
) -> None:
    """Listeners and pools name their load balancer; members and monitors are
    found through their pool."""
    lb_id = stack["lb"]["id"]
    path = {
        "listener": f"listeners/{stack['listener']['id']}",
        "pool": f"pools/{stack['pool']['id']}",
        "member": f"pools/{stack['pool']['id']}/members/{stack['member']['id']}",
        "healthmonitor": f"healthmonitors/{stack['hm']['id']}",
    }[kind]
    res = api.client.put(f"{BASE}/{path}", json={kind: {"name": "renamed"}})
    assert res.status_code == 200, res.text
    assert res.json()[kind]["provisioning_status"] == "PENDING_UPDATE"
    reader, got = in_thread(lambda: api.client.get(f"{BASE}/{path}"))
    converge_when_waited(api, board, lb_id)
    reader.join()
    assert got[0].json()[kind]["provisioning_status"] == "ACTIVE"
    assert got[0].json()[kind]["name"] == "renamed"


def test_a_settled_delete_answers_404_as_wait_for_delete_expects(
    api: Api, board: SettleBoard, stack: dict[str, dict[str, Any]]
) -> None:
    path = f"{BASE}/pools/{stack['pool']['id']}/members/{stack['member']['id']}"
    assert api.client.delete(path).status_code == 204
    reader, got = in_thread(lambda: api.client.get(path))
    converge_when_waited(api, board, stack["lb"]["id"])
    reader.join()
    assert got[0].status_code == 404


def test_a_settle_of_another_load_balancer_does_not_answer_early(
    api: Api, board: SettleBoard, stack: dict[str, dict[str, Any]]
) -> None:
    other = api.lb()
    pending = api.lb(settle=False)
    api.settle()  # converged, but the controller has not said so for ``pending`` yet...
    api.client.put(f"{BASE}/loadbalancers/{pending['id']}", json={"loadbalancer": {"name": "x"}})
    reader, got = in_thread(lambda: api.client.get(f"{BASE}/loadbalancers/{pending['id']}"))
    wait_for(lambda: board.waiting() == 1, what="the GET waits")
    board.settled(other["id"])  # ...and another's settle does not wake it
    assert board.waiting() == 1 and not got
    api.settle()
    board.settled(pending["id"])
    reader.join()
    assert got[0].json()["loadbalancer"]["provisioning_status"] == "ACTIVE"


def test_the_wait_is_bounded_and_lists_never_wait(
    api: Api, board: SettleBoard, settings: Settings
) -> None:
    """Nothing settles: after ``api_settle_wait`` the GET answers what it reads."""
    settings.api_settle_wait = 0.05
    lb = api.lb(settle=False)
    res = api.client.get(f"{BASE}/loadbalancers/{lb['id']}")
    assert res.json()["loadbalancer"]["provisioning_status"] == "PENDING_CREATE"
    settings.api_settle_wait = 3600
    listed = api.client.get(f"{BASE}/loadbalancers")
    assert listed.json()["loadbalancers"][0]["provisioning_status"] == "PENDING_CREATE"
    assert board.waiting() == 0
