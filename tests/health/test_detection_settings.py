"""Heartbeat timing an operator sets: fast settings are accepted, settings
below the safe floors are refused at start with the reason."""

from __future__ import annotations

import click
import pytest

from hydria.cli.options import settings_from
from hydria.config import (
    HEARTBEAT_INTERVAL_FLOOR,
    HEARTBEAT_TIMEOUT_FLOOR,
    MIN_HEARTBEATS_PER_TIMEOUT,
    Settings,
    heartbeat_floor_problems,
)


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [(10.0, 60.0), (1.0, 3.0), (0.5, 1.5), (0.25, 1.0), (HEARTBEAT_INTERVAL_FLOOR, 1.0)],
)
def test_fast_settings_an_operator_can_keep_are_accepted(interval: float, timeout: float):
    assert heartbeat_floor_problems(interval, timeout) == []
    s = Settings(heartbeat_interval=interval, heartbeat_timeout=timeout)
    assert (s.heartbeat_interval, s.heartbeat_timeout) == (interval, timeout)


@pytest.mark.parametrize(
    ("interval", "timeout", "words"),
    [
        (0.05, 1.0, "heartbeat_interval 0.05 s is below the floor"),
        (0.0, 1.0, "heartbeat_interval 0 s is below the floor"),
        (0.1, 0.5, "heartbeat_timeout 0.5 s is below the floor"),
        (0.5, 1.0, "must span at least 3 heartbeat intervals"),
        (10.0, 1.0, "must span at least 3 heartbeat intervals"),
    ],
)
def test_settings_below_a_floor_are_refused(interval: float, timeout: float, words: str):
    assert any(words in p for p in heartbeat_floor_problems(interval, timeout))
    with pytest.raises(ValueError, match=words):
        Settings(heartbeat_interval=interval, heartbeat_timeout=timeout)


def test_the_floors_keep_two_lost_heartbeats_harmless():
    assert MIN_HEARTBEATS_PER_TIMEOUT >= 3
    assert HEARTBEAT_TIMEOUT_FLOOR >= MIN_HEARTBEATS_PER_TIMEOUT * HEARTBEAT_INTERVAL_FLOOR


def test_a_refused_environment_stops_the_command_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HYDRIA_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("HYDRIA_HEARTBEAT_TIMEOUT", "0.8")
    with pytest.raises(click.UsageError) as err:
        settings_from(None, None)
    assert "heartbeat_timeout 0.8 s is below the floor of 1 s" in err.value.message
    assert "Value error" not in err.value.message
