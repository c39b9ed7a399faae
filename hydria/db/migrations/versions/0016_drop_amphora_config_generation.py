"""amphorae lose ``config_generation``: nothing read it (a live amphora runs its
load balancer's ``applied_generation``; the agent reports its own version), and
writing it cost every converged change one UPDATE per serving amphora

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("amphorae") as batch:
        batch.drop_column("config_generation")


def downgrade() -> None:
    with op.batch_alter_table("amphorae") as batch:
        batch.add_column(
            sa.Column("config_generation", sa.Integer(), nullable=False, server_default="0")
        )
