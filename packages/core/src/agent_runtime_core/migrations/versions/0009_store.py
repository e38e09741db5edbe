"""long-term memory store: tenants' store items, and the memory configuration of agent versions

Revision ID: 0009_store
Revises: 0008_tools
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0009_store'
down_revision: str | None = '0008_tools'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'agent_versions',
        sa.Column('memory', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.create_table(
        'store_items',
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('namespace_path', sa.Text(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('namespace', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ttl_s', sa.Integer(), nullable=True),
        sa.Column('embedding', postgresql.ARRAY(sa.Float()), nullable=True),
        sa.Column('embedding_model', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'namespace_path', 'key'),
    )
    # Prefix search: `namespace_path LIKE 'a.b.%'` (or equal) is a range scan of this index.
    op.execute(
        'CREATE INDEX ix_store_items_namespace_prefix ON store_items (tenant_id, namespace_path text_pattern_ops)'
    )
    # Filters: `value @> '{...}'`.
    op.create_index(
        'ix_store_items_value',
        'store_items',
        ['value'],
        postgresql_using='gin',
        postgresql_ops={'value': 'jsonb_path_ops'},
    )
    op.create_index(
        'ix_store_items_expires_at',
        'store_items',
        ['expires_at'],
        postgresql_where=sa.text('expires_at IS NOT NULL'),
    )
    enable_tenant_rls(op.execute, 'store_items')


def downgrade() -> None:
    for statement in disable_tenant_rls_sql('store_items'):
        op.execute(statement)
    op.drop_table('store_items')
    op.drop_column('agent_versions', 'memory')
