"""/lbaas/listeners: a protocol and port on a load balancer's VIP."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hydria.api.deps import DB, Config, Ctx, JsonBody, Notify
from hydria.api.listing import fields_param, list_page, select_fields
from hydria.api.lookup import get_lb, get_listener, read, write
from hydria.api.schemas import listener as schema
from hydria.api.validation import choice, given, parse, refuse_unsupported
from hydria.core import constants as c
from hydria.core.errors import Conflict, InvalidInput, NotFound
from hydria.core.listener_options import check_insert_headers
from hydria.db import quotas
from hydria.db.models import Listener, LoadBalancer, Pool

router = APIRouter()
PATH = "/lbaas/listeners"

FILTERS = {name: getattr(Listener, name) for name in (
    "id", "name", "description", "provisioning_status", "operating_status",
    "admin_state_up", "protocol", "protocol_port", "connection_limit", "default_pool_id",
    "timeout_client_data", "timeout_member_connect", "timeout_member_data",
    "timeout_tcp_inspect")}
FILTERS["loadbalancer_id"] = Listener.load_balancer_id

# Listeners whose protocols share a transport collide on the same port.
L4 = {c.PROTOCOL_HTTP: "TCP", c.PROTOCOL_HTTPS: "TCP", c.PROTOCOL_TCP: "TCP",
      c.PROTOCOL_TERMINATED_HTTPS: "TCP", c.PROTOCOL_PROXY: "TCP", c.PROTOCOL_PROXYV2: "TCP",
      c.PROTOCOL_UDP: "UDP", c.PROTOCOL_SCTP: "SCTP"}


def check_pool_protocol(listener_protocol: str, pool_protocol: str) -> None:
    if pool_protocol not in c.VALID_LISTENER_POOL_PROTOCOLS.get(listener_protocol, ()):
        raise InvalidInput(f"Validation failure: The pool protocol '{pool_protocol}' is "
                           f"invalid while the listener protocol is '{listener_protocol}'.")


def check_default_pool(session: Session, lb_id: str, pool_id: str, protocol: str) -> Pool:
    pool = session.get(Pool, pool_id)
    if (pool is None or pool.load_balancer_id != lb_id
            or pool.provisioning_status in (c.DELETED, c.PENDING_DELETE)):
        raise NotFound.of("Pool", pool_id)
    check_pool_protocol(protocol, pool.protocol)
    return pool


def _check_headers(headers: dict[str, str] | None, protocol: str) -> None:
    check_insert_headers(headers, protocol)


def _check_cidrs(cidrs: list[str] | None, lb: LoadBalancer) -> None:
    if not cidrs or lb.vip_address is None:
        return
    vip_version = ipaddress.ip_address(lb.vip_address).version
    for cidr in cidrs:
        if ipaddress.ip_network(cidr).version != vip_version:
            raise InvalidInput(f"Validation failure: CIDR {cidr} IP version incompatible "
                               f"with all VIPs: ['{lb.vip_address}']")


def port_in_use(protocol: str, port: int) -> Conflict:
    return Conflict(f"Another Listener on this Load Balancer is already using "
                    f"protocol {protocol} and protocol_port {port}")


def same_transport(a: str, b: str) -> bool:
    """Two listener protocols that would collide on one port."""
    return L4.get(a) == L4.get(b)


def _check_port_free(session: Session, lb_id: str, protocol: str, port: int) -> None:
    others = session.scalars(select(Listener).where(
        Listener.load_balancer_id == lb_id, Listener.protocol_port == port,
        Listener.provisioning_status != c.DELETED))
    for other in others:
        if same_transport(other.protocol, protocol):
            raise port_in_use(other.protocol, port)


def check_listener(req: schema.ListenerPOST | schema.ListenerSingleCreate, *,
                   unsupported: dict[str, tuple[Any, ...]] = schema.UNSUPPORTED) -> str:
    """The checks that need no database; returns the listener's protocol."""
    refuse_unsupported(req, unsupported)
    protocol = choice("protocol", req.protocol, c.LISTENER_PROTOCOLS,
                      c.SUPPORTED_LISTENER_PROTOCOLS)
    _check_headers(req.insert_headers, protocol)
    return protocol


