"""indexes that keep a page of a list as cheap at 1,000,000 rows as at 1,000

Lists are keyset pages ordered by ``created_at, id`` (``hydria.services.listing``),
within the caller's project (or, for members, their pool): these indexes let the
database walk straight to the page instead of sorting every row.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_load_balancers_list", "load_balancers", ["project_id", "created_at", "id"]),
    ("ix_load_balancers_order", "load_balancers", ["created_at", "id"]),
    ("ix_listeners_list", "listeners", ["project_id", "created_at", "id"]),
    ("ix_pools_list", "pools", ["project_id", "created_at", "id"]),
    ("ix_members_list", "members", ["pool_id", "created_at", "id"]),
    ("ix_health_monitors_list", "health_monitors", ["project_id", "created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
