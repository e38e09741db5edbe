"""run metadata: the caller's JSON object on a run (the `user` memory scope reads a key of it)

Revision ID: 0012_run_metadata
Revises: 0011_thread_summaries
Create Date: 2026-12-11 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0012_run_metadata'
down_revision: str | None = '0011_thread_summaries'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and runs created before it have none.
    op.add_column('runs', sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('runs', 'metadata')
