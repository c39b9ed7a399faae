"""Amphora rows: created before the instance exists, so a successor resumes.

The controller writes the row (with its management address reserved) and
commits *before* it asks the compute driver for the instance. A controller
that dies right after finds, or lets its successor find, the same row, the
same id and the same address: the compute driver's idempotent ``create``
then either finds the instance or starts it. No duplicate, no leak.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.ids import derived_id
from hydria.db import addresses
from hydria.db.engine import rows_matched
from hydria.db.models import Amphora, AmphoraHealth, LoadBalancer, utcnow


def live_amphorae(session: Session, lb_id: str) -> list[Amphora]:
    return list(
        session.scalars(
            select(Amphora)
            .where(Amphora.load_balancer_id == lb_id, Amphora.status != c.DELETED)
            .order_by(Amphora.created_at)
        )
    )


def failover_pending(session: Session, lb_id: str) -> bool:
    """True while a live amphora of ``lb_id`` is marked for failover."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Amphora.load_balancer_id == lb_id,
                    Amphora.failover_requested.is_(True),
                    Amphora.status != c.DELETED,
                )
            )
        )
    )


def new_amphora(
    session: Session, lb_id: str | None, role: str | None, *, mgmt_start: str, mgmt_end: str
) -> Amphora:
    """An amphora's row, BOOTING until its agent answers, with a management address."""
    amp_id = str(uuid.uuid4())
    ip = addresses.allocate(session, addresses.MGMT_POOL, mgmt_start, mgmt_end, amp_id)
    amp = Amphora(
        id=amp_id,
        load_balancer_id=lb_id,
        status=c.AMPHORA_BOOTING,
        role=role,
        lb_network_ip=ip,
        compute_id=None,
    )
    session.add(amp)
    session.flush()
    return amp


def new_spare(session: Session, *, mgmt_start: str, mgmt_end: str) -> Amphora:
    """A spare's row: no load balancer, no role, BOOTING until its agent answers."""
    return new_amphora(session, None, None, mgmt_start=mgmt_start, mgmt_end=mgmt_end)


def spares(session: Session) -> list[Amphora]:
    """Amphorae with no load balancer that are not gone (READY, BOOTING, ...)."""
    return list(
        session.scalars(
            select(Amphora)
            .where(Amphora.load_balancer_id.is_(None), Amphora.status != c.DELETED)
            .order_by(Amphora.created_at)
        )
    )


def changes_in_flight(session: Session) -> int:
    """Load balancers a controller is converging now (created or changed, not
    deleted): what a spare's boot would steal CPU from."""
    return (
        session.scalar(
            select(func.count())
            .select_from(LoadBalancer)
            .where(LoadBalancer.provisioning_status.in_((c.PENDING_CREATE, c.PENDING_UPDATE)))
        )
        or 0
    )


# built once: every converged change asks it
_FAILED = select(Amphora.id).where(
    Amphora.id.in_(bindparam("ids", expanding=True)), Amphora.error_reason.isnot(None)
)


def clear_errors(session: Session, amphora_ids: list[str]) -> None:
    """Forget the last failed step of these amphorae: they serve now. Only rows that
    carry one are written (usually none: a converged change writes no amphora)."""
    if not amphora_ids:
        return
    failed = list(session.scalars(_FAILED, {"ids": amphora_ids}))
    if failed:
        session.execute(
            update(Amphora)
            .where(Amphora.id.in_(failed))
            .values(error_reason=None)
            .execution_options(synchronize_session=False)
        )


def claim_spare(session: Session, lb_id: str, role: str) -> Amphora | None:
    """Give a READY spare to ``lb_id``, or None if there is none to have.

    One conditional UPDATE per candidate: two controllers racing for the same
    spare end with one owner, and the other tries the next or boots its own.
    """
    candidates = session.scalars(
        select(Amphora.id)
        .where(
            Amphora.load_balancer_id.is_(None),
            Amphora.status == c.AMPHORA_READY,
            Amphora.failover_requested.is_(False),
        )
        .order_by(Amphora.created_at)
        .limit(4)
    )
    for amp_id in list(candidates):
        if take_spare(
            session,
            amp_id,
            (c.AMPHORA_READY,),
            load_balancer_id=lb_id,
            role=role,
            status=c.AMPHORA_ALLOCATED,
        ):
            return session.get(Amphora, amp_id, populate_existing=True)
    return None


def take_spare(session: Session, amp_id: str, statuses: tuple[str, ...], **values: Any) -> bool:
    """Write ``values`` to the spare ``amp_id`` if it is still nobody's and in one of
    ``statuses``, in one conditional UPDATE: of two racing writers one wins."""
    matched = rows_matched(
        session,
        update(Amphora)
        .where(
            Amphora.id == amp_id,
            Amphora.load_balancer_id.is_(None),
            Amphora.status.in_(statuses),
        )
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False),
    )
    return matched == 1


