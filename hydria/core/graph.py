"""A frozen snapshot of one load balancer's object graph.

The controller reads the rows once (``hydria.db.snapshot``) and hands this value
to everything downstream: the renderer is a pure function of it, and the plan of
what to change is computed from it. Nothing here touches a database or a driver.
Only what the data plane needs is carried; API-only fields (names, tags, times)
stay in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydria.core import constants as c


@dataclass(frozen=True)
class HealthMonitor:
    id: str
    type: str  # PING, TCP, HTTP, HTTPS, TLS-HELLO
    delay: int  # seconds between checks
    timeout: int  # seconds
    max_retries: int  # successes to go up ("rise")
    max_retries_down: int  # failures to go down ("fall")
    http_method: str | None = None
    url_path: str | None = None
    expected_codes: str | None = None  # "200", "200,202", "200-204"
    http_version: float | None = None
    domain_name: str | None = None
    admin_state_up: bool = True


@dataclass(frozen=True)
class Member:
    id: str
    address: str
    protocol_port: int
    weight: int = c.DEFAULT_WEIGHT
    backup: bool = False
    admin_state_up: bool = True
    monitor_address: str | None = None
    monitor_port: int | None = None


@dataclass(frozen=True)
class SessionPersistence:
    type: str  # SOURCE_IP, HTTP_COOKIE, APP_COOKIE
    cookie_name: str | None = None
    persistence_timeout: int | None = None
    persistence_granularity: str | None = None


@dataclass(frozen=True)
class Pool:
    id: str
    protocol: str
    lb_algorithm: str
    admin_state_up: bool = True
    members: tuple[Member, ...] = ()
    health_monitor: HealthMonitor | None = None
    session_persistence: SessionPersistence | None = None
    # TLS to members: references into the secret store (see LoadBalancer.tls_files)
    tls_enabled: bool = False
    tls_container_ref: str | None = None  # Hydria's client certificate
    ca_tls_container_ref: str | None = None
    crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: tuple[str, ...] = ()
    alpn_protocols: tuple[str, ...] = ()


@dataclass(frozen=True)
class L7Rule:
    id: str
    type: str  # HOST_NAME, PATH, FILE_TYPE, HEADER, COOKIE, SSL_*
    compare_type: str  # EQUAL_TO, STARTS_WITH, ENDS_WITH, CONTAINS, REGEX
    value: str
    key: str | None = None
    invert: bool = False


@dataclass(frozen=True)
class L7Policy:
    """A listener's policy; only enabled rules are carried (a disabled one matches
    nothing and is left out, as in Octavia)."""

    id: str
    action: str  # REJECT, REDIRECT_TO_URL, REDIRECT_TO_POOL, REDIRECT_PREFIX
    position: int
    admin_state_up: bool = True
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None
    rules: tuple[L7Rule, ...] = ()


@dataclass(frozen=True)
class Listener:
    id: str
    protocol: str
    protocol_port: int
    admin_state_up: bool = True
    connection_limit: int = (
        c.DEFAULT_CONNECTION_LIMIT
    )  # unlimited (bounded by the host, see RenderOptions)
    default_pool_id: str | None = None
    timeout_client_data: int = c.DEFAULT_TIMEOUT_CLIENT_DATA  # milliseconds, as Octavia
    timeout_member_connect: int = c.DEFAULT_TIMEOUT_MEMBER_CONNECT
    timeout_member_data: int = c.DEFAULT_TIMEOUT_MEMBER_DATA
    timeout_tcp_inspect: int = c.DEFAULT_TIMEOUT_TCP_INSPECT
    insert_headers: tuple[tuple[str, str], ...] = ()
    allowed_cidrs: tuple[str, ...] = ()
    # TERMINATED_HTTPS: references into the secret store (see LoadBalancer.tls_files)
    default_tls_container_ref: str | None = None
    sni_container_refs: tuple[str, ...] = ()
    client_authentication: str = "NONE"
    client_ca_tls_container_ref: str | None = None
    client_crl_container_ref: str | None = None
    tls_ciphers: str | None = None
    tls_versions: tuple[str, ...] = ()
    alpn_protocols: tuple[str, ...] = ()
    hsts_max_age: int | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False
    l7policies: tuple[L7Policy, ...] = ()  # in position order


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    vip_address: str
    admin_state_up: bool = True
    topology: str = "SINGLE"
    listeners: tuple[Listener, ...] = ()
    project_id: str = ""  # for the tenant flow log format
    pools: tuple[Pool, ...] = ()
    # What the controller made of the TLS references, once read and checked:
    # (kind, reference, file name in the amphora's certificate folder); kind is
    # "cert" (certificate, intermediates and key), "ca" or "crl". The snapshot of
    # the rows leaves it empty; the renderer refuses a reference not in it.
    tls_files: tuple[tuple[str, str, str], ...] = ()
    # Octavia's additional_vips: more addresses every listener binds (dual stack)
    additional_vips: tuple[str, ...] = ()

    def pool(self, pool_id: str | None) -> Pool | None:
        return next((p for p in self.pools if p.id == pool_id), None)

    def tls_file(self, kind: str, ref: str) -> str | None:
        return next((f for k, r, f in self.tls_files if k == kind and r == ref), None)

    def tls_refs(self) -> tuple[tuple[str, str], ...]:
        """Every (kind, reference) the served listeners and pools name, in order, once."""
        wanted: list[tuple[str, str]] = []
        for lst in self.listeners:
            if lst.protocol != "TERMINATED_HTTPS":
                continue
            if lst.default_tls_container_ref:
                wanted.append(("cert", lst.default_tls_container_ref))
            wanted.extend(("cert", ref) for ref in lst.sni_container_refs)
            if lst.client_ca_tls_container_ref:
                wanted.append(("ca", lst.client_ca_tls_container_ref))
                if lst.client_crl_container_ref:
                    wanted.append(("crl", lst.client_crl_container_ref))
        for pool in self.pools:
            if not pool.tls_enabled:
                continue
            if pool.tls_container_ref:
                wanted.append(("cert", pool.tls_container_ref))
            if pool.ca_tls_container_ref:
                wanted.append(("ca", pool.ca_tls_container_ref))
                if pool.crl_container_ref:
                    wanted.append(("crl", pool.crl_container_ref))
        return tuple(dict.fromkeys(wanted))


@dataclass(frozen=True)
class Amphora:
    """The amphora a configuration is rendered for."""

    id: str
    lb_network_ip: str
    role: str = "STANDALONE"
    vrrp_priority: int | None = None
    # ACTIVE_STANDBY: both amphorae of the pair (this one included), whose HAProxy
    # processes share stick tables (a ``peers`` section); empty for SINGLE
    peers: tuple[Peer, ...] = ()


@dataclass(frozen=True)
class Peer:
    """One HAProxy of an ACTIVE_STANDBY pair: a name that survives a rebuild (the
    role) and the address its peers listener binds (the amphora's ``vrrp_ip``)."""

    name: str
    address: str
    amphora_id: str


@dataclass(frozen=True)
class RenderOptions:
    """Host-level knobs the renderer needs; passed in, never read from globals."""

    stats_socket: str = "/var/run/hydria/haproxy.sock"
    # The PING monitor's external check script (the agent installs it and says where).
    ping_check: str = "/var/lib/hydria/ping-check"
    # HAProxy refuses a global maxconn above what the open-file limit allows, so
    # the caller derives these from the amphora's real limits.
    max_connections: int = 8000
    user_group: str | None = None
    log_target: str | None = None
    # Log offloading (Octavia's tenant flow logs): where connection/HTTP logs go
    # ("host:port" over UDP, or a Unix socket path the agent reads), over TCP to
    # ``log_tcp_targets`` (a ring), in ``log_format`` (Octavia's user_log_format,
    # ``{{ project_id }}`` and ``{{ lb_id }}`` filled in); ``connection_logging``
    # False logs nothing (Octavia's ``no log``).
    log_targets: tuple[str, ...] = ()
    log_tcp_targets: tuple[str, ...] = ()
    log_format: str | None = None
    connection_logging: bool = True
    # the amphora's folder for listener and pool TLS material (the agent says where)
    tls_dir: str = "/var/lib/hydria/certs"
