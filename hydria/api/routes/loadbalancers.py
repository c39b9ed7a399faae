"""/lbaas/loadbalancers: create (with its VIP, and maybe its children), show, list,
update, delete. A create with nested listeners and pools is ``lb_graph``'s."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hydria.api import catalog
from hydria.api.deps import DB, Config, Ctx, JsonBody, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import get_lb, lb_state_conflict, read, write
from hydria.api.routes import lb_graph
from hydria.api.schemas.loadbalancer import LoadBalancerPOST, LoadBalancerPUT, full_view, view
from hydria.api.validation import given, parse, truthy, unsupported
from hydria.config import Settings
from hydria.core import constants as c
from hydria.core.errors import (
    AllocationFailed,
    Conflict,
    ImmutableObject,
    InvalidInput,
    NotImplementedHere,
)
from hydria.db import addresses, quotas
from hydria.db.models import HealthMonitor, Listener, LoadBalancer, Member, Network, Pool, Subnet

router = APIRouter()
PATH = "/lbaas/loadbalancers"

FILTERS = {name: getattr(LoadBalancer, name) for name in (
    "id", "name", "description", "provisioning_status", "operating_status",
    "admin_state_up", "vip_address", "vip_port_id", "vip_subnet_id", "vip_network_id",
    "vip_qos_policy_id", "provider", "flavor_id", "availability_zone")}


def _subnet_for_vip(session: Session, req: LoadBalancerPOST) -> Subnet:
    """The subnet the VIP comes from, as Octavia picks it from the request."""
    if req.vip_port_id is not None:
        # Hydria makes the VIP port itself; there are no user ports to adopt.
        raise InvalidInput(f"Port {req.vip_port_id} not found.")
    if req.vip_subnet_id is not None:
        subnet = session.get(Subnet, req.vip_subnet_id)
        if subnet is None:
            raise InvalidInput(f"Subnet {req.vip_subnet_id} not found.")
        if req.vip_network_id is not None and subnet.network_id != req.vip_network_id:
            raise InvalidInput(f"Validation failure: Subnet {subnet.id} is not in network "
                               f"{req.vip_network_id}.")
        return subnet
    if req.vip_network_id is not None:
        network = session.get(Network, req.vip_network_id)
        if network is None:
            raise InvalidInput(f"Network {req.vip_network_id} not found.")
        subnets = sorted(network.subnets, key=lambda s: (s.ip_version != 4, s.created_at))
        if not subnets:
            raise InvalidInput("Validation failure: Supplied network does not contain a "
                               "subnet.")
        if req.vip_address is None:
            return subnets[0]
        ip = ipaddress.ip_address(req.vip_address)
        for subnet in subnets:
            if ip in ipaddress.ip_network(subnet.cidr):
                return subnet
        raise InvalidInput("Validation failure: Supplied network does not contain a subnet "
                           "for VIP address specified.")
    raise InvalidInput("Validation failure: VIP must contain one of: vip_port_id, "
                       "vip_network_id, vip_subnet_id.")


def _allocate_vip(session: Session, subnet: Subnet, lb_id: str, wanted: str | None) -> str:
    if wanted is not None:
        ip = ipaddress.ip_address(wanted)
        net = ipaddress.ip_network(subnet.cidr)
        if ip not in net:
            raise InvalidInput(f"Validation failure: VIP address {wanted} is not in subnet "
                               f"{subnet.id} ({subnet.cidr}).")
        if net.num_addresses > 2 and (ip == net.network_address or (
                net.version == 4 and ip == net.broadcast_address)):
            raise InvalidInput(f"The IP Address {wanted} is invalid.")
        if subnet.gateway_ip and ip == ipaddress.ip_address(subnet.gateway_ip):
            raise Conflict(f"The VIP IP address is already in use: {wanted} is the "
                           f"gateway of subnet {subnet.id}.")
    try:
        return addresses.allocate(session, subnet.id, subnet.allocation_start,
                                  subnet.allocation_end, lb_id, address=wanted)
    except Conflict:
        raise Conflict(f"The VIP IP address is already in use: {wanted}") from None
    except AllocationFailed:
        raise InvalidInput("Validation failure: Subnet(s) in the supplied network do not "
                           "contain enough available IPs.") from None


def _refuse_unsupported(req: LoadBalancerPOST) -> None:
    if req.provider is not None and req.provider not in c.PROVIDER_ALIASES:
        raise InvalidInput(f"Provider '{req.provider}' is not enabled.")
    if req.vip_qos_policy_id is not None:
        raise unsupported("vip_qos_policy_id")
    if req.vip_sg_ids:
        raise unsupported("vip_sg_ids")
    if req.additional_vips:
        raise unsupported("additional_vips")


def _topology(session: Session, flavor_id: str | None, settings: Settings) -> str:
    """The flavor's ``loadbalancer_topology``, else the configured default;
    ACTIVE_STANDBY needs amphorae with networks of their own (``netns``)."""
    topology = catalog.flavor_topology(session, flavor_id) or settings.default_topology
    if topology == c.TOPOLOGY_ACTIVE_STANDBY and settings.compute_driver != "netns":
        raise NotImplementedHere(
            f"Provider '{c.PROVIDER_NAME}' does not support a requested option: "
            "loadbalancer_topology ACTIVE_STANDBY needs amphorae on networks of their own: "
            "run Hydria with --driver netns (HYDRIA_COMPUTE_DRIVER=netns).")
    return topology


WITH_CHILDREN = (selectinload(LoadBalancer.listeners), selectinload(LoadBalancer.pools))


@router.get(PATH)
def list_loadbalancers(request: Request, ctx: Ctx,
                       db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(LoadBalancer).options(*WITH_CHILDREN),
                         LoadBalancer, ctx=ctx, filters=FILTERS, render=view)
    return {"loadbalancers": page.items, "loadbalancers_links": page.links}


@router.get(PATH + "/{lb_id}")
def show_loadbalancer(lb_id: str, request: Request, ctx: Ctx,
                      db: DB) -> dict[str, Any]:
    with read(db) as session:
        lb = get_lb(session, lb_id, ctx)
        shown = view(lb)
        if ctx.is_admin:  # a Hydria extension: why the load balancer went to ERROR
            shown["hydria_error_reason"] = lb.error_reason
        return {"loadbalancer": select_fields(shown, fields_param(request))}


@router.post(PATH, status_code=201)
def create_loadbalancer(body: JsonBody,
                        ctx: Ctx,
                        db: DB,
                        notifier: Notify,
                        settings: Config) -> dict[str, Any]:
    req = parse(body, "loadbalancer", LoadBalancerPOST, nulls_are_unset=True)
    project_id = ctx.owner_for_create(req.project_id)
    _refuse_unsupported(req)
    graph = lb_graph.plan(req)
    with write(db, notifier) as unit:
        session = unit.session
        subnet = _subnet_for_vip(session, req)
        catalog.check_lb_choices(session, flavor_id=req.flavor_id,
                                 availability_zone=req.availability_zone, provider=req.provider)
        topology = _topology(session, req.flavor_id, settings)
        quotas.check_and_reserve(session, project_id, quotas.LOAD_BALANCER,
                                 defaults=settings.quota_defaults)
        lb_id = str(uuid.uuid4())
        vip_address = _allocate_vip(session, subnet, lb_id, req.vip_address)
        lb = LoadBalancer(
            id=lb_id, project_id=project_id, name=req.name,
            description=req.description, admin_state_up=req.admin_state_up,
            provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE,
            topology=topology, provider=c.PROVIDER_NAME,
            vip_subnet_id=subnet.id, vip_network_id=subnet.network_id,
            vip_address=vip_address, vip_port_id=str(uuid.uuid4()), tags=list(req.tags or []),
            flavor_id=req.flavor_id, availability_zone=req.availability_zone)
        session.add(lb)
        session.flush()
        listeners, pools = lb_graph.create(session, lb, graph,
                                           quota_defaults=settings.quota_defaults)
        unit.touched.append(lb.id)
        return {"loadbalancer": full_view(lb, listeners, pools)}


@router.put(PATH + "/{lb_id}")
def update_loadbalancer(lb_id: str, body: JsonBody,
                        ctx: Ctx,
                        db: DB,
                        notifier: Notify) -> dict[str, Any]:
    req = parse(body, "loadbalancer", LoadBalancerPUT, nulls_are_unset=False)
    if req.vip_qos_policy_id is not None:
        raise unsupported("vip_qos_policy_id")
    if req.vip_sg_ids:
        raise unsupported("vip_sg_ids")
    changes = given(req)
    changes.pop("vip_qos_policy_id", None)
    changes.pop("vip_sg_ids", None)
    if changes.get("admin_state_up", True) is None:
        del changes["admin_state_up"]
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    with write(db, notifier) as unit:
        lb = get_lb(unit.session, lb_id, ctx)
        _lock(unit, lb, c.PENDING_UPDATE)
        for name, value in changes.items():
            setattr(lb, name, value)
        unit.session.flush()
        return {"loadbalancer": view(lb)}


def _lock(unit: Any, lb: LoadBalancer, to_status: str) -> None:
    try:
        unit.change(lb, to_status)
    except ImmutableObject:
        unit.session.refresh(lb)
        raise lb_state_conflict(lb) from None


@router.delete(PATH + "/{lb_id}", status_code=204)
def delete_loadbalancer(lb_id: str, request: Request,
                        ctx: Ctx,
                        db: DB,
                        notifier: Notify) -> Response:
    cascade = truthy(request.query_params.get("cascade"))
    with write(db, notifier) as unit:
        session = unit.session
        lb = get_lb(session, lb_id, ctx)
        listeners = [li for li in lb.listeners if li.provisioning_status != c.DELETED]
        pools = [p for p in lb.pools if p.provisioning_status != c.DELETED]
        if (listeners or pools) and not cascade:
            raise InvalidInput(f"Validation failure: Cannot delete Load Balancer {lb_id} - "
                               "it has children")
        _lock(unit, lb, c.PENDING_DELETE)
        if cascade:
            _mark_children_deleted(session, lb_id)
    return Response(status_code=204)


def _mark_children_deleted(session: Session, lb_id: str) -> None:
    pool_ids = select(Pool.id).where(Pool.load_balancer_id == lb_id)
    rows: list[Any] = []
    rows += session.scalars(select(Listener).where(Listener.load_balancer_id == lb_id))
    rows += session.scalars(select(Pool).where(Pool.load_balancer_id == lb_id))
    rows += session.scalars(select(Member).where(Member.pool_id.in_(pool_ids)))
    rows += session.scalars(select(HealthMonitor).where(HealthMonitor.pool_id.in_(pool_ids)))
    for row in rows:
        if row.provisioning_status != c.DELETED:
            row.provisioning_status = c.PENDING_DELETE
