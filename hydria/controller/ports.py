"""Which ports an amphora should have: Octavia's "plug network" step, decided.

A driver that plugs real ports (netns) gives the amphora an address of its own
on the VIP subnet, on each additional VIP's subnet and on each subnet a member
of the load balancer lives on. This module reads those from the database
(reserving each address before the plug, so a retry finds the same one); the
reconciler then plugs them and releases the rest. Kept apart from the
reconciler because it is one question with one answer, and the reconciler is
the order of the steps, not their detail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hydria.db import ports
from hydria.db.models import LoadBalancer, Subnet
from hydria.drivers.network.base import SubnetPort


@dataclass(frozen=True)
class PortPlan:
    """The ports of one amphora, each with its own address on its subnet."""

    vip: SubnetPort
    #: additional VIPs (dual stack): (the VIP address, the amphora's port beside it)
    extra: tuple[tuple[str, SubnetPort], ...]
    #: member subnets that neither the VIP nor an additional VIP already reaches
    members: tuple[SubnetPort, ...]

    def subnet_ids(self) -> set[str]:
        """Every subnet this amphora keeps a port on (the others are released)."""
        return {
            self.vip.subnet_id,
            *(m.subnet_id for m in self.members),
            *(p.subnet_id for _ip, p in self.extra),
        }


def vip_subnet_of(session: Session, subnet_id: str | None) -> SubnetPort:
    """A load balancer's VIP subnet, without an address of the amphora's yet."""
    subnet = session.get(Subnet, subnet_id) if subnet_id else None
    return SubnetPort(subnet.id, subnet.cidr) if subnet is not None else SubnetPort("", "")


def _port(session: Session, amp_id: str, subnet: Subnet) -> SubnetPort:
    return SubnetPort(subnet.id, subnet.cidr, ports.port_address(session, amp_id, subnet))


def plan_ports(
    session: Session, amp_id: str, lb_row: LoadBalancer | None, vip_subnet: SubnetPort
) -> PortPlan:
    """The ports ``amp_id`` should have for ``lb_row``, addresses reserved."""
    subnet = session.get(Subnet, vip_subnet.subnet_id) if vip_subnet.subnet_id else None
    vip = _port(session, amp_id, subnet) if subnet is not None else vip_subnet
    extra: list[tuple[str, SubnetPort]] = []
    for item in (lb_row.additional_vips or []) if lb_row is not None else []:
        extra_subnet = session.get(Subnet, item["subnet_id"])
        if extra_subnet is not None:
            extra.append((str(item["ip_address"]), _port(session, amp_id, extra_subnet)))
    taken = {vip.subnet_id, *(p.subnet_id for _ip, p in extra)}
    lb_id = lb_row.id if lb_row is not None else ""
    members = tuple(
        _port(session, amp_id, s)
        for s in ports.member_subnets(session, lb_id, subnet.id if subnet else None)
        if s.id not in taken
    )
    return PortPlan(vip, tuple(extra), members)
