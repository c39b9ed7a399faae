"""Amphora views (Octavia's AmphoraResponse and AmphoraStatisticsResponse)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hydria.api.schemas.common import iso
from hydria.db.models import Amphora
from hydria.db.stats import AmphoraListenerStats


def view(amp: Amphora) -> dict[str, Any]:
    return {
        "id": amp.id,
        "loadbalancer_id": amp.load_balancer_id,
        "compute_id": amp.compute_id,
        "lb_network_ip": amp.lb_network_ip,
        "vrrp_ip": amp.vrrp_ip,
        "ha_ip": amp.ha_ip,
        "vrrp_port_id": amp.vrrp_port_id,
        "ha_port_id": amp.ha_port_id,
        "cert_expiration": iso(amp.cert_expiration),
        "cert_busy": bool(amp.cert_busy),
        "role": amp.role,
        "status": amp.status,
        "vrrp_interface": amp.vrrp_interface,
        "vrrp_id": amp.vrrp_id,
        "vrrp_priority": amp.vrrp_priority,
        "cached_zone": amp.cached_zone,
        "created_at": iso(amp.created_at),
        "updated_at": iso(amp.updated_at),
        "image_id": amp.image_id,
        "compute_flavor": amp.compute_flavor,
        # a Hydria extension: why the controller's last step on it failed
        "hydria_error_reason": amp.error_reason,
    }


def stats_view(entry: AmphoraListenerStats) -> dict[str, Any]:
    return {
        "id": entry.amphora_id,
        "listener_id": entry.listener_id,
        "loadbalancer_id": entry.load_balancer_id,
        **asdict(entry.totals),
    }
