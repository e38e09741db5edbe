"""threads (conversations) and their turns; runs name their thread

Revision ID: 0010_threads
Revises: 0009_store
Create Date: 2026-12-08 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0010_threads'
down_revision: str | None = '0009_store'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TENANT_TABLES = ('threads', 'thread_messages')


def upgrade() -> None:
    op.create_table(
        'threads',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('active_run_id', sa.String(length=40), nullable=True),
        sa.Column('queued_run_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('last_message_seq', sa.Integer(), nullable=False),
        sa.Column('admitted_runs', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_threads_tenant_id', 'threads', ['tenant_id', 'id'], unique=False)
    op.create_index('ix_threads_metadata', 'threads', ['metadata'], unique=False, postgresql_using='gin')
    op.create_table(
        'thread_messages',
        sa.Column('thread_id', sa.String(length=40), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('messages', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['thread_id'], ['threads.id']),
        sa.PrimaryKeyConstraint('thread_id', 'seq'),
        sa.UniqueConstraint('thread_id', 'run_id', name='uq_thread_messages_run'),
    )
    op.create_index('ix_thread_messages_tenant_id', 'thread_messages', ['tenant_id'], unique=False)
    op.add_column('runs', sa.Column('thread_id', sa.String(length=40), nullable=True))
    op.add_column('runs', sa.Column('multitask_strategy', sa.String(length=20), nullable=True))
    op.add_column('runs', sa.Column('rolled_back_by', sa.String(length=40), nullable=True))
    op.create_foreign_key('runs_thread_id_fkey', 'runs', 'threads', ['thread_id'], ['id'])
    op.create_index(
        'ix_runs_thread_id',
        'runs',
        ['thread_id'],
        unique=False,
        postgresql_where=sa.text('thread_id IS NOT NULL'),
    )
    for table in _TENANT_TABLES:
        enable_tenant_rls(op.execute, table)


def downgrade() -> None:
    for table in _TENANT_TABLES:
        for statement in disable_tenant_rls_sql(table):
            op.execute(statement)
    op.drop_index('ix_runs_thread_id', table_name='runs')
    op.drop_constraint('runs_thread_id_fkey', 'runs', type_='foreignkey')
    op.drop_column('runs', 'rolled_back_by')
    op.drop_column('runs', 'multitask_strategy')
    op.drop_column('runs', 'thread_id')
    op.drop_table('thread_messages')
    op.drop_table('threads')
