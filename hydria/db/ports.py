"""An amphora's ports on subnets: which subnets, and its own address on each.

For network drivers that plug real ports (``netns``), an amphora has an
address of its own on the VIP subnet (Octavia's ``vrrp_ip``) and on every
subnet its members live on (Octavia's "plug network"). The addresses are
allocations in the subnet's pool owned by the amphora, so they are freed with
it (``amphorae.mark_amphora_deleted``) or by the leaked-address sweep.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.db import addresses
from hydria.db.models import AddressAllocation, Member, Pool, Subnet


def port_address(session: Session, amphora_id: str, subnet: Subnet) -> str:
    """The amphora's address on ``subnet``: the one it has, else a new one."""
    have = session.scalar(
        select(AddressAllocation.address).where(
            AddressAllocation.pool == subnet.id, AddressAllocation.owner_id == amphora_id
        )
    )
    if have is not None:
        return have
    return addresses.allocate(
        session, subnet.id, subnet.allocation_start, subnet.allocation_end, amphora_id
    )


def member_subnets(session: Session, lb_id: str, vip_subnet_id: str | None) -> list[Subnet]:
    """Subnets other than the VIP's that members of ``lb_id`` live on.

    A member's ``subnet_id`` names it; a member without one is on the subnet
    whose CIDR holds its address, if Hydria knows one.
    """
    rows = session.execute(
        select(Member.subnet_id, Member.address)
        .join(Pool, Member.pool_id == Pool.id)
        .where(
            Pool.load_balancer_id == lb_id,
            Member.provisioning_status != c.PENDING_DELETE,
            Pool.provisioning_status != c.PENDING_DELETE,
        )
    ).all()
    subnets = list(session.scalars(select(Subnet)))
    by_id = {s.id: s for s in subnets}
    nets = [(ipaddress.ip_network(s.cidr, strict=False), s) for s in subnets]
    wanted: dict[str, Subnet] = {}
    for subnet_id, address in rows:
        subnet = by_id.get(subnet_id) if subnet_id else None
        if subnet is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                continue
            subnet = next((s for net, s in nets if ip.version == net.version and ip in net), None)
        if subnet is not None and subnet.id != vip_subnet_id:
            wanted[subnet.id] = subnet
    return sorted(wanted.values(), key=lambda s: s.id)


def release_other_ports(session: Session, amphora_id: str, keep: set[str]) -> None:
    """Free the amphora's addresses on subnets it no longer has a port on."""
    session.execute(
        delete(AddressAllocation).where(
            AddressAllocation.owner_id == amphora_id,
            AddressAllocation.pool.not_in(keep),
            AddressAllocation.pool != addresses.MGMT_POOL,
        )
    )