def mark_amphora_deleted(session: Session, amphora_id: str) -> None:
    """The instance is gone: the row stays (DELETED) for the API; its address
    and its heartbeat record go, so no health check ever looks at it again."""
    session.execute(delete(AmphoraHealth).where(AmphoraHealth.amphora_id == amphora_id))
    amp = session.get(Amphora, amphora_id)
    if amp is None:
        return
    amp.status = c.DELETED
    amp.failover_requested = False
    amp.updated_at = utcnow()
    # its management address and its ports' addresses on VIP and member subnets
    addresses.release(session, amphora_id)


def instance_addresses(session: Session, amps: list[Amphora]) -> dict[str, list[tuple[str, str]]]:
    """Per amphora: (network, address) on every network, as ``server list`` shows them.

    The management address is on ``lb-mgmt-net``; a port's address on a subnet
    (and the VIP it holds) on the subnet's name.
    """
    from hydria.db.models import AddressAllocation, Subnet

    ids = [a.id for a in amps]
    names = dict(session.execute(select(Subnet.id, Subnet.name)).tuples().all())
    out: dict[str, list[tuple[str, str]]] = {a.id: [] for a in amps}
    for amp in amps:
        if amp.lb_network_ip:
            out[amp.id].append(("lb-mgmt-net", amp.lb_network_ip))
    rows = (
        session.execute(
            select(AddressAllocation.owner_id, AddressAllocation.pool, AddressAllocation.address)
            .where(
                AddressAllocation.owner_id.in_(ids), AddressAllocation.pool != addresses.MGMT_POOL
            )
            .order_by(AddressAllocation.address)
        )
        .tuples()
        .all()
    )
    for owner, pool, address in rows:
        out[owner].append((names.get(pool, pool), address))
    from hydria.db.models import LoadBalancer

    for amp in amps:
        if amp.ha_ip and amp.vrrp_ip:
            net = next((n for n, a in out[amp.id] if a == amp.vrrp_ip), "vip")
            out[amp.id].append((net, f"{amp.ha_ip} (VIP)"))
            lb = session.get(LoadBalancer, amp.load_balancer_id) if amp.load_balancer_id else None
            for extra in (lb.additional_vips or []) if lb is not None else []:
                out[amp.id].append(
                    (
                        names.get(extra["subnet_id"], extra["subnet_id"]),
                        f"{extra['ip_address']} (VIP)",
                    )
                )
    return out


def record_error(session: Session, amphora_id: str, reason: str | None) -> None:
    """Keep (or, with None, clear) why the controller's last step on an amphora failed."""
    amp = session.get(Amphora, amphora_id)
    if amp is not None and amp.error_reason != reason:
        amp.error_reason = None if reason is None else reason[:4000]


def _vip_port_values(
    amphora_id: str, vip_address: str | None, vip_port_id: str | None, vrrp_ip: str | None
) -> dict[str, str | None]:
    return {
        "ha_ip": vip_address,
        "ha_port_id": vip_port_id,
        "vrrp_ip": vrrp_ip or vip_address,
        "vrrp_port_id": derived_id("vrrp-port", amphora_id) if vip_address else None,
    }


def vip_ports_recorded(
    session: Session, amphora_id: str, *, vip_address: str | None, vip_port_id: str | None
) -> bool:
    """``record_vip_ports`` would change nothing (a read: no write lock is taken
    for the usual case, a change to a load balancer whose VIP has not moved)."""
    amp = session.get(Amphora, amphora_id)
    if amp is None:
        return True
    wanted = _vip_port_values(amphora_id, vip_address, vip_port_id, None)
    return all(getattr(amp, name) == value for name, value in wanted.items())


def record_vip_ports(
    session: Session,
    amphora_id: str,
    *,
    vip_address: str | None,
    vip_port_id: str | None,
    vrrp_ip: str | None = None,
) -> None:
    """The VIP side of an amphora, as Octavia's amphora API shows it: ``ha_ip`` and
    ``ha_port_id`` are the load balancer's VIP and its port; ``vrrp_ip`` is the
    amphora's own address on the VIP subnet (with the local network driver the VIP
    itself: there is no base port; with ``netns``, ``vrrp_ip``, the address of its
    port) and ``vrrp_port_id`` that port's derived UUID.
    Written only when something changes."""
    amp = session.get(Amphora, amphora_id)
    if amp is None:
        return
    wanted = _vip_port_values(amphora_id, vip_address, vip_port_id, vrrp_ip)
    for name, value in wanted.items():
        if getattr(amp, name) != value:
            setattr(amp, name, value)
