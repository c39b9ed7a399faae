"""Hand out addresses from a range, never the same one twice.

Used for VIPs (the pool is the subnet id) and for amphora management addresses
(the pool is ``lb-mgmt``). The primary key of ``address_allocations`` is the
guarantee; the scan below only finds a candidate, so two processes racing for
the same address end with one winner and one retry.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.core.errors import AllocationFailed, Conflict
from hydria.db.models import AddressAllocation

MGMT_POOL = "lb-mgmt"


def _range(start: str, end: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
    return first, int(last) - int(first) + 1


def allocate(
    session: Session, pool: str, start: str, end: str, owner_id: str, *, address: str | None = None
) -> str:
    """Reserve ``address`` (or the first free one in ``start..end``) for ``owner_id``.

    Runs inside the caller's transaction, in a savepoint, so a lost race only
    rolls back this step.
    """
    first, size = _range(start, end)
    if address is not None:
        try:
            with session.begin_nested():
                session.add(AddressAllocation(pool=pool, address=address, owner_id=owner_id))
        except IntegrityError:
            raise Conflict(f"IP address {address} is already allocated.") from None
        return address
    lost: set[str] = set()
    while True:
        # Re-read what is taken after every lost race: other writers keep committing.
        used = (
            set(
                session.scalars(
                    select(AddressAllocation.address).where(AddressAllocation.pool == pool)
                )
            )
            | lost
        )
        candidates = []
        for offset in range(size):
            cand = str(first + offset)
            if cand not in used:
                candidates.append(cand)
            if len(candidates) >= 8:
                break
        if not candidates:
            raise AllocationFailed(f"No free address left in {pool} ({start} - {end}).")
        for cand in candidates:
            try:
                with session.begin_nested():
                    session.add(AddressAllocation(pool=pool, address=cand, owner_id=owner_id))
            except IntegrityError:
                lost.add(cand)
                continue
            return cand


def release(session: Session, owner_id: str, *, pool: str | None = None) -> None:
    stmt = delete(AddressAllocation).where(AddressAllocation.owner_id == owner_id)
    if pool is not None:
        stmt = stmt.where(AddressAllocation.pool == pool)
    session.execute(stmt)
