"""Octavia's operating-status rules, from HAProxy's words."""

from __future__ import annotations

import pytest

from hydria.core import constants as c
from hydria.health import rollup


@pytest.mark.parametrize(
    ("raw", "current", "new", "want"),
    [
        ("UP", c.OFFLINE, False, c.ONLINE),
        ("UP 1/3", c.ONLINE, False, c.ONLINE),
        ("DOWN", c.ONLINE, False, c.ERROR),
        ("DOWN 1/2", c.ERROR, False, c.ERROR),
        ("DRAIN", c.ONLINE, False, c.DRAINING),
        ("NOLB", c.ONLINE, False, c.DRAINING),
        ("MAINT", c.ONLINE, False, c.OFFLINE),
        ("MAINT (via pool/srv)", c.ONLINE, False, c.OFFLINE),
        ("MAINT(resolution)", c.ONLINE, False, c.OFFLINE),
        ("no check", c.ONLINE, False, c.NO_MONITOR),
        ("something new", c.ONLINE, False, None),
        (None, c.ONLINE, False, c.OFFLINE),
        (None, c.NO_MONITOR, False, None),
        (None, c.ONLINE, True, None),
    ],
)
def test_member(raw: str | None, current: str, new: bool, want: str | None) -> None:
    assert rollup.member_status(raw, current=current, new=new) == want


@pytest.mark.parametrize(
    ("raw", "members", "new", "want"),
    [
        ("UP", [c.ONLINE, c.ONLINE], False, c.ONLINE),
        ("UP", [], False, c.ONLINE),
        ("UP", [c.ONLINE, c.ERROR], False, c.DEGRADED),
        ("UP", [c.NO_MONITOR, c.OFFLINE, c.DRAINING], False, c.ONLINE),
        ("DOWN", [c.ERROR, c.ERROR], False, c.ERROR),
        ("DOWN", [], False, c.ERROR),
        ("odd", [c.ONLINE], False, None),
        (None, [c.ONLINE], False, c.OFFLINE),
        (None, [], True, None),
    ],
)
def test_pool(raw: str | None, members: list[str], new: bool, want: str | None) -> None:
    assert rollup.pool_status(raw, members, new=new) == want


@pytest.mark.parametrize(
    ("raw", "enabled", "lb_active", "new", "want"),
    [
        ("OPEN", True, True, False, c.ONLINE),
        ("FULL", True, True, False, c.DEGRADED),
        ("STOP", False, True, False, c.OFFLINE),
        ("odd", True, True, False, None),
        (None, True, True, False, c.ERROR),
        (None, False, True, False, c.OFFLINE),
        (None, True, False, False, c.OFFLINE),
        (None, True, True, True, None),
    ],
)
def test_listener(
    raw: str | None, enabled: bool, lb_active: bool, new: bool, want: str | None
) -> None:
    assert rollup.listener_status(raw, enabled=enabled, lb_active=lb_active, new=new) == want


@pytest.mark.parametrize(
    ("enabled", "listeners", "pools", "want"),
    [
        (True, [c.ONLINE], [c.ONLINE], c.ONLINE),
        (True, [], [], c.ONLINE),
        (True, [c.ONLINE], [c.DEGRADED], c.DEGRADED),
        (True, [c.DEGRADED], [c.ONLINE], c.DEGRADED),
        (True, [c.ONLINE], [c.ERROR, c.DEGRADED], c.ERROR),
        (True, [c.OFFLINE], [c.OFFLINE], c.ONLINE),
        (False, [c.ONLINE], [c.ERROR], c.OFFLINE),
    ],
)
def test_load_balancer(enabled: bool, listeners: list[str], pools: list[str], want: str) -> None:
    assert (
        rollup.load_balancer_status(
            enabled=enabled, listener_statuses=listeners, pool_statuses=pools
        )
        == want
    )
