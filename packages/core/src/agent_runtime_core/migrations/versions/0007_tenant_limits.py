"""per-tenant limits: rate limits and the active-run cap, set by the platform's operators

Revision ID: 0007_tenant_limits
Revises: 0006_rls_audit
Create Date: 2026-11-21 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from agent_runtime_core.db.rls import disable_tenant_rls_sql, enable_tenant_rls

revision: str = '0007_tenant_limits'
down_revision: str | None = '0006_rls_audit'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'tenant_limits',
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('rate_limit_per_minute', sa.Integer(), nullable=True),
        sa.Column('rate_limit_burst', sa.Integer(), nullable=True),
        sa.Column('max_active_runs', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    # A tenant reads its own row (GET /v1/limits); operators write through the system scope.
    enable_tenant_rls(op.execute, 'tenant_limits')


def downgrade() -> None:
    for statement in disable_tenant_rls_sql('tenant_limits'):
        op.execute(statement)
    op.drop_table('tenant_limits')
