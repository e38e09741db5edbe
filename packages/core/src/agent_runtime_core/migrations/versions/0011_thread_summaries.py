"""thread summaries: what the `summarize` context strategy replaced a thread's oldest turns with

Revision ID: 0011_thread_summaries
Revises: 0010_threads
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0011_thread_summaries'
down_revision: str | None = '0010_threads'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'thread_summaries',
        sa.Column('thread_id', sa.String(length=40), nullable=False),
        sa.Column('through_seq', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('run_id', sa.String(length=40), nullable=False),
        sa.Column('from_seq', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('summary', sa.String(), nullable=False),
        sa.Column('input_tokens', sa.Integer(), nullable=False),
        sa.Column('output_tokens', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['thread_id'], ['threads.id']),
        sa.PrimaryKeyConstraint('thread_id', 'through_seq'),
    )
    op.create_index('ix_thread_summaries_tenant_id', 'thread_summaries', ['tenant_id'], unique=False)
    enable_tenant_rls(op.execute, 'thread_summaries')


def downgrade() -> None:
    for statement in disable_tenant_rls_sql('thread_summaries'):
        op.execute(statement)
    op.drop_index('ix_thread_summaries_tenant_id', table_name='thread_summaries')
    op.drop_table('thread_summaries')
