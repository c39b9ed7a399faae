"""The schema: one table per Octavia object, plus the controller's bookkeeping.

Rows are the desired state. The controller's columns on ``load_balancers``
(``generation``, ``applied_generation``, ``lease_owner``, ``lease_expires_at``,
``attempts``, ``next_attempt_at``, ``error_reason``) make work claimable by any
number of controllers (see ``hydria.db.leases``): every API write bumps
``generation``; a controller that converged generation N records it, so an
update that lands while it works is never lost.

The schema is owned by Alembic (``hydria/db/migrations``); these classes must
match the newest migration, which a test checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Naive UTC in the database, so SQLite and PostgreSQL compare alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(default=None, onupdate=utcnow)


class Provisioned(Timestamps):
    """The columns every object under a load balancer has, written once.

    Listeners, pools, members, health monitors, L7 policies and L7 rules: a
    project owns each, each can be disabled, carries tags, and has its own
    provisioning and operating status (what Octavia shows for it).
    """

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    provisioning_status: Mapped[str] = mapped_column(String(16))
    operating_status: Mapped[str] = mapped_column(String(16))


class Network(Base, Timestamps):
    """A VIP network, as the Neutron-compatible read API shows it."""

    __tablename__ = "networks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    project_id: Mapped[str] = mapped_column(String(36), default="")
    subnets: Mapped[list[Subnet]] = relationship(back_populates="network")


class Subnet(Base, Timestamps):
    """Operator data: where VIP addresses come from."""

    __tablename__ = "subnets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="", index=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"))
    project_id: Mapped[str] = mapped_column(String(36), default="")
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    gateway_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    allocation_start: Mapped[str] = mapped_column(String(64))
    allocation_end: Mapped[str] = mapped_column(String(64))
    network: Mapped[Network] = relationship(back_populates="subnets")


class AddressAllocation(Base):
    """One address handed out from a range: a VIP, or an amphora's management IP.

    The primary key makes double allocation impossible, whichever process tries.
    """

    __tablename__ = "address_allocations"
    pool: Mapped[str] = mapped_column(String(64), primary_key=True)  # subnet id or "lb-mgmt"
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(36), index=True)  # LB id or amphora id
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoadBalancer(Base, Timestamps):
    __tablename__ = "load_balancers"
    __table_args__ = (
        Index("ix_load_balancers_list", "project_id", "created_at", "id"),
        Index("ix_load_balancers_order", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioning_status: Mapped[str] = mapped_column(String(16), index=True)
    operating_status: Mapped[str] = mapped_column(String(16))
    topology: Mapped[str] = mapped_column(String(16), default="SINGLE")
    provider: Mapped[str] = mapped_column(String(64), default="amphora")
    flavor_id: Mapped[str | None] = mapped_column(String(36), default=None)
    availability_zone: Mapped[str | None] = mapped_column(String(255), default=None)
    vip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    vip_subnet_id: Mapped[str | None] = mapped_column(String(36), default=None)
    vip_network_id: Mapped[str | None] = mapped_column(String(36), default=None)
    vip_port_id: Mapped[str | None] = mapped_column(String(36), default=None)
    vip_qos_policy_id: Mapped[str | None] = mapped_column(String(36), default=None)
    # Octavia's additional_vips: [{"subnet_id", "ip_address"}], addresses owned by the LB
    additional_vips: Mapped[list[Any] | None] = mapped_column(JSON, default=list)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)

    # controller bookkeeping (never shown by the API)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    applied_generation: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error_reason: Mapped[str | None] = mapped_column(Text, default=None)

    listeners: Mapped[list[Listener]] = relationship(
        back_populates="load_balancer", order_by="Listener.created_at"
    )
    pools: Mapped[list[Pool]] = relationship(
        back_populates="load_balancer", order_by="Pool.created_at"
    )
    amphorae: Mapped[list[Amphora]] = relationship(back_populates="load_balancer")


class Listener(Base, Provisioned):
    __tablename__ = "listeners"
    __table_args__ = (
        UniqueConstraint("load_balancer_id", "protocol_port", "protocol"),
        Index("ix_listeners_list", "project_id", "created_at", "id"),
    )
    load_balancer_id: Mapped[str] = mapped_column(ForeignKey("load_balancers.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    protocol: Mapped[str] = mapped_column(String(32))
    protocol_port: Mapped[int] = mapped_column(Integer)
    connection_limit: Mapped[int] = mapped_column(Integer, default=-1)
    default_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pools.id", use_alter=True, name="fk_listener_default_pool"), default=None
    )
    timeout_client_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_member_connect: Mapped[int] = mapped_column(Integer, default=5000)
    timeout_member_data: Mapped[int] = mapped_column(Integer, default=50000)
    timeout_tcp_inspect: Mapped[int] = mapped_column(Integer, default=0)
    insert_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    allowed_cidrs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # TERMINATED_HTTPS (references into the secret store, and the TLS options)
    default_tls_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    sni_container_refs: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    client_ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    client_authentication: Mapped[str | None] = mapped_column(String(16), default="NONE")
    client_crl_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), default=None)
    tls_versions: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    hsts_max_age: Mapped[int | None] = mapped_column(Integer, default=None)
    hsts_include_subdomains: Mapped[bool | None] = mapped_column(Boolean, default=False)
    hsts_preload: Mapped[bool | None] = mapped_column(Boolean, default=False)

    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="listeners")
    l7policies: Mapped[list[L7Policy]] = relationship(
        back_populates="listener", order_by="L7Policy.position"
    )


class Pool(Base, Provisioned):
    __tablename__ = "pools"
    __table_args__ = (Index("ix_pools_list", "project_id", "created_at", "id"),)
    load_balancer_id: Mapped[str] = mapped_column(ForeignKey("load_balancers.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    protocol: Mapped[str] = mapped_column(String(32))
    lb_algorithm: Mapped[str] = mapped_column(String(32))
    session_persistence: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tls_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tls_versions: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    # TLS to members: Hydria's client certificate, the CA and CRL members are checked with
    tls_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    ca_tls_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    crl_container_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    tls_ciphers: Mapped[str | None] = mapped_column(String(2048), default=None)
    alpn_protocols: Mapped[list[str] | None] = mapped_column(JSON, default=None)

    load_balancer: Mapped[LoadBalancer] = relationship(back_populates="pools")
    members: Mapped[list[Member]] = relationship(
        back_populates="pool", order_by="Member.created_at"
    )
    health_monitor: Mapped[HealthMonitor | None] = relationship(back_populates="pool")


class Member(Base, Provisioned):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("pool_id", "address", "protocol_port"),
        Index("ix_members_list", "pool_id", "created_at", "id"),
    )
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    address: Mapped[str] = mapped_column(String(64))
    protocol_port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    backup: Mapped[bool] = mapped_column(Boolean, default=False)
    subnet_id: Mapped[str | None] = mapped_column(String(36), default=None)
    monitor_address: Mapped[str | None] = mapped_column(String(64), default=None)
    monitor_port: Mapped[int | None] = mapped_column(Integer, default=None)

    pool: Mapped[Pool] = relationship(back_populates="members")


class HealthMonitor(Base, Provisioned):
    __tablename__ = "health_monitors"
    __table_args__ = (Index("ix_health_monitors_list", "project_id", "created_at", "id"),)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    type: Mapped[str] = mapped_column(String(36))
    delay: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer)
    max_retries_down: Mapped[int] = mapped_column(Integer, default=3)
    http_method: Mapped[str | None] = mapped_column(String(16), default=None)
    url_path: Mapped[str | None] = mapped_column(String(2048), default=None)
    expected_codes: Mapped[str | None] = mapped_column(String(64), default=None)
    http_version: Mapped[float | None] = mapped_column(Float, default=None)
    domain_name: Mapped[str | None] = mapped_column(String(255), default=None)

    pool: Mapped[Pool] = relationship(back_populates="health_monitor")


class L7Policy(Base, Provisioned):
    """A listener's rule-driven action; ``position`` orders a listener's policies (1..n)."""

    __tablename__ = "l7policies"
    __table_args__ = (Index("ix_l7policies_list", "project_id", "created_at", "id"),)
    listener_id: Mapped[str] = mapped_column(ForeignKey("listeners.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    action: Mapped[str] = mapped_column(String(36))
    redirect_pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pools.id"), default=None, index=True
    )
    redirect_url: Mapped[str | None] = mapped_column(String(255), default=None)
    redirect_prefix: Mapped[str | None] = mapped_column(String(255), default=None)
    redirect_http_code: Mapped[int | None] = mapped_column(Integer, default=None)
    position: Mapped[int] = mapped_column(Integer)

    listener: Mapped[Listener] = relationship(back_populates="l7policies")
    rules: Mapped[list[L7Rule]] = relationship(
        back_populates="policy", order_by="L7Rule.created_at"
    )


class L7Rule(Base, Provisioned):
    """One condition of a policy; a policy matches when all its enabled rules do."""

    __tablename__ = "l7rules"
    __table_args__ = (Index("ix_l7rules_list", "l7policy_id", "created_at", "id"),)
    l7policy_id: Mapped[str] = mapped_column(ForeignKey("l7policies.id"))
    type: Mapped[str] = mapped_column(String(36))
    compare_type: Mapped[str] = mapped_column(String(36))
    key: Mapped[str | None] = mapped_column(String(255), default=None)
    value: Mapped[str] = mapped_column(String(255))
    invert: Mapped[bool] = mapped_column(Boolean, default=False)

    policy: Mapped[L7Policy] = relationship(back_populates="rules")


class Amphora(Base, Timestamps):
    """An instance that runs HAProxy for one load balancer (or waits as a spare)."""

    __tablename__ = "amphorae"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    load_balancer_id: Mapped[str | None] = mapped_column(
        ForeignKey("load_balancers.id"), default=None, index=True
    )
    compute_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(36), index=True)
    role: Mapped[str | None] = mapped_column(String(36), default=None)
    lb_network_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    vrrp_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    ha_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    vrrp_port_id: Mapped[str | None] = mapped_column(String(36), default=None)
    ha_port_id: Mapped[str | None] = mapped_column(String(36), default=None)
    vrrp_interface: Mapped[str | None] = mapped_column(String(16), default=None)
    vrrp_id: Mapped[int | None] = mapped_column(Integer, default=None)
    vrrp_priority: Mapped[int | None] = mapped_column(Integer, default=None)
    cert_expiration: Mapped[dt.datetime | None] = mapped_column(default=None)
    cert_busy: Mapped[bool] = mapped_column(Boolean, default=False)
    # a rotation's claim ends by itself, so a housekeeper killed mid-rotation
    # does not leave the amphora unrotatable
    cert_busy_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    cached_zone: Mapped[str | None] = mapped_column(String(255), default=None)
    image_id: Mapped[str | None] = mapped_column(String(36), default=None)
    compute_flavor: Mapped[str | None] = mapped_column(String(255), default=None)
    # set by the health manager or an operator; the controller replaces the amphora
    failover_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # why the controller's last step on this amphora failed (HAProxy's own words, a
    # bind failure, a boot timeout); cleared when it serves its configuration again
    error_reason: Mapped[str | None] = mapped_column(Text, default=None)

    load_balancer: Mapped[LoadBalancer | None] = relationship(back_populates="amphorae")


class AmphoraHealth(Base):
    """Last heartbeat seen from an amphora (written by the health manager)."""

    __tablename__ = "amphora_health"
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    last_update: Mapped[dt.datetime] = mapped_column(default=utcnow)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    busy: Mapped[bool] = mapped_column(Boolean, default=False)


class ListenerStatistics(Base):
    """Counters per listener and amphora, from heartbeats (as Octavia keeps them).

    Counters are the amphora's running totals; the API sums them over the
    amphorae of a listener (and of a load balancer).
    """

    __tablename__ = "listener_statistics"
    listener_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    amphora_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    active_connections: Mapped[int] = mapped_column(Integer, default=0)
    total_connections: Mapped[int] = mapped_column(BigInteger, default=0)
    request_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Alarm(Base):
    """A condition an operator must see, raised by one process and shown by every
    API process (e.g. the health manager's failover storm guard)."""

    __tablename__ = "alarms"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Quota(Base, Timestamps):
    """A project's own limits; a NULL column means "the configured default".

    The row is also what concurrent creates in one project queue on
    (``hydria.db.quotas``), so it exists for every project that created
    something under a limit, whether or not an operator set a value.
    """

    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    load_balancer: Mapped[int | None] = mapped_column(Integer, default=None)
    listener: Mapped[int | None] = mapped_column(Integer, default=None)
    pool: Mapped[int | None] = mapped_column(Integer, default=None)
    health_monitor: Mapped[int | None] = mapped_column(Integer, default=None)
    member: Mapped[int | None] = mapped_column(Integer, default=None)
    l7policy: Mapped[int | None] = mapped_column(Integer, default=None)
    l7rule: Mapped[int | None] = mapped_column(Integer, default=None)

    @property
    def id(self) -> str:
        """Quotas are keyed by project; listing pages use it as their marker."""
        return self.project_id


class ProviderProfile(Timestamps):
    """Operator data: provider settings (a JSON text) that flavors or zones point to."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str] = mapped_column(String(255))


class Offered(Timestamps):
    """What users pick at load balancer create, as the operator offers it."""

    description: Mapped[str | None] = mapped_column(String(255), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class FlavorProfile(Base, ProviderProfile):
    __tablename__ = "flavor_profiles"
    flavor_data: Mapped[str] = mapped_column(String(4096))


class Flavor(Base, Offered):
    """Picked by ``flavor_id``."""

    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    flavor_profile_id: Mapped[str] = mapped_column(ForeignKey("flavor_profiles.id"), index=True)


class AvailabilityZoneProfile(Base, ProviderProfile):
    __tablename__ = "availability_zone_profiles"
    availability_zone_data: Mapped[str] = mapped_column(String(4096))


class AvailabilityZone(Base, Offered):
    """Picked by name (``availability_zone``)."""

    __tablename__ = "availability_zones"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    availability_zone_profile_id: Mapped[str] = mapped_column(
        ForeignKey("availability_zone_profiles.id"), index=True
    )

    @property
    def id(self) -> str:
        """Zones are keyed by name; listing pages use it as their marker."""
        return self.name


class StoredSecret(Base, Timestamps):
    """A secret of the embedded, Barbican-compatible store (``/v1/secrets``).

    The payload is AES-GCM ciphertext (``hydria.db.secret_box``), bound to the
    row's id; nothing else here is secret. ``content_type`` is the payload's
    normalised media type (``None``: no payload yet).
    """

    __tablename__ = "secrets"
    __table_args__ = (Index("ix_secrets_project_created", "project_id", "created_at", "id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36))
    creator_id: Mapped[str | None] = mapped_column(String(64), default=None)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    secret_type: Mapped[str] = mapped_column(String(80), default="opaque")
    algorithm: Mapped[str | None] = mapped_column(String(255), default=None)
    bit_length: Mapped[int | None] = mapped_column(Integer, default=None)
    mode: Mapped[str | None] = mapped_column(String(255), default=None)
    expiration: Mapped[dt.datetime | None] = mapped_column(default=None)
    content_type: Mapped[str | None] = mapped_column(String(255), default=None)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class SecretContainer(Base, Timestamps):
    """A container of the embedded store (``/v1/containers``): named references
    to secrets of the same project (``secret_refs``: ``[{"name", "secret_id"}]``)."""

    __tablename__ = "secret_containers"
    __table_args__ = (
        Index("ix_secret_containers_project_created", "project_id", "created_at", "id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36))
    creator_id: Mapped[str | None] = mapped_column(String(64), default=None)
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    type: Mapped[str] = mapped_column(String(20))
    secret_refs: Mapped[list[Any]] = mapped_column(default=list)
