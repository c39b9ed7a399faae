"""Hydria: load balancing as a service behind the OpenStack Octavia v2 API.

The package mirrors the pieces of docs/architecture.md: ``api`` (HTTP front),
``controller`` (reconciler), ``health`` (heartbeats), ``housekeeping``,
``agent`` (runs inside an amphora), ``render`` (pure HAProxy config), ``drivers``
(compute, network, certificates, the amphora agent's client), ``db`` (schema,
leases), ``config``, ``wire`` (formats both ends of a wire speak), ``core`` and
``cli``. Imports point down the floors drawn in docs/architecture.md, which
``lint-imports`` checks against pyproject.toml's contracts.
"""

__version__ = "0.1.0"
