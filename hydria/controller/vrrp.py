"""keepalived in both amphorae of an ACTIVE_STANDBY load balancer (a reconcile step).

Pushed every time (the agent reloads only a changed file), so a rebuilt peer's
new address reaches the survivor in the same convergence, and reaches it
before the rebuilt peer starts.
"""

from __future__ import annotations

import ipaddress
import logging

from hydria.controller.known_agents import KnownAgents
from hydria.core import constants as c
from hydria.core import graph
from hydria.core.errors import PermanentError, TemporaryError
from hydria.db.engine import Database
from hydria.db.models import Amphora, LoadBalancer, Subnet
from hydria.drivers.amphora.base import AmphoraAgent
from hydria.drivers.network.base import SubnetPort
from hydria.drivers.network.names import inside_port
from hydria.render.keepalived import VrrpPeerSet, render_keepalived

log = logging.getLogger("hydria.controller")


def vrrp_priority(role: str | None) -> int:
    """MASTER wins the first election; with nopreempt the winner keeps the VIP."""
    return 100 if role == c.ROLE_MASTER else 90


def push_vrrp(
    db: Database,
    agent: AmphoraAgent,
    desired: graph.LoadBalancer,
    vip_subnet: SubnetPort,
    infos: dict[str, dict[str, object]],
    *,
    agent_port: int,
    advert_int: float,
    known: KnownAgents,
) -> None:
    """keepalived in each amphora of ``infos`` (their agents' ``/info``), with the
    other one as its unicast peer, survivor first."""
    with db.session() as session:
        rows = [session.get(Amphora, i) for i in infos]
        amps = [
            (a.id, a.role or c.ROLE_BACKUP, a.vrrp_ip or "", a.lb_network_ip or "")
            for a in rows
            if a is not None
        ]
        for a in rows:
            if a is not None:
                a.vrrp_id = 1
                a.vrrp_priority = vrrp_priority(a.role)
        lb_row = session.get(LoadBalancer, desired.id)
        extra_vips = []
        for item in (lb_row.additional_vips or []) if lb_row is not None else []:
            extra_subnet = session.get(Subnet, item["subnet_id"])
            if extra_subnet is not None:
                extra_vips.append(
                    (
                        str(item["ip_address"]),
                        ipaddress.ip_network(extra_subnet.cidr, strict=False).prefixlen,
                        inside_port(extra_subnet.id),
                    )
                )
    prefix = ipaddress.ip_network(vip_subnet.cidr, strict=False).prefixlen
    # the survivor of a failover first: it must advertise to the new peer before
    # that one's keepalived starts, or the newcomer, hearing nobody, takes the VIP
    amps.sort(key=lambda a: not infos[a[0]].get("vrrp_running"))
    for amp_id, role, own_ip, mgmt_ip in amps:
        text = render_keepalived(
            VrrpPeerSet(
                amphora_id=amp_id,
                lb_id=desired.id,
                interface=inside_port(vip_subnet.subnet_id),
                vip=desired.vip_address,
                vip_prefixlen=prefix,
                own_ip=own_ip,
                peer_ips=tuple(ip for i, _r, ip, _m in amps if i != amp_id),
                priority=vrrp_priority(role),
                advert_int=advert_int,
                check_script=str(infos[amp_id].get("vrrp_check_script") or ""),
                extra_vips=tuple(extra_vips),
            )
        )
        try:
            agent.put_vrrp(mgmt_ip, agent_port, text)
        except (TemporaryError, PermanentError):
            known.forget(amp_id)  # the retry asks the agent afresh
            raise
        known.update(amp_id, vrrp_running=True)
        log.info("event=vrrp_pushed amphora=%s role=%s", amp_id, role)
