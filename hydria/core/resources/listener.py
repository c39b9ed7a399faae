"""Octavia's listener (``/v2/lbaas/listeners``)."""

from __future__ import annotations

from hydria.core import constants as c
from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Child, Field, Resource, Show
from hydria.core.resources.types import (
    CIDR,
    UUID,
    ConnectionLimit,
    HeaderValue,
    Port,
    Timeout,
)

# Octavia options this release takes only at their "off" value, shown as such.
_TLS = (
    Field("default_tls_container_ref", create=True, update=True, off=(None,), show=Show.CONST),
    Field("sni_container_refs", default=[], create=True, update=True, off=(None, []),
          show=Show.CONST),
)
_CLIENT_TLS = (
    Field("client_ca_tls_container_ref", create=True, update=True, off=(None,),
          show=Show.CONST),
    Field("client_authentication", default="NONE", create=True, update=True,
          off=(None, "NONE"), show=Show.CONST),
    Field("client_crl_container_ref", create=True, update=True, off=(None,), show=Show.CONST),
)
_TLS_OPTIONS = (
    Field("tls_ciphers", create=True, update=True, off=(None,), show=Show.CONST),
    Field("tls_versions", create=True, update=True, off=(None, []), show=Show.CONST),
    Field("alpn_protocols", create=True, update=True, off=(None, []), show=Show.CONST),
    Field("hsts_max_age", create=True, update=True, off=(None,), show=Show.CONST),
    Field("hsts_include_subdomains", default=False, create=True, update=True,
          off=(None, False), show=Show.CONST),
    Field("hsts_preload", default=False, create=True, update=True, off=(None, False),
          show=Show.CONST),
)

def _timeout(name: str, default: int) -> Field:
    return Field(name, Timeout, default, create=True, update=True, filter=True)

LISTENER = Resource("Listener", "listener", "listeners", (
    std.ID, std.NAME, std.DESCRIPTION, std.PROVISIONING, std.OPERATING, std.ADMIN,
    Field("protocol", str, REQUIRED, create=True, filter=True),
    Field("protocol_port", Port, REQUIRED, create=True, filter=True),
    Field("connection_limit", ConnectionLimit, c.DEFAULT_CONNECTION_LIMIT, create=True,
          update=True, filter=True),
    *_TLS, std.PROJECT, std.TENANT,
    Field("default_pool_id", UUID, create=True, update=True, filter=True),
    Field("default_pool", create=True, off=(None,), child=Child("pool"), shown=False,
          stored=False),
    Field("l7policies", create=True, nested=True, child=Child("l7policy", many=True),
          show=Show.RELATED, stored=False),
    Field("insert_headers", dict[str, HeaderValue], {}, create=True, update=True,
          show=Show.DICT),
    std.CREATED, std.UPDATED,
    Field("loadbalancer_id", UUID, REQUIRED, create=True, nested=False, filter=True,
          column="load_balancer_id", shown=False, stored=False),
    Field("loadbalancers", column="load_balancer_id", show=Show.PARENT),
    _timeout("timeout_client_data", c.DEFAULT_TIMEOUT_CLIENT_DATA),
    _timeout("timeout_member_connect", c.DEFAULT_TIMEOUT_MEMBER_CONNECT),
    _timeout("timeout_member_data", c.DEFAULT_TIMEOUT_MEMBER_DATA),
    _timeout("timeout_tcp_inspect", c.DEFAULT_TIMEOUT_TCP_INSPECT),
    std.TAGS, *_CLIENT_TLS,
    # Octavia shows null, not [], when a listener has no allowed CIDRs.
    Field("allowed_cidrs", list[CIDR], [], create=True, update=True, show=Show.LIST_OR_NULL),
    *_TLS_OPTIONS,
), check_order=(
    *(f.name for f in (*_TLS, *_CLIENT_TLS, *_TLS_OPTIONS)), "name", "description",
    "admin_state_up", "protocol", "protocol_port", "connection_limit", "default_pool_id",
    "l7policies", "insert_headers", "timeout_client_data", "timeout_member_connect",
    "timeout_member_data", "timeout_tcp_inspect", "tags", "allowed_cidrs", "project_id",
    "default_pool", "loadbalancer_id"))
