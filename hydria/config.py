"""Settings, read once at start-up from ``HYDRIA_*`` environment variables
(or an optional TOML/ENV file) and passed down explicitly; nothing below the
entry points reads them on its own.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hydria.core import constants as c
from hydria.core.service_user import ServiceUser
from hydria.wire.agent_api import DEFAULT_AGENT_PORT, DEFAULT_USER_LOG_FORMAT, LogOffload

# the management network of the ``netns`` driver (Octavia's lb-mgmt-net) and its
# default VIP subnet: private ranges that exist only on the bridges Hydria makes
NETNS_MGMT_CIDR: Final = "10.243.0.0/16"
NETNS_DEFAULT_SUBNET_CIDR: Final = "10.242.0.0/16"


#: the shortest heartbeat interval accepted: 10 datagrams/s per amphora and
#: health manager, each verified (HMAC) by the receiver
HEARTBEAT_INTERVAL_FLOOR: Final = 0.1
#: the shortest heartbeat timeout accepted: a GC pause, a disk stall or a busy
#: host may hold an amphora's or the health manager's thread for a few hundred ms
HEARTBEAT_TIMEOUT_FLOOR: Final = 1.0
#: the timeout spans at least this many intervals: heartbeats are UDP datagrams,
#: and two lost in a row must not fail a healthy amphora over
MIN_HEARTBEATS_PER_TIMEOUT: Final = 3


def heartbeat_floor_problems(interval: float, timeout: float) -> list[str]:
    """What is wrong with these detection settings ([] when nothing is); pure."""
    problems = []
    if interval < HEARTBEAT_INTERVAL_FLOOR:
        problems.append(
            f"heartbeat_interval {interval:g} s is below the floor of "
            f"{HEARTBEAT_INTERVAL_FLOOR:g} s"
        )
    if timeout < HEARTBEAT_TIMEOUT_FLOOR:
        problems.append(
            f"heartbeat_timeout {timeout:g} s is below the floor of {HEARTBEAT_TIMEOUT_FLOOR:g} s"
        )
    if timeout < MIN_HEARTBEATS_PER_TIMEOUT * interval:
        problems.append(
            f"heartbeat_timeout {timeout:g} s must span at least "
            f"{MIN_HEARTBEATS_PER_TIMEOUT} heartbeat intervals ({interval:g} s each): "
            f"two lost heartbeats would fail a healthy amphora over"
        )
    return problems


def default_state_dir() -> Path:
    return Path.home() / ".hydria"


#: a quota a project has unless an operator sets its own (the API's bounds)
QuotaDefault = Annotated[int, Field(ge=c.QUOTA_UNLIMITED, le=c.QUOTA_MAX)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HYDRIA_", extra="ignore")

    state_dir: Path = Field(default_factory=default_state_dir)
    # empty: SQLite at <state_dir>/hydria.db
    database_url: str = ""
    # how long a starting service waits for an unreachable database before it gives up
    db_wait_seconds: float = 300.0

    api_host: str = "127.0.0.1"
    api_port: int = 9876
    # "noauth" (the caller names its project: loopback only unless
    # insecure_noauth_anywhere) or "keystone" (tokens validated by Keystone,
    # Octavia's policy); checked at start by hydria.api.auth.safety
    auth_strategy: str = "noauth"
    insecure_noauth_anywhere: bool = False
    # keystone: the identity v3 URL and the service user that validates tokens
    keystone_url: str = ""
    keystone_username: str = ""
    keystone_password: str = Field(default="", repr=False)
    keystone_project: str = "service"
    keystone_user_domain: str = "Default"
    keystone_project_domain: str = "Default"
    # how long a validated token is trusted without asking Keystone again
    # (Octavia's token_cache_time; hydria.api.auth.token_memo): a revoked token
    # works that long
    keystone_token_cache_seconds: int = Field(default=300, ge=0)
    # Octavia's policy: an operator's file (YAML or JSON) overrides the defaults;
    # false brings back Octavia's deprecated load-balancer_* role defaults
    policy_file: str = ""
    policy_enforce_new_defaults: bool = True
    max_body_bytes: int = 1024 * 1024

    # where listeners' and pools' TLS references are read (docs/operations.md):
    # "embedded" (Hydria's own Barbican-compatible /v1/secrets, payloads sealed
    # with the key in secret_key_file, default <state_dir>/secrets.key, 0600) or
    # "barbican" (a real Barbican through keystoneauth, as the keystone_* service
    # user; barbican_endpoint empty: Keystone's catalogue, type key-manager)
    secret_store: Literal["embedded", "barbican"] = "embedded"
    secret_key_file: Path | None = None
    barbican_endpoint: str = ""
    barbican_interface: str = "public"
    barbican_region: str = ""

    # amphorae
    compute_driver: str = "local"
    network_driver: str = "local"
    # the management network: with ``local``, loopback addresses; with ``netns``,
    # a bridge whose host side holds its first address (see _netns_defaults)
    mgmt_cidr: str = "127.43.0.0/16"
    mgmt_range_start: str = "127.43.0.10"
    mgmt_range_end: str = "127.43.255.250"
    agent_port: int = DEFAULT_AGENT_PORT
    amphora_max_connections: int = 0  # 0: derived from the open-file limit

    # ``netns`` drivers: the management bridge (its host side holds the first
    # address of ``mgmt_cidr``; with ``netns`` the mgmt_* and default subnet
    # settings default to NETNS_MGMT_CIDR and NETNS_DEFAULT_SUBNET_CIDR, and
    # heartbeats go to the host side of the bridge)
    netns_mgmt_bridge: str = Field(default="hydbr-mgmt", max_length=15)
    # housekeeping deletes a namespace of ours that lost its folder once this old
    netns_orphan_grace_seconds: float = 60.0
    # operator access to amphorae by ssh (netns): the key pair <state>/ssh/<name>
    # (made 0600 if missing), or an existing private key at amp_ssh_key_path;
    # an empty name and no path: no sshd in amphorae
    amp_ssh_key_name: str = "amphora"
    amp_ssh_key_path: Path | None = None
    amp_ssh_user: str = "ubuntu"
    # topology of a load balancer whose flavor does not set loadbalancer_topology
    # (ACTIVE_STANDBY: two amphorae with VRRP, netns only); VRRP advert interval
    default_topology: Literal["SINGLE", "ACTIVE_STANDBY"] = "SINGLE"
    vrrp_advert_int: float = Field(default=0.05, ge=0.01, le=255)
    # the project amphorae, their ports and addresses belong to (never a tenant's)
    service_project: str = "octavia"

    # default VIP subnet that ``hydria up`` creates
    default_subnet_name: str = "public"
    default_subnet_cidr: str = "127.42.0.0/16"

    # Prometheus text for `hydria controller`, `health`, `housekeeping` on this port
    # (0: off); `hydria api` and `hydria up` serve it at GET /metrics instead
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0

    # a GET of one PENDING_* object answers once its load balancer settled, waiting
    # at most this long (clients poll every 2-3 s; 0: answer at once; api/settle.py)
    api_settle_wait: float = Field(default=1.0, ge=0, le=30)

    # controller
    controller_workers: int = 4
    lease_seconds: float = 15.0
    poll_interval: float = 2.0
    max_attempts: int = 5
    amphora_boot_timeout: float = 30.0
    # a failover of an amphora that still serves lets its requests in flight
    # finish for up to this long before it goes (0: cut them)
    retire_drain_seconds: float = Field(default=5.0, ge=0, le=60)

    # log offloading, Octavia's option names ([amphora_agent], [haproxy_amphora]):
    # comma-separated "host:port" syslog targets; docs/operations.md
    tenant_log_targets: str = ""
    admin_log_targets: str = ""
    log_protocol: Literal["UDP", "TCP"] = "UDP"
    log_retry_count: int = Field(default=5, ge=0, le=100)
    disable_local_log_storage: bool = False
    connection_logging: bool = True
    user_log_format: str = DEFAULT_USER_LOG_FORMAT

    # health (heartbeats)
    # The deployment's heartbeat key (amphorae get keys derived from it). No
    # built-in one: this text, else the file named here, else
    # <state_dir>/heartbeat.key, which `hydria up` and `hydria certs init`
    # generate (0600); split services refuse to start without one.
    heartbeat_key: str = ""
    heartbeat_key_file: Path | None = None
    # Detection: an amphora silent for heartbeat_timeout is failed over. Fast
    # settings an operator can keep (docs/operations.md, "Failover time"):
    # interval 0.25 s, timeout 1 s (4 packets/s per amphora and health manager,
    # about 310 bytes each). Floors (_heartbeat_floors): interval >= 0.1 s,
    # timeout >= 1 s and >= 3 intervals, so two lost datagrams or a short stall
    # of a busy amphora or health manager never fail a healthy amphora over.
    heartbeat_interval: float = 10.0
    heartbeat_timeout: float = 60.0
    health_bind: str = "127.0.0.1:5555"
    # how often the health manager looks for amphorae whose heartbeats stopped
    health_check_interval: float = 1.0
    # storm guard: if more than this share of a fleet of at least ``min_fleet``
    # amphorae is silent at once, fail none over and raise an alarm instead
    failover_storm_threshold: float = 0.5
    failover_storm_min_fleet: int = 4

    # housekeeping
    # amphorae booted ahead of need: a create or failover takes one and skips the boot
    spare_amphora_pool_size: int = 0
    amphora_cert_days: int = 365
    # rotate an amphora's certificate when it expires within this many days
    cert_renew_before_days: float = 30.0
    housekeeping_interval: float = 30.0
    # listener and pool certificates: a warning (log) this many days before they
    # expire, and how often housekeeping reads them all from the secret store
    tls_expiry_warning_days: float = 30.0
    tls_expiry_check_interval: float = 3600.0
    # DELETED load balancers and amphorae stay visible this long (Octavia: a week)
    deleted_retention_days: float = 7.0

    # per-project quotas a project has unless an operator sets its own (-1: unlimited,
    # as Octavia's defaults); `openstack loadbalancer quota set` overrides them
    quota_load_balancer: QuotaDefault = c.QUOTA_UNLIMITED
    quota_listener: QuotaDefault = c.QUOTA_UNLIMITED
    quota_pool: QuotaDefault = c.QUOTA_UNLIMITED
    quota_health_monitor: QuotaDefault = c.QUOTA_UNLIMITED
    quota_member: QuotaDefault = c.QUOTA_UNLIMITED
    quota_l7policy: QuotaDefault = c.QUOTA_UNLIMITED
    quota_l7rule: QuotaDefault = c.QUOTA_UNLIMITED

    @property
    def service_user(self) -> ServiceUser:
        """The ``keystone_*`` user, for the API's token checks and a real Barbican."""
        return ServiceUser(
            auth_url=self.keystone_url,
            username=self.keystone_username,
            password=self.keystone_password,
            project_name=self.keystone_project,
            user_domain_name=self.keystone_user_domain,
            project_domain_name=self.keystone_project_domain,
        )

    @property
    def quota_defaults(self) -> dict[str, int]:
        """The default limit of every quota resource, by its ``hydria.db.quotas`` name."""
        return {
            "load_balancer": self.quota_load_balancer,
            "listener": self.quota_listener,
            "pool": self.quota_pool,
            "health_monitor": self.quota_health_monitor,
            "member": self.quota_member,
            "l7policy": self.quota_l7policy,
            "l7rule": self.quota_l7rule,
        }

    @model_validator(mode="after")
    def _heartbeat_floors(self) -> Settings:
        """Refuse detection settings that would fail healthy amphorae over."""
        problems = heartbeat_floor_problems(self.heartbeat_interval, self.heartbeat_timeout)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _netns_defaults(self) -> Settings:
        """With the ``netns`` driver, addresses that are not loopback ones."""
        if self.compute_driver != "netns":
            return self
        given = self.model_fields_set
        if "network_driver" not in given:
            self.network_driver = "netns"
        if "mgmt_cidr" not in given:
            self.mgmt_cidr = NETNS_MGMT_CIDR
        net = ipaddress.ip_network(self.mgmt_cidr, strict=False)
        if "mgmt_range_start" not in given:
            self.mgmt_range_start = str(net.network_address + 10)
        if "mgmt_range_end" not in given:
            self.mgmt_range_end = str(net.broadcast_address - 5)
        if "default_subnet_cidr" not in given:
            self.default_subnet_cidr = NETNS_DEFAULT_SUBNET_CIDR
        if "health_bind" not in given:
            self.health_bind = f"{self.mgmt_host_ip}:5555"
        return self

    @property
    def mgmt_host_ip(self) -> str:
        """The controllers' address on the management network (Octavia's o-hm0)."""
        return str(ipaddress.ip_network(self.mgmt_cidr, strict=False).network_address + 1)

    @property
    def ipv6_subnets(self) -> bool:
        """Whether an IPv6 VIP subnet can be served: ``netns`` gives each subnet a
        bridge and plumbs IPv6; ``noop`` plumbs nothing, so any address is as good
        (Octavia's no-op network driver takes IPv6 too); ``local`` has loopback's
        single IPv6 address."""
        return self.network_driver in ("netns", "noop")

    @property
    def amp_ssh_key(self) -> Path | None:
        """The private key of operator access to amphorae, or None when it is off."""
        if self.amp_ssh_key_path is not None:
            return self.amp_ssh_key_path
        if self.amp_ssh_key_name:
            return self.state_dir / "ssh" / self.amp_ssh_key_name
        return None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'hydria.db'}"

    @property
    def log_offload(self) -> LogOffload:
        def targets(text: str) -> tuple[str, ...]:
            return tuple(t.strip() for t in text.split(",") if t.strip())

        return LogOffload(
            tenant_log_targets=targets(self.tenant_log_targets),
            admin_log_targets=targets(self.admin_log_targets),
            log_protocol=self.log_protocol,
            log_retry_count=self.log_retry_count,
            disable_local_log_storage=self.disable_local_log_storage,
            connection_logging=self.connection_logging,
            user_log_format=self.user_log_format,
        )

    @property
    def amphorae_dir(self) -> Path:
        return self.state_dir / "amphorae"

    @property
    def default_heartbeat_key_file(self) -> Path:
        return self.state_dir / "heartbeat.key"

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.state_dir / "secrets.key"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"
