"""run trace id; partial index of active runs by status (for the runs gauge)

Revision ID: 0005_run_trace
Revises: 0002
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_run_trace'
down_revision: str | None = '0004_usage_budgets'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('queued', 'running', 'waiting')"


def upgrade() -> None:
    op.add_column('runs', sa.Column('trace_id', sa.String(length=32), nullable=True))
    # `GET /metrics` counts active runs by status across tenants at every scrape: this index
    # holds only unfinished runs, so the count stays cheap however many runs have finished.
    op.create_index(
        'ix_runs_active_status', 'runs', ['status'], unique=False, postgresql_where=sa.text(ACTIVE)
    )


def downgrade() -> None:
    op.drop_index('ix_runs_active_status', table_name='runs', postgresql_where=sa.text(ACTIVE))
    op.drop_column('runs', 'trace_id')
