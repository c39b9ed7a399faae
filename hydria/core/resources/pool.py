"""Octavia's pool (``/v2/lbaas/pools``)."""

from __future__ import annotations

from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Child, Field, Resource, Show
from hydria.core.resources.types import (
    UUID,
    AlpnProtocols,
    Ciphers,
    SecretRef,
    SessionPersistence,
    TlsVersions,
)

POOL = Resource("Pool", "pool", "pools", (
    std.ID, std.NAME, std.DESCRIPTION, std.PROVISIONING, std.OPERATING, std.ADMIN,
    Field("protocol", str, REQUIRED, create=True, filter=True),
    Field("lb_algorithm", str, REQUIRED, create=True, update=True, null="refuse",
          filter=True),
    Field("session_persistence", SessionPersistence, create=True, update=True,
          show=Show.PERSISTENCE),
    std.PROJECT, std.TENANT,
    Field("listener_id", UUID, create=True, nested=False, shown=False, stored=False),
    Field("loadbalancer_id", UUID, create=True, nested=False, filter=True,
          column="load_balancer_id", shown=False, stored=False),
    Field("loadbalancers", column="load_balancer_id", show=Show.PARENT),
    Field("listeners", show=Show.RELATED),
    std.CREATED, std.UPDATED,
    Field("healthmonitor_id", show=Show.RELATED),
    Field("healthmonitor", create=True, off=(None,), child=Child("healthmonitor"),
          shown=False, stored=False),
    Field("members", create=True, off=(None, []), child=Child("member", many=True),
          show=Show.RELATED, stored=False),
    std.TAGS,
    Field("tls_container_ref", SecretRef, create=True, update=True),
    Field("ca_tls_container_ref", SecretRef, create=True, update=True),
    Field("crl_container_ref", SecretRef, create=True, update=True),
    Field("tls_enabled", bool, False, create=True, update=True, filter=True),
    Field("tls_ciphers", Ciphers, create=True, update=True),
    Field("tls_versions", TlsVersions, create=True, update=True),
    Field("alpn_protocols", AlpnProtocols, create=True, update=True),
), check_order=(
    "tls_container_ref", "ca_tls_container_ref", "crl_container_ref", "tls_enabled",
    "tls_ciphers", "tls_versions", "alpn_protocols", "name", "description", "admin_state_up",
    "session_persistence", "tags", "listener_id", "loadbalancer_id", "protocol",
    "lb_algorithm", "project_id", "healthmonitor", "members"))
