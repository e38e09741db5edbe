"""retention: per-tenant retention periods, and indexes the daily cleanup scans by age

Revision ID: 0016_retention
Revises: 0015_run_input_artifacts
Create Date: 2026-12-16 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0016_retention'
down_revision: str | None = '0015_run_input_artifacts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'tenant_retention',
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('runs_days', sa.Integer(), nullable=True),
        sa.Column('threads_days', sa.Integer(), nullable=True),
        sa.Column('artifacts_days', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    # A tenant reads its own row (GET /v1/retention); operators write through the system scope.
    enable_tenant_rls(op.execute, 'tenant_retention')
    # The cleanup asks "this tenant's oldest finished runs / idle threads / artifacts".
    op.create_index(
        'ix_runs_tenant_finished_at',
        'runs',
        ['tenant_id', 'finished_at'],
        postgresql_where=sa.text('finished_at IS NOT NULL'),
    )
    op.create_index('ix_threads_tenant_updated_at', 'threads', ['tenant_id', 'updated_at'])
    op.create_index('ix_artifacts_tenant_created_at', 'artifacts', ['tenant_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_artifacts_tenant_created_at', table_name='artifacts')
    op.drop_index('ix_threads_tenant_updated_at', table_name='threads')
    op.drop_index('ix_runs_tenant_finished_at', table_name='runs')
    for statement in disable_tenant_rls_sql('tenant_retention'):
        op.execute(statement)
    op.drop_table('tenant_retention')
