"""Bad input on the trust paths: text that could forge a header or a log line is
refused with a clear 400 and changes nothing, and the caller's path is logged
escaped."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from hydria.api.app import create_app
from tests.api.conftest import TestClient, snapshot
from tests.support.identity import keystone_settings


@pytest.mark.parametrize(
    "value", ["true\r\nX-Injected: 1", "true\n", "\x1b[2J", "tr\tue", "true\u2028"]
)
def test_insert_headers_with_control_characters_are_refused(
    api: Any, client: TestClient, db: Any, value: str
) -> None:
    lb = api.lb()
    before = snapshot(db)
    r = client.post(
        "/v2/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "HTTP",
                "protocol_port": 80,
                "insert_headers": {"X-Forwarded-For": value},
            }
        },
    )
    assert r.status_code == 400, r.text
    assert "printable" in r.json()["faultstring"], r.text
    assert snapshot(db) == before


def test_a_noauth_project_header_with_control_characters_is_400(
    client: TestClient, db: Any
) -> None:
    before = snapshot(db)
    r = client.get("/v2/lbaas/loadbalancers", headers={"X-Project-Id": "p\x01"})
    assert r.status_code == 400 and "X-Project-Id" in r.json()["faultstring"]
    assert snapshot(db) == before


def test_an_unauthenticated_path_is_logged_escaped(
    db: Any, notifier: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A decoded %0d%0a in a path must not start a forged line in Hydria's log."""
    with (
        TestClient(create_app(db, notifier, keystone_settings(tmp_path))) as client,
        caplog.at_level(logging.INFO, logger="hydria"),
    ):
        r = client.get("/v2/lbaas/loadbalancers%0d%0aevent=forged%20user=admin")
        assert r.status_code == 401
    lines = [rec.getMessage() for rec in caplog.records if "api_unauthenticated" in rec.msg]
    assert lines and all("\n" not in line and "\r" not in line for line in lines), lines
    assert any("\\r\\nevent=forged" in line for line in lines), lines
