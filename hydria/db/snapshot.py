"""Turn a load balancer's rows into the frozen graph of ``hydria.core.graph``.

Objects marked PENDING_DELETE (or DELETED) are left out, as is anything
reachable only through them: the snapshot is what the data plane should run.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hydria.core import constants as c
from hydria.core import graph
from hydria.db import models as m

_GONE = frozenset({c.PENDING_DELETE, c.DELETED})


def _alive(row: object) -> bool:
    return getattr(row, "provisioning_status") not in _GONE


def load_lb_row(session: Session, lb_id: str) -> m.LoadBalancer | None:
    return session.scalars(
        select(m.LoadBalancer)
        .where(m.LoadBalancer.id == lb_id)
        .options(
            selectinload(m.LoadBalancer.listeners)
            .selectinload(m.Listener.l7policies)
            .selectinload(m.L7Policy.rules),
            selectinload(m.LoadBalancer.pools).selectinload(m.Pool.members),
            selectinload(m.LoadBalancer.pools).selectinload(m.Pool.health_monitor),
            selectinload(m.LoadBalancer.amphorae),
        )
    ).first()


def to_graph(lb: m.LoadBalancer) -> graph.LoadBalancer:
    pools = tuple(_pool(p) for p in lb.pools if _alive(p))
    pool_ids = {p.id for p in pools}
    listeners = tuple(
        graph.Listener(
            id=lst.id,
            protocol=lst.protocol,
            protocol_port=lst.protocol_port,
            admin_state_up=lst.admin_state_up,
            connection_limit=lst.connection_limit,
            default_pool_id=lst.default_pool_id if lst.default_pool_id in pool_ids else None,
            timeout_client_data=lst.timeout_client_data,
            timeout_member_connect=lst.timeout_member_connect,
            timeout_member_data=lst.timeout_member_data,
            timeout_tcp_inspect=lst.timeout_tcp_inspect,
            insert_headers=tuple(sorted((lst.insert_headers or {}).items())),
            allowed_cidrs=tuple(lst.allowed_cidrs or ()),
            default_tls_container_ref=lst.default_tls_container_ref,
            sni_container_refs=tuple(lst.sni_container_refs or ()),
            client_authentication=lst.client_authentication or c.CLIENT_AUTH_NONE,
            client_ca_tls_container_ref=lst.client_ca_tls_container_ref,
            client_crl_container_ref=lst.client_crl_container_ref,
            tls_ciphers=lst.tls_ciphers,
            tls_versions=tuple(lst.tls_versions or ()),
            alpn_protocols=tuple(lst.alpn_protocols or ()),
            hsts_max_age=lst.hsts_max_age,
            hsts_include_subdomains=bool(lst.hsts_include_subdomains),
            hsts_preload=bool(lst.hsts_preload),
            l7policies=_policies(lst, pool_ids),
        )
        for lst in lb.listeners
        if _alive(lst)
    )
    return graph.LoadBalancer(
        id=lb.id,
        vip_address=lb.vip_address or "",
        admin_state_up=lb.admin_state_up,
        topology=lb.topology,
        project_id=lb.project_id or "",
        listeners=listeners,
        pools=pools,
        additional_vips=tuple(str(v["ip_address"]) for v in lb.additional_vips or ()),
    )


def _policies(lst: m.Listener, pool_ids: set[str]) -> tuple[graph.L7Policy, ...]:
    live = sorted(
        (p for p in lst.l7policies if _alive(p)), key=lambda p: (p.position, p.created_at, p.id)
    )
    return tuple(
        graph.L7Policy(
            id=p.id,
            action=p.action,
            position=p.position,
            admin_state_up=p.admin_state_up,
            redirect_pool_id=p.redirect_pool_id if p.redirect_pool_id in pool_ids else None,
            redirect_url=p.redirect_url,
            redirect_prefix=p.redirect_prefix,
            redirect_http_code=p.redirect_http_code,
            rules=tuple(
                graph.L7Rule(
                    id=r.id,
                    type=r.type,
                    compare_type=r.compare_type,
                    value=r.value,
                    key=r.key,
                    invert=r.invert,
                )
                for r in sorted(p.rules, key=lambda r: (r.created_at, r.id))
                if _alive(r) and r.admin_state_up
            ),
        )
        for p in live
    )


def _pool(p: m.Pool) -> graph.Pool:
    hm = p.health_monitor if p.health_monitor is not None and _alive(p.health_monitor) else None
    sp = p.session_persistence
    return graph.Pool(
        id=p.id,
        protocol=p.protocol,
        lb_algorithm=p.lb_algorithm,
        admin_state_up=p.admin_state_up,
        members=tuple(
            graph.Member(
                id=mb.id,
                address=mb.address,
                protocol_port=mb.protocol_port,
                weight=mb.weight,
                backup=mb.backup,
                admin_state_up=mb.admin_state_up,
                monitor_address=mb.monitor_address,
                monitor_port=mb.monitor_port,
            )
            for mb in p.members
            if _alive(mb)
        ),
        health_monitor=None
        if hm is None
        else graph.HealthMonitor(
            id=hm.id,
            type=hm.type,
            delay=hm.delay,
            timeout=hm.timeout,
            max_retries=hm.max_retries,
            max_retries_down=hm.max_retries_down,
            http_method=hm.http_method,
            url_path=hm.url_path,
            expected_codes=hm.expected_codes,
            http_version=hm.http_version,
            domain_name=hm.domain_name,
            admin_state_up=hm.admin_state_up,
        ),
        session_persistence=None
        if not sp
        else graph.SessionPersistence(
            type=sp["type"],
            cookie_name=sp.get("cookie_name"),
            persistence_timeout=sp.get("persistence_timeout"),
            persistence_granularity=sp.get("persistence_granularity"),
        ),
        tls_enabled=p.tls_enabled,
        tls_container_ref=p.tls_container_ref,
        ca_tls_container_ref=p.ca_tls_container_ref,
        crl_container_ref=p.crl_container_ref,
        tls_ciphers=p.tls_ciphers,
        tls_versions=tuple(p.tls_versions or ()),
        alpn_protocols=tuple(p.alpn_protocols or ()),
    )
