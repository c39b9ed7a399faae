"""Wake-ups across processes: NOTIFY from one connection reaches a LISTENer."""

from __future__ import annotations

import logging
import time

import pytest

from hydria.db.notify import NullNotifier, PostgresListener, PostgresNotifier, notifier_for


@pytest.mark.postgres
def test_notify_reaches_listener(pg_url: str):
    listener = PostgresListener(pg_url)
    notifier = PostgresNotifier(pg_url)
    try:
        got: set[str] = set()
        deadline = time.monotonic() + 30
        while "lb-1" not in got and time.monotonic() < deadline:
            notifier.notify("lb-1")  # until the listener has connected, notes are lost
            got |= listener.wait(0.2)
        assert "lb-1" in got
        notifier.notify("lb-2")
        notifier.notify("lb-3")
        deadline = time.monotonic() + 30
        while not {"lb-2", "lb-3"} <= got and time.monotonic() < deadline:
            got |= listener.wait(0.2)
        assert {"lb-2", "lb-3"} <= got
    finally:
        listener.close()


def test_notify_to_a_dead_database_is_only_a_warning(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.WARNING, logger="hydria"):
        PostgresNotifier("postgresql://postgres@127.0.0.1:1/none").notify("lb-1")  # no raise
    [record] = [r for r in caplog.records if "event=notify_failed" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "lb=lb-1" in record.getMessage() and record.exc_info is not None


def test_sqlite_processes_poll():
    assert isinstance(notifier_for("sqlite:///x.db"), NullNotifier)
