"""TERMINATED_HTTPS listeners and TLS pools: certificate references and TLS options

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_LISTENER: tuple[sa.Column[object], ...] = (
    sa.Column("default_tls_container_ref", sa.String(255), nullable=True),
    sa.Column("sni_container_refs", sa.JSON(), nullable=True),
    sa.Column("client_ca_tls_container_ref", sa.String(255), nullable=True),
    sa.Column("client_authentication", sa.String(16), nullable=True),
    sa.Column("client_crl_container_ref", sa.String(255), nullable=True),
    sa.Column("tls_ciphers", sa.String(2048), nullable=True),
    sa.Column("tls_versions", sa.JSON(), nullable=True),
    sa.Column("alpn_protocols", sa.JSON(), nullable=True),
    sa.Column("hsts_max_age", sa.Integer(), nullable=True),
    sa.Column("hsts_include_subdomains", sa.Boolean(), nullable=True),
    sa.Column("hsts_preload", sa.Boolean(), nullable=True),
)
_POOL: tuple[sa.Column[object], ...] = (
    sa.Column("tls_container_ref", sa.String(255), nullable=True),
    sa.Column("ca_tls_container_ref", sa.String(255), nullable=True),
    sa.Column("crl_container_ref", sa.String(255), nullable=True),
    sa.Column("tls_ciphers", sa.String(2048), nullable=True),
    sa.Column("alpn_protocols", sa.JSON(), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("listeners") as batch:
        for column in _LISTENER:
            batch.add_column(column.copy())
    with op.batch_alter_table("pools") as batch:
        for column in _POOL:
            batch.add_column(column.copy())


def downgrade() -> None:
    with op.batch_alter_table("pools") as batch:
        for column in reversed(_POOL):
            batch.drop_column(column.name)
    with op.batch_alter_table("listeners") as batch:
        for column in reversed(_LISTENER):
            batch.drop_column(column.name)
