"""a load balancer's additional VIPs (Octavia's ``additional_vips``): one address
per extra subnet of the VIP's network, as [{"subnet_id", "ip_address"}]

Revision ID: 0015
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_balancers") as batch:
        batch.add_column(sa.Column("additional_vips", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("load_balancers") as batch:
        batch.drop_column("additional_vips")
