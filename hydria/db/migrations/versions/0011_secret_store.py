"""the embedded secret store: Barbican-style secrets (encrypted payloads) and containers

Revision ID: 0011
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("creator_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("secret_type", sa.String(80), nullable=False),
        sa.Column("algorithm", sa.String(255), nullable=True),
        sa.Column("bit_length", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(255), nullable=True),
        sa.Column("expiration", sa.DateTime(), nullable=True),
        sa.Column("content_type", sa.String(255), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_secrets_project_created", "secrets", ["project_id", "created_at", "id"])
    op.create_table(
        "secret_containers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36), nullable=False),
        sa.Column("creator_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("secret_refs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    )
    op.create_index(
        "ix_secret_containers_project_created",
        "secret_containers",
        ["project_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_secret_containers_project_created", table_name="secret_containers")
    op.drop_table("secret_containers")
    op.drop_index("ix_secrets_project_created", table_name="secrets")
    op.drop_table("secrets")
