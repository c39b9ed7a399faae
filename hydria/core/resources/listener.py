"""Octavia's listener (``/v2/lbaas/listeners``)."""

from __future__ import annotations

from dataclasses import replace

from hydria.core import constants as c
from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Child, Field, Resource, Show
from hydria.core.resources.types import (
    CIDR,
    UUID,
    AlpnProtocols,
    Ciphers,
    ClientAuthentication,
    ConnectionLimit,
    HeaderValue,
    HstsMaxAge,
    Port,
    SecretRef,
    Timeout,
    TlsVersions,
)

# TERMINATED_HTTPS: certificates by reference (checked against the secret store by
# hydria.services.tls) and the TLS options; null where a listener has none.
_TLS = (
    Field("default_tls_container_ref", SecretRef, create=True, update=True),
    Field("sni_container_refs", list[SecretRef], [], create=True, update=True, show=Show.LIST),
)
_CLIENT_TLS = (
    Field("client_ca_tls_container_ref", SecretRef, create=True, update=True),
    Field(
        "client_authentication", ClientAuthentication, c.CLIENT_AUTH_NONE, create=True, update=True
    ),
    Field("client_crl_container_ref", SecretRef, create=True, update=True),
)
_TLS_OPTIONS = (
    Field("tls_ciphers", Ciphers, create=True, update=True),
    Field("tls_versions", TlsVersions, create=True, update=True),
    Field("alpn_protocols", AlpnProtocols, create=True, update=True),
    Field("hsts_max_age", HstsMaxAge, create=True, update=True),
    Field("hsts_include_subdomains", bool, False, create=True, update=True),
    Field("hsts_preload", bool, False, create=True, update=True),
)


def _timeout(name: str, default: int) -> Field:
    return Field(name, Timeout, default, create=True, update=True, filter=True)


LISTENER = Resource(
    "Listener",
    "listener",
    "listeners",
    (
        *std.HEAD,
        Field("protocol", str, REQUIRED, create=True, filter=True),
        Field("protocol_port", Port, REQUIRED, create=True, filter=True),
        Field(
            "connection_limit",
            ConnectionLimit,
            c.DEFAULT_CONNECTION_LIMIT,
            create=True,
            update=True,
            filter=True,
        ),
        *_TLS,
        std.PROJECT,
        std.TENANT,
        Field("default_pool_id", UUID, create=True, update=True, filter=True),
        Field(
            "default_pool", create=True, off=(None,), child=Child("pool"), shown=False, stored=False
        ),
        Field(
            "l7policies",
            create=True,
            nested=True,
            child=Child("l7policy", many=True),
            show=Show.RELATED,
            stored=False,
        ),
        Field(
            "insert_headers", dict[str, HeaderValue], {}, create=True, update=True, show=Show.DICT
        ),
        std.CREATED,
        std.UPDATED,
        replace(std.LB_ID, default=REQUIRED),
        std.LOADBALANCERS,
        _timeout("timeout_client_data", c.DEFAULT_TIMEOUT_CLIENT_DATA),
        _timeout("timeout_member_connect", c.DEFAULT_TIMEOUT_MEMBER_CONNECT),
        _timeout("timeout_member_data", c.DEFAULT_TIMEOUT_MEMBER_DATA),
        _timeout("timeout_tcp_inspect", c.DEFAULT_TIMEOUT_TCP_INSPECT),
        std.TAGS,
        *_CLIENT_TLS,
        # Octavia shows null, not [], when a listener has no allowed CIDRs.
        Field("allowed_cidrs", list[CIDR], [], create=True, update=True, show=Show.LIST_OR_NULL),
        *_TLS_OPTIONS,
    ),
    check_order=(
        *(f.name for f in (*_TLS, *_CLIENT_TLS, *_TLS_OPTIONS)),
        "name",
        "description",
        "admin_state_up",
        "protocol",
        "protocol_port",
        "connection_limit",
        "default_pool_id",
        "l7policies",
        "insert_headers",
        "timeout_client_data",
        "timeout_member_connect",
        "timeout_member_data",
        "timeout_tcp_inspect",
        "tags",
        "allowed_cidrs",
        "project_id",
        "default_pool",
        "loadbalancer_id",
    ),
)
