"""What housekeeping removes, decided by pure functions over plain values.

- Orphan amphorae: an amphora the compute driver still runs whose row is gone
  or DELETED (a controller that died between the two steps of a deletion, or
  a row purged by an operator). The controller writes an amphora's row before
  it asks for the instance, so an instance without a live row is never one
  that is still being created.
- Leaked addresses: an allocation whose owner (load balancer or amphora) is
  gone or DELETED.
- Expired rows: load balancers and amphorae DELETED longer ago than the
  retention time (Octavia's ``load_balancer_expiry_age`` and
  ``amphora_expiry_age``), kept until then so that clients polling a deleted
  load balancer see ``DELETED`` rather than a bare 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping


def orphan_instances(instance_ids: Iterable[str], row_status: Mapping[str, str]) -> list[str]:
    """Instances whose amphora row is missing or DELETED."""
    return sorted(i for i in instance_ids if row_status.get(i, "DELETED") == "DELETED")


def leaked_allocations(
    allocations: Iterable[tuple[str, str, str]], live_owners: set[str]
) -> list[tuple[str, str]]:
    """(pool, address) of allocations whose owner id is not a live object."""
    return sorted((pool, addr) for pool, addr, owner in allocations if owner not in live_owners)


def expired(
    rows: Iterable[tuple[str, dt.datetime | None]], now: dt.datetime, retention: dt.timedelta
) -> list[str]:
    """Ids of DELETED rows last changed before ``now - retention``."""
    cutoff = now - retention
    return sorted(i for i, changed in rows if changed is None or changed < cutoff)