def new_listener(lb: LoadBalancer, req: schema.ListenerPOST | schema.ListenerSingleCreate,
                 protocol: str, *, default_pool_id: str | None) -> Listener:
    """The row of a new listener on ``lb``, in PENDING_CREATE, Octavia's defaults filled."""
    _check_cidrs(req.allowed_cidrs, lb)
    return Listener(
        id=str(uuid.uuid4()), project_id=lb.project_id, load_balancer_id=lb.id,
        name=req.name, description=req.description, admin_state_up=req.admin_state_up,
        protocol=protocol, protocol_port=req.protocol_port,
        connection_limit=req.connection_limit, default_pool_id=default_pool_id,
        timeout_client_data=_or(req.timeout_client_data, c.DEFAULT_TIMEOUT_CLIENT_DATA),
        timeout_member_connect=_or(req.timeout_member_connect,
                                   c.DEFAULT_TIMEOUT_MEMBER_CONNECT),
        timeout_member_data=_or(req.timeout_member_data, c.DEFAULT_TIMEOUT_MEMBER_DATA),
        timeout_tcp_inspect=_or(req.timeout_tcp_inspect, c.DEFAULT_TIMEOUT_TCP_INSPECT),
        insert_headers=dict(req.insert_headers or {}),
        allowed_cidrs=list(req.allowed_cidrs or []), tags=list(req.tags or []),
        provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE)


@router.get(PATH)
def list_listeners(request: Request, ctx: Ctx,
                   db: DB) -> dict[str, Any]:
    with read(db) as session:
        page = list_page(request, session, select(Listener), Listener, ctx=ctx,
                         filters=FILTERS, render=schema.view)
    return {"listeners": page.items, "listeners_links": page.links}


@router.get(PATH + "/{listener_id}")
def show_listener(listener_id: str, request: Request,
                  ctx: Ctx,
                  db: DB) -> dict[str, Any]:
    with read(db) as session:
        listener = get_listener(session, listener_id, ctx)
        return {"listener": select_fields(schema.view(listener), fields_param(request))}


@router.post(PATH, status_code=201)
def create_listener(body: JsonBody,
                    ctx: Ctx,
                    db: DB,
                    notifier: Notify,
                    settings: Config) -> dict[str, Any]:
    req = parse(body, "listener", schema.ListenerPOST, nulls_are_unset=True)
    ctx.owner_for_create(req.project_id)
    protocol = check_listener(req)
    with write(db, notifier) as unit:
        session = unit.session
        lb = get_lb(session, req.loadbalancer_id, ctx)
        if req.default_pool_id is not None:
            check_default_pool(session, lb.id, req.default_pool_id, protocol)
        listener = new_listener(lb, req, protocol, default_pool_id=req.default_pool_id)
        unit.change(lb)
        quotas.check_and_reserve(session, lb.project_id, quotas.LISTENER,
                                 defaults=settings.quota_defaults)
        _check_port_free(session, lb.id, protocol, req.protocol_port)
        session.add(listener)
        try:
            session.flush()
        except IntegrityError:
            raise port_in_use(protocol, req.protocol_port) from None
        return {"listener": schema.view(listener)}


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@router.put(PATH + "/{listener_id}")
def update_listener(listener_id: str, body: JsonBody,
                    ctx: Ctx,
                    db: DB,
                    notifier: Notify) -> dict[str, Any]:
    req = parse(body, "listener", schema.ListenerPUT, nulls_are_unset=False)
    refuse_unsupported(req, schema.UNSUPPORTED)
    changes = {k: v for k, v in given(req).items() if k not in schema.UNSUPPORTED}
    if changes.get("admin_state_up", True) is None:
        del changes["admin_state_up"]
    for name, default in schema.PUT_DEFAULTS.items():
        if name in changes and changes[name] is None:
            changes[name] = default
    with write(db, notifier) as unit:
        session = unit.session
        listener = get_listener(session, listener_id, ctx)
        lb = get_lb(session, listener.load_balancer_id, ctx)
        _check_headers(changes.get("insert_headers"), listener.protocol)
        _check_cidrs(changes.get("allowed_cidrs"), lb)
        if changes.get("default_pool_id") is not None:
            check_default_pool(session, lb.id, changes["default_pool_id"], listener.protocol)
        unit.change(lb)
        for name, value in changes.items():
            setattr(listener, name, value)
        listener.provisioning_status = c.PENDING_UPDATE
        session.flush()
        return {"listener": schema.view(listener)}


@router.delete(PATH + "/{listener_id}", status_code=204)
def delete_listener(listener_id: str, ctx: Ctx,
                    db: DB,
                    notifier: Notify) -> Response:
    with write(db, notifier) as unit:
        listener = get_listener(unit.session, listener_id, ctx)
        unit.change(get_lb(unit.session, listener.load_balancer_id, ctx))
        listener.provisioning_status = c.PENDING_DELETE
    return Response(status_code=204)
