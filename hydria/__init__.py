"""Hydria: load balancing as a service behind the OpenStack Octavia v2 API.

The package mirrors the pieces of docs/architecture.md: ``api`` (HTTP front),
``controller`` (reconciler), ``health`` (heartbeats), ``housekeeping``,
``agent`` (runs inside an amphora), ``render`` (pure HAProxy config), ``drivers``
(compute, network, certificates), ``db`` (schema, leases) and ``cli``.
Imports point one way: cli -> services -> db/render/drivers -> core.
"""

__version__ = "0.1.0"
