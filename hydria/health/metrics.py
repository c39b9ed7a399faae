"""The health manager's counters for Prometheus, read at scrape time.

The hot path keeps its plain integers (``counters.py``); a collector sums the
counters of every live health service in this process when scraped, so
``hydria_health_heartbeats_total{kind="bad_signature"}`` and friends cost
nothing between scrapes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from hydria.health.counters import KINDS, Counters

_live: weakref.WeakSet[Counters] = weakref.WeakSet()
_registered = False
_lock = threading.Lock()


class _HealthCollector(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "hydria_health_heartbeats",
            "Heartbeat packets by what the health manager did with them "
            "(received, recorded, or why they were rejected)",
            labels=["kind"],
        )
        totals = dict.fromkeys(KINDS, 0)
        for counters in list(_live):
            for kind, value in counters.snapshot().items():
                totals[kind] = totals.get(kind, 0) + value
        for kind, value in totals.items():
            family.add_metric([kind], value)
        yield family


def track(counters: Counters) -> None:
    """Export ``counters`` (registering the collector on first use)."""
    global _registered
    with _lock:
        if not _registered:
            REGISTRY.register(_HealthCollector())
            _registered = True
        _live.add(counters)
