"""A frozen snapshot of one load balancer's object graph.

The controller reads the rows once (``hydria.db.snapshot``) and hands this value
to everything downstream: the renderer is a pure function of it, and the plan of
what to change is computed from it. Nothing here touches a database or a driver.
Only what the data plane needs is carried; API-only fields (names, tags, times)
stay in the database.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    weight: int = 1
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


@dataclass(frozen=True)
class Listener:
    id: str
    protocol: str
    protocol_port: int
    admin_state_up: bool = True
    connection_limit: int = -1  # -1: unlimited (bounded by the host, see RenderOptions)
    default_pool_id: str | None = None
    timeout_client_data: int = 50000  # milliseconds, as Octavia
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    insert_headers: tuple[tuple[str, str], ...] = ()
    allowed_cidrs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    vip_address: str
    admin_state_up: bool = True
    topology: str = "SINGLE"
    listeners: tuple[Listener, ...] = ()
    project_id: str = ""  # for the tenant flow log format
    pools: tuple[Pool, ...] = ()
    # Octavia's additional_vips: more addresses every listener binds (dual stack)
    additional_vips: tuple[str, ...] = ()

    def pool(self, pool_id: str | None) -> Pool | None:
        return next((p for p in self.pools if p.id == pool_id), None)


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
