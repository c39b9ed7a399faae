"""VIP subnets and their networks: operator data that VIP addresses come from.

Each subnet lives in a network of its own unless a network name is given
(the Neutron-compatible read API shows both). A subnet's allocation range
defaults to the CIDR minus the network address, the gateway (the first host
unless given) and the broadcast address. A subnet with allocated VIPs cannot
be deleted; deleting the last subnet of a network deletes the network too.

A new subnet may not overlap another one (two load balancers could otherwise
get the same VIP and port, and traffic would leak between them) nor the
management range amphorae take their addresses from: both are a 409 that names
what it overlaps. IPv6 subnets need the ``netns`` network driver (``ipv6=True``),
where each subnet is a bridge of its own, or ``noop``, which plumbs nothing
(``Settings.ipv6_subnets``); the ``local`` network driver has only the one IPv6
loopback address, so there an IPv6 subnet is refused (400).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hydria.core.errors import Conflict, InvalidInput, NotFound
from hydria.db.engine import Database
from hydria.db.models import AddressAllocation, Network, Subnet


def _hosts_range(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, gateway: str | None
) -> tuple[str, str]:
    """The usable host addresses of ``net``, minus the gateway if it is the first."""
    first, last = net.network_address, net.broadcast_address
    if net.num_addresses > 2:
        first = first + 1
        if net.version == 4:
            last = last - 1
    if gateway is not None and ipaddress.ip_address(gateway) == first and int(first) < int(last):
        first = first + 1
    return str(first), str(last)


MgmtRange = tuple[str, str]


def check_new_subnet(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network,
    existing: Iterable[tuple[str, str]],
    *,
    mgmt_range: MgmtRange | None = None,
    ipv6: bool = False,
) -> None:
    """Pure: refuse ``net`` if it is IPv6 and ``ipv6`` is not allowed (400), or
    overlaps one of ``existing`` ((name, cidr) pairs) or the management range
    ``(first, last)`` (409)."""
    if net.version != 4 and not ipv6:
        raise InvalidInput(
            f"IPv6 subnets are not supported yet ({net}) by the local network "
            "driver, which serves IPv4 VIPs only: use --driver netns."
        )
    for other_name, other_cidr in existing:
        other = ipaddress.ip_network(other_cidr, strict=False)
        if other.version == net.version and net.overlaps(other):
            raise Conflict(
                f"Subnet {net} overlaps subnet {other_name!r} ({other}): two load "
                "balancers could get the same VIP."
            )
    if mgmt_range is not None:
        first, last = (ipaddress.ip_address(a) for a in mgmt_range)
        if first.version == net.version and (
            int(net.network_address) <= int(last) and int(net.broadcast_address) >= int(first)
        ):
            raise Conflict(
                f"Subnet {net} overlaps the management range {first} - {last} "
                "that amphorae take their addresses from."
            )


def create_subnet(
    session: Session,
    name: str,
    cidr: str,
    *,
    network_name: str | None = None,
    gateway: str | None = None,
    start: str | None = None,
    end: str | None = None,
    project_id: str = "",
    mgmt_range: MgmtRange | None = None,
    ipv6: bool = False,
) -> Subnet:
    """Create a subnet (and its network, unless one named ``network_name`` exists).

    ``mgmt_range`` is the management address range (settings) a subnet must keep
    clear of; see ``check_new_subnet``.
    """
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise InvalidInput(f"Invalid CIDR {cidr!r}.") from None
    if net.num_addresses < 2:
        raise InvalidInput(f"CIDR {net} is too small to hold addresses.")
    if session.scalar(select(Subnet).where(Subnet.name == name)) is not None:
        raise Conflict(f"A subnet named {name!r} already exists.")
    check_new_subnet(
        net,
        session.execute(select(Subnet.name, Subnet.cidr)).tuples(),
        mgmt_range=mgmt_range,
        ipv6=ipv6,
    )

    def inside(label: str, value: str) -> str:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise InvalidInput(f"Invalid {label} address {value!r}.") from None
        if ip not in net:
            raise InvalidInput(f"The {label} address {ip} is not in {net}.")
        return str(ip)

    if gateway is None and net.num_addresses > 2:
        gateway = str(net.network_address + 1)
    elif gateway is not None:
        gateway = inside("gateway", gateway)
    first, last = _hosts_range(net, gateway)
    start = inside("allocation start", start) if start is not None else first
    end = inside("allocation end", end) if end is not None else last
    if int(ipaddress.ip_address(start)) > int(ipaddress.ip_address(end)):
        raise InvalidInput(f"The allocation range {start} - {end} is empty.")

    network = None
    if network_name is not None:
        network = session.scalar(select(Network).where(Network.name == network_name))
    if network is None:
        network = Network(id=str(uuid.uuid4()), name=network_name or name, project_id=project_id)
        session.add(network)
        session.flush()
    subnet = Subnet(
        id=str(uuid.uuid4()),
        name=name,
        network_id=network.id,
        project_id=project_id,
        cidr=str(net),
        ip_version=net.version,
        gateway_ip=gateway,
        allocation_start=start,
        allocation_end=end,
    )
    session.add(subnet)
    session.flush()
    return subnet


def list_subnets(session: Session) -> list[Subnet]:
    return list(session.scalars(select(Subnet).order_by(Subnet.created_at, Subnet.id)))


def find_subnet(session: Session, name_or_id: str) -> Subnet:
    subnet = session.get(Subnet, name_or_id)
    if subnet is not None:
        return subnet
    matches = list(session.scalars(select(Subnet).where(Subnet.name == name_or_id)))
    if not matches:
        raise NotFound.of("Subnet", name_or_id)
    if len(matches) > 1:
        raise Conflict(f"More than one subnet is named {name_or_id!r}; use its id.")
    return matches[0]


def allocated_count(session: Session, subnet_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AddressAllocation)
            .where(AddressAllocation.pool == subnet_id)
        )
        or 0
    )


def delete_subnet(session: Session, name_or_id: str) -> Subnet:
    """Delete a subnet with no allocated address (and its network if now empty)."""
    subnet = find_subnet(session, name_or_id)
    used = allocated_count(session, subnet.id)
    if used:
        raise Conflict(
            f"Subnet {subnet.name or subnet.id} has {used} allocated "
            "address(es); delete the load balancers using it first."
        )
    network = subnet.network
    session.delete(subnet)
    session.flush()
    if network is not None and not session.scalar(
        select(func.count()).select_from(Subnet).where(Subnet.network_id == network.id)
    ):
        session.delete(network)
    return subnet


def ensure_default_subnet(
    db: Database, name: str, cidr: str, *, mgmt_range: MgmtRange | None = None
) -> Subnet:
    """The subnet ``name``, created with ``cidr`` if it does not exist (idempotent)."""
    with db.session() as session:
        existing = session.scalar(select(Subnet).where(Subnet.name == name))
        if existing is not None:
            return existing
        return create_subnet(session, name, cidr, mgmt_range=mgmt_range)
