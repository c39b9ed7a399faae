"""Prometheus metrics of the reconcile loop (one set per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter("hydria_reconciles", "Reconciles by outcome", ["outcome"])
RECONCILE_SECONDS = Histogram(
    "hydria_reconcile_seconds",
    "Time one reconcile of a load balancer took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
