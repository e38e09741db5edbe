"""artifacts: files of a tenant (bytes in object storage), optionally tied to a run or thread

Revision ID: 0014_artifacts
Revises: 0013_human_request_inbox
Create Date: 2026-12-15 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0014_artifacts'
down_revision: str | None = '0013_human_request_inbox'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'artifacts',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=255), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=True),
        sa.Column('thread_id', sa.String(length=40), nullable=True),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('object_key', sa.String(length=300), nullable=False),
        sa.Column('upload_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_artifacts_tenant_id', 'artifacts', ['tenant_id', 'id'])
    op.create_index(
        'ix_artifacts_run_id',
        'artifacts',
        ['tenant_id', 'run_id', 'id'],
        postgresql_where=sa.text('run_id IS NOT NULL'),
    )
    op.create_index(
        'ix_artifacts_thread_id',
        'artifacts',
        ['tenant_id', 'thread_id', 'id'],
        postgresql_where=sa.text('thread_id IS NOT NULL'),
    )
    enable_tenant_rls(op.execute, 'artifacts')


def downgrade() -> None:
    for statement in disable_tenant_rls_sql('artifacts'):
        op.execute(statement)
    op.drop_index('ix_artifacts_thread_id', table_name='artifacts')
    op.drop_index('ix_artifacts_run_id', table_name='artifacts')
    op.drop_index('ix_artifacts_tenant_id', table_name='artifacts')
    op.drop_table('artifacts')
