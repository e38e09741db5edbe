"""run input artifacts: the artifacts a run was given (`POST /v1/runs` `artifact_ids`)

Revision ID: 0015_run_input_artifacts
Revises: 0014_artifacts
Create Date: 2026-12-16 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015_run_input_artifacts'
down_revision: str | None = '0014_artifacts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, and runs created before it have none.
    op.add_column(
        'runs', sa.Column('input_artifact_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column('runs', 'input_artifact_ids')
