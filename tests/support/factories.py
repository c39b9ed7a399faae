"""Rows for database-level tests, written the way the API writes them."""

from __future__ import annotations

import uuid

from hydria.core import constants as c
from hydria.db import addresses
from hydria.db import models as m
from hydria.db.engine import Database


def uid() -> str:
    return str(uuid.uuid4())


def make_subnet(db: Database, cidr: str = "127.42.200.0/24") -> str:
    net_id, sub_id = uid(), uid()
    base = cidr.split("/")[0].rsplit(".", 1)[0]
    with db.session() as s:
        s.add(m.Network(id=net_id, name="public"))
        s.flush()
        s.add(
            m.Subnet(
                id=sub_id,
                name="public",
                network_id=net_id,
                cidr=cidr,
                allocation_start=f"{base}.10",
                allocation_end=f"{base}.250",
            )
        )
    return sub_id


def make_lb(
    db: Database,
    *,
    status: str = c.PENDING_CREATE,
    subnet_id: str | None = None,
    with_children: bool = False,
) -> str:
    lb_id = uid()
    with db.session() as s:
        vip = None
        if subnet_id:
            sub = s.get(m.Subnet, subnet_id)
            assert sub is not None
            vip = addresses.allocate(s, subnet_id, sub.allocation_start, sub.allocation_end, lb_id)
        s.add(
            m.LoadBalancer(
                id=lb_id,
                project_id="p",
                provisioning_status=status,
                operating_status=c.OFFLINE,
                vip_address=vip,
                vip_subnet_id=subnet_id,
            )
        )
        if with_children:
            s.flush()
            pool_id, lst_id = uid(), uid()
            s.add(
                m.Pool(
                    id=pool_id,
                    project_id="p",
                    load_balancer_id=lb_id,
                    protocol="HTTP",
                    lb_algorithm="ROUND_ROBIN",
                    provisioning_status=status,
                    operating_status=c.OFFLINE,
                )
            )
            s.flush()
            s.add(
                m.Listener(
                    id=lst_id,
                    project_id="p",
                    load_balancer_id=lb_id,
                    protocol="HTTP",
                    protocol_port=80,
                    default_pool_id=pool_id,
                    provisioning_status=status,
                    operating_status=c.OFFLINE,
                )
            )
            s.add(
                m.Member(
                    id=uid(),
                    project_id="p",
                    pool_id=pool_id,
                    address="127.0.0.1",
                    protocol_port=8080,
                    provisioning_status=status,
                    operating_status=c.OFFLINE,
                )
            )
            s.add(
                m.HealthMonitor(
                    id=uid(),
                    project_id="p",
                    pool_id=pool_id,
                    type="HTTP",
                    delay=1,
                    timeout=1,
                    max_retries=2,
                    provisioning_status=status,
                    operating_status=c.OFFLINE,
                )
            )
    return lb_id
