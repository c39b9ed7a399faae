"""``hydria.core.procs.lock_held``: how both compute drivers tell a running agent."""

from __future__ import annotations

import fcntl
from pathlib import Path

from hydria.core.procs import lock_held


def test_a_lock_is_held_only_while_someone_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "agent.lock"
    assert lock_held(path) is False  # no file: no agent ever ran
    path.touch()
    assert lock_held(path) is False
    with open(path, "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert lock_held(path) is True
        assert lock_held(path) is True  # looking does not take it away
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert lock_held(path) is False
