"""quotas, flavors and availability zones (with their profiles)

Revision ID: 0005
Revises: 0004
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=True)
            for name in (
                "load_balancer",
                "listener",
                "pool",
                "health_monitor",
                "member",
                "l7policy",
                "l7rule",
            )
        ],
        *_timestamps(),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "flavor_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("flavor_data", sa.String(length=4096), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "flavors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("flavor_profile_id", sa.String(length=36), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["flavor_profile_id"], ["flavor_profiles.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_flavors_flavor_profile_id", "flavors", ["flavor_profile_id"])
    op.create_table(
        "availability_zone_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("provider_name", sa.String(length=255), nullable=False),
        sa.Column("availability_zone_data", sa.String(length=4096), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "availability_zones",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("availability_zone_profile_id", sa.String(length=36), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["availability_zone_profile_id"], ["availability_zone_profiles.id"]
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index(
        "ix_availability_zones_availability_zone_profile_id",
        "availability_zones",
        ["availability_zone_profile_id"],
    )


def downgrade() -> None:
    op.drop_table("availability_zones")
    op.drop_table("availability_zone_profiles")
    op.drop_table("flavors")
    op.drop_table("flavor_profiles")
    op.drop_table("quotas")
