"""amphorae booted before per-amphora heartbeat keys are rebuilt

Amphorae that exist when this revision runs were booted with the one heartbeat
key the whole deployment shared (and its v1 envelope), which the health
manager no longer accepts. Rather than keep a shared key alive, each one is
rebuilt with a key of its own: serving amphorae are marked for failover (the
controller replaces them one load balancer at a time, the VIP moving to the
new amphora), spares go to PENDING_DELETE (housekeeping removes them and boots
new ones). A new database has no rows, so nothing happens there.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    amphorae = sa.table(
        "amphorae",
        sa.column("status", sa.String),
        sa.column("load_balancer_id", sa.String),
        sa.column("failover_requested", sa.Boolean),
    )
    op.execute(
        amphorae.update()
        .where(
            amphorae.c.load_balancer_id.is_not(None),
            amphorae.c.status.in_(["ALLOCATED", "BOOTING"]),
        )
        .values(failover_requested=True)
    )
    op.execute(
        amphorae.update()
        .where(amphorae.c.load_balancer_id.is_(None), amphorae.c.status.in_(["READY", "BOOTING"]))
        .values(status="PENDING_DELETE")
    )


def downgrade() -> None:
    pass  # nothing to undo: the rebuilt amphorae are ordinary ones
