"""The health counters reach Prometheus at scrape time."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from hydria.health.counters import Counters
from hydria.health.metrics import track


def _value(kind: str) -> float:
    return REGISTRY.get_sample_value("hydria_health_heartbeats_total", {"kind": kind}) or 0.0


def test_counters_are_summed_over_live_services_when_scraped():
    before = _value("bad_signature")
    a, b = Counters(), Counters()
    track(a)
    track(b)
    track(a)  # tracking twice counts once
    a.add("bad_signature", 3)
    b.add("bad_signature")
    assert _value("bad_signature") == before + 4
    assert b'hydria_health_heartbeats_total{kind="recorded"}' in generate_latest(REGISTRY)
