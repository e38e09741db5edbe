"""tenants' own tools: registered tools and revisions, encrypted secrets, signing keys, the
workers' tool catalog, and MCP servers on agent versions

Revision ID: 0008_tools
Revises: 0007_tenant_limits
Create Date: 2026-12-07 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0008_tools'
down_revision: str | None = '0007_tenant_limits'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TENANT_TABLES = ('tools', 'tool_revisions', 'tool_secrets', 'tool_signing_keys')


def upgrade() -> None:
    op.add_column(
        'agent_versions',
        sa.Column(
            'mcp_servers',
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            server_default=sa.text("'[]'::jsonb"),
        ),
    )
    op.create_table(
        'tools',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('latest_revision', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_tools_tenant_id', 'tools', ['tenant_id'], unique=False)
    op.create_index(
        'uq_tools_tenant_name_live',
        'tools',
        ['tenant_id', 'name'],
        unique=True,
        postgresql_where=sa.text('deleted_at IS NULL'),
    )
    op.create_table(
        'tool_revisions',
        sa.Column('tool_id', sa.String(length=40), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('description', sa.String(), nullable=False),
        sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('http', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['tool_id'], ['tools.id']),
        sa.PrimaryKeyConstraint('tool_id', 'revision'),
    )
    op.create_index('ix_tool_revisions_tenant_id', 'tool_revisions', ['tenant_id'], unique=False)
    op.create_table(
        'tool_secrets',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(length=2000), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.Column('key_id', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_tool_secrets_tenant_id', 'tool_secrets', ['tenant_id'], unique=False)
    op.create_index(
        'uq_tool_secrets_tenant_name_live',
        'tool_secrets',
        ['tenant_id', 'name'],
        unique=True,
        postgresql_where=sa.text('deleted_at IS NULL'),
    )
    op.create_table(
        'tool_signing_keys',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
        sa.Column('key_id', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_tool_signing_keys_tenant_id', 'tool_signing_keys', ['tenant_id'], unique=False)
    op.create_table(
        'tool_catalog',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('description', sa.String(), nullable=False),
        sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('worker', sa.String(length=200), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    for table in _TENANT_TABLES:
        enable_tenant_rls(op.execute, table)
    # The catalog is deployment-wide: tenants read it, only workers (system sessions) write it.
    op.execute('REVOKE INSERT, UPDATE, DELETE ON tool_catalog FROM agent_runtime_app')


def downgrade() -> None:
    for table in _TENANT_TABLES:
        for statement in disable_tenant_rls_sql(table):
            op.execute(statement)
    op.drop_table('tool_catalog')
    op.drop_table('tool_signing_keys')
    op.drop_table('tool_secrets')
    op.drop_table('tool_revisions')
    op.drop_table('tools')
    op.drop_column('agent_versions', 'mcp_servers')
