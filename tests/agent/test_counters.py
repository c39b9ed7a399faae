"""Listener counters folded across HAProxy workers (pure ``fold`` and its store)."""

from __future__ import annotations

from pathlib import Path

from hydria.agent.counters import CounterStore, FoldState, fold
from hydria.agent.haproxy import parse_info_and_stat


def _rows(stot: int, bin_: int = 0, scur: int = 0, lid: str = "lst-1") -> list[dict[str, str]]:
    return [
        {
            "pxname": lid,
            "svname": "FRONTEND",
            "stot": str(stot),
            "bin": str(bin_),
            "bout": "0",
            "ereq": "0",
            "scur": str(scur),
        },
        {"pxname": "pool-1", "svname": "BACKEND", "stot": "999", "bin": "999"},
    ]


def _stot(rows: list[dict[str, str]], lid: str = "lst-1") -> int:
    return int(next(r for r in rows if r["pxname"] == lid and r["svname"] == "FRONTEND")["stot"])


def test_a_new_worker_adds_to_what_the_old_ones_counted() -> None:
    state = FoldState()
    state, out = fold(state, 100, _rows(5, 50))
    assert _stot(out) == 5
    state, out = fold(state, 100, _rows(8, 80))
    assert _stot(out) == 8
    state, out = fold(state, 200, _rows(0))  # reloaded: the new worker starts from zero
    assert _stot(out) == 8
    state, out = fold(state, 200, _rows(3, 30, scur=2))
    assert _stot(out) == 11 and out[0]["bin"] == "110"
    assert out[0]["scur"] == "2", "active connections are a gauge, never added up"
    assert out[1]["stot"] == "999", "only frontends (listeners) are folded"
    state, out = fold(state, 300, _rows(1))
    assert _stot(out) == 12


def test_a_counter_that_goes_down_under_the_same_pid_is_a_restart() -> None:
    state, _ = fold(FoldState(), 100, _rows(9))
    state, out = fold(state, 100, _rows(2))
    assert _stot(out) == 11


def test_no_answer_changes_nothing() -> None:
    state, _ = fold(FoldState(), 100, _rows(4))
    same, out = fold(state, None, [])
    assert same == state and out == []


def test_a_listener_added_later_starts_from_its_own_zero() -> None:
    state, _ = fold(FoldState(), 100, _rows(4))
    rows = _rows(4) + _rows(1, lid="lst-2")
    state, out = fold(state, 100, rows)
    assert (_stot(out), _stot(out, "lst-2")) == (4, 1)
    state, out = fold(state, 101, _rows(0) + _rows(0, lid="lst-2"))
    assert (_stot(out), _stot(out, "lst-2")) == (4, 1)


def test_the_store_survives_an_agent_restart(tmp_path: Path) -> None:
    path = tmp_path / "counters.json"
    CounterStore(path).observe(100, _rows(6))
    # the agent restarts, and so did HAProxy meanwhile
    assert _stot(CounterStore(path).observe(200, _rows(1))) == 7
    assert _stot(CounterStore(path).observe(200, _rows(2))) == 8
    assert path.stat().st_mode & 0o777 == 0o600


def test_parse_info_and_stat() -> None:
    text = "Name: HAProxy\nPid: 4242\nUptime_sec: 1\n\n# pxname,svname,stot\nlst-1,FRONTEND,3\n\n"
    assert parse_info_and_stat(text) == (
        4242,
        [{"pxname": "lst-1", "svname": "FRONTEND", "stot": "3"}],
    )
    assert parse_info_and_stat("") == (None, [])
