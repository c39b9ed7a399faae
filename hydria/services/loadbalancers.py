"""Load balancers: create (with its VIP, and maybe its children), show, list, update,
delete; the failover action, statistics and the status tree."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import AllocationFailed, Conflict, ImmutableObject, InvalidInput
from hydria.core.resources import LOADBALANCER
from hydria.db import addresses, quotas, stats, status_tree
from hydria.db.models import (
    Amphora,
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    Network,
    Pool,
    Subnet,
)
from hydria.services import catalog, graph, l7policies, views
from hydria.services.context import RequestContext
from hydria.services.lookup import get_lb, get_listener, lb_state_conflict, live
from hydria.services.provider import active_standby_unsupported
from hydria.services.reads import Reads
from hydria.services.shape import lb_full_view, lb_view
from hydria.services.status import view as status_view
from hydria.services.unit import Env, Unit, read, write
from hydria.services.validation import given, refuse_unsupported

READS = Reads(LoadBalancer, LOADBALANCER, views.lbs)


def _subnet_for_vip(session: Session, req: Any) -> Subnet:
    """The subnet the VIP comes from, as Octavia picks it from the request."""
    if req.vip_port_id is not None:
        # Hydria makes the VIP port itself; there are no user ports to adopt.
        raise InvalidInput(f"Port {req.vip_port_id} not found.")
    if req.vip_subnet_id is not None:
        subnet = session.get(Subnet, req.vip_subnet_id)
        if subnet is None:
            raise InvalidInput(f"Subnet {req.vip_subnet_id} not found.")
        if req.vip_network_id is not None and subnet.network_id != req.vip_network_id:
            raise InvalidInput(
                f"Validation failure: Subnet {subnet.id} is not in network {req.vip_network_id}."
            )
        return subnet
    if req.vip_network_id is not None:
        network = session.get(Network, req.vip_network_id)
        if network is None:
            raise InvalidInput(f"Network {req.vip_network_id} not found.")
        subnets = sorted(network.subnets, key=lambda s: (s.ip_version != 4, s.created_at))
        if not subnets:
            raise InvalidInput("Validation failure: Supplied network does not contain a subnet.")
        if req.vip_address is None:
            return subnets[0]
        ip = ipaddress.ip_address(req.vip_address)
        for subnet in subnets:
            if ip in ipaddress.ip_network(subnet.cidr):
                return subnet
        raise InvalidInput(
            "Validation failure: Supplied network does not contain a subnet "
            "for VIP address specified."
        )
    raise InvalidInput(
        "Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id."
    )


_ADDITIONAL_VIP_KEYS = {"subnet_id", "ip_address", "port_id"}


def _additional_vip_subnets(
    session: Session, vip_subnet: Subnet, given: list[Any]
) -> list[tuple[Subnet, str | None]]:
    """Octavia's rules for ``additional_vips``: each names a subnet (and maybe its
    address), one VIP per subnet (the primary's included), every subnet in the
    primary VIP's network."""
    found: list[tuple[Subnet, str | None]] = []
    used = {vip_subnet.id}
    for item in given:
        if not isinstance(item, dict) or not set(item) <= _ADDITIONAL_VIP_KEYS:
            raise InvalidInput(
                "Invalid input for field/attribute additional_vips: each is "
                '{"subnet_id": ..., "ip_address": ...}.'
            )
        if item.get("port_id") is not None:
            raise InvalidInput(f"Port {item['port_id']} not found.")
        subnet_id, address = item.get("subnet_id"), item.get("ip_address")
        if not isinstance(subnet_id, str):
            raise InvalidInput(
                "Invalid input for field/attribute additional_vips: subnet_id is mandatory."
            )
        if address is not None:
            try:
                if not isinstance(address, str):
                    raise ValueError
                address = str(ipaddress.ip_address(address))
            except ValueError:
                raise InvalidInput(
                    f"Invalid input for field/attribute additional_vips: "
                    f"{address!r} is not an IP address."
                ) from None
        if subnet_id in used:
            raise InvalidInput(
                "Validation failure: Duplicate VIP subnet(s) specified. Only "
                "one IP can be bound per subnet."
            )
        used.add(subnet_id)
        subnet = session.get(Subnet, subnet_id)
        if subnet is None:
            raise InvalidInput(f"Validation failure: Subnet {subnet_id} not found")
        if subnet.network_id != vip_subnet.network_id:
            raise InvalidInput(
                "Validation failure: All VIP subnets must belong to the same network."
            )
        found.append((subnet, address))
    return found


def _allocate_vip(session: Session, subnet: Subnet, lb_id: str, wanted: str | None) -> str:
    if wanted is not None:
        ip = ipaddress.ip_address(wanted)
        wanted = str(ip)  # as Neutron's port holds it: one text per address
        net = ipaddress.ip_network(subnet.cidr)
        if ip not in net:
            raise InvalidInput(
                f"Validation failure: VIP address {wanted} is not in subnet "
                f"{subnet.id} ({subnet.cidr})."
            )
        if net.num_addresses > 2 and (
            ip == net.network_address or (net.version == 4 and ip == net.broadcast_address)
        ):
            raise InvalidInput(f"The IP Address {wanted} is invalid.")
        if subnet.gateway_ip and ip == ipaddress.ip_address(subnet.gateway_ip):
            raise Conflict(
                f"The VIP IP address is already in use: {wanted} is the "
                f"gateway of subnet {subnet.id}."
            )
    try:
        return addresses.allocate(
            session,
            subnet.id,
            subnet.allocation_start,
            subnet.allocation_end,
            lb_id,
            address=wanted,
        )
    except Conflict:
        raise Conflict(f"The VIP IP address is already in use: {wanted}") from None
    except AllocationFailed:
        raise InvalidInput(
            "Validation failure: Subnet(s) in the supplied network do not "
            "contain enough available IPs."
        ) from None


def show_loadbalancer(env: Env, ctx: RequestContext, lb_id: str) -> dict[str, Any]:
    row, shown = views.lb_one(env.db, ctx, lb_id)
    if ctx.is_admin:  # a Hydria extension: why the load balancer went to ERROR
        shown["hydria_error_reason"] = row.error_reason
    return shown


def create_loadbalancer(env: Env, ctx: RequestContext, req: Any) -> dict[str, Any]:
    """A new load balancer (``req``: a ``LoadBalancerPOST``), children included."""
    project_id = ctx.owner_for_create(req.project_id)
    if req.provider is not None and req.provider not in c.PROVIDER_ALIASES:
        raise InvalidInput(f"Provider '{req.provider}' is not enabled.")
    refuse_unsupported(req, LOADBALANCER.unsupported())
    plan = graph.plan(req, compute_driver=env.settings.compute_driver)
    # the store is read before the write transaction (the embedded one is in this database)
    graph.check_material(env.secrets, plan, ctx.secret_access(project_id))
    with write(env) as unit:
        session = unit.session
        subnet = _subnet_for_vip(session, req)
        vrrp = env.settings.compute_driver == "netns"
        topology = (
            catalog.check_lb_choices(
                session,
                flavor_id=req.flavor_id,
                availability_zone=req.availability_zone,
                provider=req.provider,
                vrrp=vrrp,
            )
            or env.settings.default_topology
        )
        if topology == c.TOPOLOGY_ACTIVE_STANDBY and not vrrp:
            raise active_standby_unsupported()
        quotas.check_and_reserve(
            session, project_id, quotas.LOAD_BALANCER, defaults=env.quota_defaults
        )
        lb_id = str(uuid.uuid4())
        vip_address = _allocate_vip(session, subnet, lb_id, req.vip_address)
        extra_vips = [
            {"subnet_id": s.id, "ip_address": _allocate_vip(session, s, lb_id, ip)}
            for s, ip in _additional_vip_subnets(session, subnet, req.additional_vips or [])
        ]
        graph.check_families(
            plan,
            [vip_address, *(str(v["ip_address"]) for v in extra_vips)],
            env.settings.compute_driver,
        )
        # the request's columns as the description fills them (as for every child),
        # then what the service decides: the provider, the VIPs as allocated
        values = LOADBALANCER.create_columns(req.model_dump())
        values.update(
            provider=c.PROVIDER_NAME,
            vip_subnet_id=subnet.id,
            vip_network_id=subnet.network_id,
            vip_address=vip_address,
            vip_port_id=str(uuid.uuid4()),
            additional_vips=extra_vips,
        )
        lb = LoadBalancer(
            id=lb_id,
            project_id=project_id,
            provisioning_status=c.PENDING_CREATE,
            operating_status=c.OFFLINE,
            topology=topology,
            **values,
        )
        session.add(lb)
        session.flush()
        listeners, pools = graph.create(session, lb, plan, quota_defaults=env.quota_defaults)
        unit.touch(lb.id)
        return lb_full_view(lb, listeners, pools)


def _lock(unit: Unit, lb: LoadBalancer, to_status: str) -> None:
    try:
        unit.change(lb, to_status)
    except ImmutableObject:
        unit.session.refresh(lb)
        raise lb_state_conflict(lb) from None


def update_loadbalancer(env: Env, ctx: RequestContext, lb_id: str, req: Any) -> dict[str, Any]:
    """``req``: the update body; only the fields the caller sent change."""
    refuse_unsupported(req, LOADBALANCER.update_unsupported())
    changes = LOADBALANCER.update_changes(given(req))
    with write(env) as unit:
        lb = get_lb(unit.session, lb_id, ctx)
        _lock(unit, lb, c.PENDING_UPDATE)
        for name, value in changes.items():
            setattr(lb, name, value)
        unit.session.flush()
        return lb_view(lb)


def delete_loadbalancer(env: Env, ctx: RequestContext, lb_id: str, *, cascade: bool) -> None:
    with write(env) as unit:
        session = unit.session
        lb = get_lb(session, lb_id, ctx)
        if (live(lb.listeners) or live(lb.pools)) and not cascade:
            raise InvalidInput(
                f"Validation failure: Cannot delete Load Balancer {lb_id} - it has children"
            )
        _lock(unit, lb, c.PENDING_DELETE)
        if cascade:
            _mark_children_deleted(session, lb_id)


def _mark_children_deleted(session: Session, lb_id: str) -> None:
    pool_ids = select(Pool.id).where(Pool.load_balancer_id == lb_id)
    rows: list[Any] = []
    rows += session.scalars(select(Listener).where(Listener.load_balancer_id == lb_id))
    rows += session.scalars(select(Pool).where(Pool.load_balancer_id == lb_id))
    rows += session.scalars(select(Member).where(Member.pool_id.in_(pool_ids)))
    rows += session.scalars(select(HealthMonitor).where(HealthMonitor.pool_id.in_(pool_ids)))
    for row in live(rows):
        row.provisioning_status = c.PENDING_DELETE
    l7policies.mark_deleted_with_listener(
        session,
        list(session.scalars(select(Listener.id).where(Listener.load_balancer_id == lb_id))),
    )


def failover(env: Env, ctx: RequestContext, lb_id: str) -> None:
    """A new generation, and every live amphora of it marked for failover."""
    with write(env) as unit:
        lb = get_lb(unit.session, lb_id, ctx)
        _lock(unit, lb, c.PENDING_UPDATE)
        unit.session.execute(
            update(Amphora)
            .where(Amphora.load_balancer_id == lb.id, Amphora.status != c.DELETED)
            .values(failover_requested=True)
            .execution_options(synchronize_session=False)
        )


def loadbalancer_stats(env: Env, ctx: RequestContext, lb_id: str) -> dict[str, Any]:
    with read(env) as session:
        lb = get_lb(session, lb_id, ctx)
        return asdict(stats.loadbalancer_totals(session, lb.id))


def listener_stats(env: Env, ctx: RequestContext, listener_id: str) -> dict[str, Any]:
    with read(env) as session:
        listener = get_listener(session, listener_id, ctx)
        return asdict(stats.listener_totals(session, [listener.id])[listener.id])


def status(env: Env, ctx: RequestContext, lb_id: str) -> dict[str, Any]:
    """The status tree of a load balancer, as Octavia shows it."""
    with read(env) as session:
        return status_view(status_tree.load(session, get_lb(session, lb_id, ctx)))
