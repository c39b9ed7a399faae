"""The failure detector's rules, as a table: no clock, no database."""

import datetime as dt

import pytest

from hydria.health.detect import Decision, Observed, decide, last_seen

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
T = 3.0  # heartbeat_timeout


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


def amp(name: str, heard: float | None, *, touched: float = 600, marked: bool = False) -> Observed:
    """``heard``/``touched``: seconds since the last heartbeat / (re)boot of the row."""
    return Observed(name, None if heard is None else ago(heard), ago(touched), marked)


def fleet(n: int, heard: float = 0.2) -> list[Observed]:
    return [amp(f"ok{i}", heard) for i in range(n)]


@pytest.mark.parametrize(
    ("observed", "failover", "silent", "storm"),
    [
        pytest.param([], (), (), False, id="no-fleet"),
        pytest.param(fleet(3), (), (), False, id="all-heard"),
        pytest.param([amp("a", 3.5)], ("a",), ("a",), False, id="one-silent"),
        pytest.param([amp("a", 3.0)], (), (), False, id="exactly-timeout-is-not-silent"),
        pytest.param([amp("a", 3.5, marked=True)], (), ("a",), False, id="already-marked"),
        # never heard: judged from its boot (the grace period of a new amphora)
        pytest.param([amp("a", None, touched=2)], (), (), False, id="new-in-grace"),
        pytest.param([amp("a", None, touched=4)], ("a",), ("a",), False, id="new-never-spoke"),
        # an old heartbeat but rebooted since (the controller restarted it): grace again
        pytest.param([amp("a", 100, touched=1)], (), (), False, id="restarted-in-grace"),
        # small fleets are never a storm, whatever the share
        pytest.param(
            [amp("a", 9), amp("b", 9), amp("c", 9)],
            ("a", "b", "c"),
            ("a", "b", "c"),
            False,
            id="small-fleet-all-silent",
        ),
        # fleet of 4: half silent is not "more than half"
        pytest.param(
            [amp("a", 9), amp("b", 9), *fleet(2)],
            ("a", "b"),
            ("a", "b"),
            False,
            id="half-is-not-a-storm",
        ),
        pytest.param(
            [amp("a", 9), amp("b", 9), amp("c", 9), *fleet(1)],
            (),
            ("a", "b", "c"),
            True,
            id="storm-3-of-4",
        ),
        pytest.param(
            [amp("a", 9), amp("b", 9), amp("c", 9, marked=True), *fleet(1)],
            (),
            ("a", "b", "c"),
            True,
            id="storm-counts-marked-ones",
        ),
        # heartbeats stopped for everyone, but the first crossed the timeout first:
        # the others are already quiet (over half the timeout), so it is a storm
        pytest.param(
            [amp("a", 3.2), amp("b", 2.4), amp("c", 1.8), *fleet(1)],
            (),
            ("a",),
            True,
            id="storm-seen-early",
        ),
        # quiet but nobody silent yet: nothing to hold back, no alarm
        pytest.param(
            [amp("a", 2.9), amp("b", 2.4), amp("c", 1.8), *fleet(1)],
            (),
            (),
            False,
            id="quiet-without-silent",
        ),
        pytest.param(
            [amp("a", 3.2), amp("b", 1.2), *fleet(8, heard=1.0)],
            ("a",),
            ("a",),
            False,
            id="healthy-intervals-are-not-quiet",
        ),
    ],
)
def test_decide(observed, failover, silent, storm):
    d = decide(NOW, observed, timeout=T, threshold=0.5, min_fleet=4)
    assert (d.failover, d.silent, d.storm, d.fleet) == (failover, silent, storm, len(observed))


def test_a_fresh_detector_waits_a_timeout_before_judging():
    observed = [amp("a", 100), amp("b", None, touched=100)]
    assert (
        decide(NOW, observed, timeout=T, threshold=0.5, min_fleet=4, watching_since=ago(1)).failover
        == ()
    )
    assert decide(
        NOW, observed, timeout=T, threshold=0.5, min_fleet=4, watching_since=ago(4)
    ).failover == ("a", "b")


@pytest.mark.parametrize(
    ("threshold", "min_fleet", "storm"),
    [(0.5, 4, True), (0.75, 4, False), (0.5, 5, False), (0.0, 1, True)],
)
def test_threshold_and_min_fleet(threshold, min_fleet, storm):
    observed = [amp("a", 9), amp("b", 9), amp("c", 9), *fleet(1)]
    d = decide(NOW, observed, timeout=T, threshold=threshold, min_fleet=min_fleet)
    assert d.storm is storm
    assert d.failover == (() if storm else ("a", "b", "c"))


def test_last_seen_is_the_latest_sign_of_life():
    o = amp("a", 5, touched=10)
    assert last_seen(o) == ago(5)
    assert last_seen(o, ago(2)) == ago(2)
    assert last_seen(amp("a", None, touched=10)) == ago(10)
    assert isinstance(decide(NOW, [o], timeout=T, threshold=0.5, min_fleet=4), Decision)


def test_next_silence_is_the_earliest_crossing_of_those_still_heard():
    observed = [amp("a", 9), amp("b", 2.5), amp("c", 0.5), amp("d", None, touched=1)]
    d = decide(NOW, observed, timeout=T, threshold=0.5, min_fleet=10)
    assert d.failover == ("a",)
    assert d.next_silence == ago(2.5) + dt.timedelta(seconds=T)  # b, in 0.5 s
    assert decide(NOW, [amp("a", 9)], timeout=T, threshold=0.5, min_fleet=4).next_silence is None
