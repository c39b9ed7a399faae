"""L7 policies and their rules (Octavia's ``l7policy`` and ``l7rule``)

Revision ID: 0010
Revises: 0009
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column[Any]]:
    return [
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("provisioning_status", sa.String(length=16), nullable=False),
        sa.Column("operating_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "l7policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("listener_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=36), nullable=False),
        sa.Column("redirect_pool_id", sa.String(length=36), nullable=True),
        sa.Column("redirect_url", sa.String(length=255), nullable=True),
        sa.Column("redirect_prefix", sa.String(length=255), nullable=True),
        sa.Column("redirect_http_code", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(["listener_id"], ["listeners.id"]),
        sa.ForeignKeyConstraint(["redirect_pool_id"], ["pools.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_l7policies_project_id", "l7policies", ["project_id"])
    op.create_index("ix_l7policies_listener_id", "l7policies", ["listener_id"])
    op.create_index("ix_l7policies_redirect_pool_id", "l7policies", ["redirect_pool_id"])
    op.create_index("ix_l7policies_list", "l7policies", ["project_id", "created_at", "id"])
    op.create_table(
        "l7rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("l7policy_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=36), nullable=False),
        sa.Column("compare_type", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("invert", sa.Boolean(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(["l7policy_id"], ["l7policies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_l7rules_project_id", "l7rules", ["project_id"])
    op.create_index("ix_l7rules_list", "l7rules", ["l7policy_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("l7rules")
    op.drop_table("l7policies")
