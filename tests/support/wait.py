"""Wait for a condition, not for a time.

A test that sleeps a fixed time either wastes it or, on a busy machine, does not
wait long enough. ``wait_for`` polls a condition with a generous deadline and
returns as soon as it holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    check: Callable[[], T],
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.02,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something true and return it.

    Fails with ``what`` (and ``details()``, e.g. a log tail) after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"not true within {timeout:g} s: {what}{extra}")
        time.sleep(interval)
