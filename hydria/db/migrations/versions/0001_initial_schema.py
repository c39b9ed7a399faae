"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:31:02.161579
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "address_allocations",
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pool", "address"),
    )
    with op.batch_alter_table("address_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_allocations_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "amphora_health",
        sa.Column("amphora_id", sa.String(length=36), nullable=False),
        sa.Column("last_update", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("busy", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("amphora_id"),
    )
    op.create_table(
        "load_balancers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("topology", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("flavor_id", sa.String(length=36), nullable=True),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("vip_address", sa.String(length=64), nullable=True),
        sa.Column("vip_subnet_id", sa.String(length=36), nullable=True),
        sa.Column("vip_network_id", sa.String(length=36), nullable=True),
        sa.Column("vip_port_id", sa.String(length=36), nullable=True),
        sa.Column("vip_qos_policy_id", sa.String(length=36), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("applied_generation", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("load_balancers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_load_balancers_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_load_balancers_provisioning_status"),
            ["provisioning_status"],
            unique=False,
        )

    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "amphorae",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("load_balancer_id", sa.String(length=36), nullable=True),
        sa.Column("compute_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=36), nullable=True),
        sa.Column("lb_network_ip", sa.String(length=64), nullable=True),
        sa.Column("vrrp_ip", sa.String(length=64), nullable=True),
        sa.Column("ha_ip", sa.String(length=64), nullable=True),
        sa.Column("vrrp_port_id", sa.String(length=36), nullable=True),
        sa.Column("ha_port_id", sa.String(length=36), nullable=True),
        sa.Column("vrrp_interface", sa.String(length=16), nullable=True),
        sa.Column("vrrp_id", sa.Integer(), nullable=True),
        sa.Column("vrrp_priority", sa.Integer(), nullable=True),
        sa.Column("cert_expiration", sa.DateTime(), nullable=True),
        sa.Column("cert_busy", sa.Boolean(), nullable=False),
        sa.Column("cached_zone", sa.String(length=255), nullable=True),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("compute_flavor", sa.String(length=255), nullable=True),
        sa.Column("config_generation", sa.Integer(), nullable=False),
        sa.Column("failover_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_balancer_id"],
            ["load_balancers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("amphorae", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_amphorae_load_balancer_id"), ["load_balancer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_amphorae_status"), ["status"], unique=False)

    op.create_table(
        "listeners",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("load_balancer_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("protocol_port", sa.Integer(), nullable=False),
        sa.Column("connection_limit", sa.Integer(), nullable=False),
        sa.Column("default_pool_id", sa.String(length=36), nullable=True),
        sa.Column("timeout_client_data", sa.Integer(), nullable=False),
        sa.Column("timeout_member_connect", sa.Integer(), nullable=False),
        sa.Column("timeout_member_data", sa.Integer(), nullable=False),
        sa.Column("timeout_tcp_inspect", sa.Integer(), nullable=False),
        sa.Column("insert_headers", sa.JSON(), nullable=False),
        sa.Column("allowed_cidrs", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_balancer_id"],
            ["load_balancers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("load_balancer_id", "protocol_port", "protocol"),
    )
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listeners_load_balancer_id"), ["load_balancer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_listeners_project_id"), ["project_id"], unique=False)

    op.create_table(
        "pools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("load_balancer_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=False),
        sa.Column("lb_algorithm", sa.String(length=32), nullable=False),
        sa.Column("session_persistence", sa.JSON(), nullable=True),
        sa.Column("tls_enabled", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_balancer_id"],
            ["load_balancers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pools_load_balancer_id"), ["load_balancer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pools_project_id"), ["project_id"], unique=False)

    op.create_table(
        "subnets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("allocation_start", sa.String(length=64), nullable=False),
        sa.Column("allocation_end", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subnets_name"), ["name"], unique=False)

    op.create_table(
        "health_monitors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("pool_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=36), nullable=False),
        sa.Column("delay", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("max_retries_down", sa.Integer(), nullable=False),
        sa.Column("http_method", sa.String(length=16), nullable=True),
        sa.Column("url_path", sa.String(length=2048), nullable=True),
        sa.Column("expected_codes", sa.String(length=64), nullable=True),
        sa.Column("http_version", sa.Float(), nullable=True),
        sa.Column("domain_name", sa.String(length=255), nullable=True),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool_id"),
    )
    with op.batch_alter_table("health_monitors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_monitors_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "members",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("pool_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("protocol_port", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("backup", sa.Boolean(), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("subnet_id", sa.String(length=36), nullable=True),
        sa.Column("monitor_address", sa.String(length=64), nullable=True),
        sa.Column("monitor_port", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool_id", "address", "protocol_port"),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_members_pool_id"), ["pool_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_members_project_id"), ["project_id"], unique=False)
    # listeners and pools point at each other; the listener side comes last
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_listener_default_pool", "pools", ["default_pool_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.drop_constraint("fk_listener_default_pool", type_="foreignkey")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_project_id"))
        batch_op.drop_index(batch_op.f("ix_members_pool_id"))

    op.drop_table("members")
    with op.batch_alter_table("health_monitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_monitors_project_id"))

    op.drop_table("health_monitors")
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subnets_name"))

    op.drop_table("subnets")
    with op.batch_alter_table("pools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pools_project_id"))
        batch_op.drop_index(batch_op.f("ix_pools_load_balancer_id"))

    op.drop_table("pools")
    with op.batch_alter_table("listeners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listeners_project_id"))
        batch_op.drop_index(batch_op.f("ix_listeners_load_balancer_id"))

    op.drop_table("listeners")
    with op.batch_alter_table("amphorae", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amphorae_status"))
        batch_op.drop_index(batch_op.f("ix_amphorae_load_balancer_id"))

    op.drop_table("amphorae")
    op.drop_table("networks")
    with op.batch_alter_table("load_balancers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_balancers_provisioning_status"))
        batch_op.drop_index(batch_op.f("ix_load_balancers_project_id"))

    op.drop_table("load_balancers")
    op.drop_table("amphora_health")
    with op.batch_alter_table("address_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_allocations_owner_id"))

    op.drop_table("address_allocations")
