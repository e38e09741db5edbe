"""human request inbox: indexes for listing approvals and questions across a tenant's runs

Revision ID: 0013_human_request_inbox
Revises: 0012_run_metadata
Create Date: 2026-12-14 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013_human_request_inbox'
down_revision: str | None = '0012_run_metadata'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The inbox lists a tenant's pending approvals (or questions) newest first: without these the
    # only index starts with the run, so every list would read all of the tenant's requests.
    op.create_index(
        'ix_human_requests_tenant_kind_status',
        'human_requests',
        ['tenant_id', 'kind', 'status', 'id'],
    )
    op.create_index('ix_human_requests_tenant_kind', 'human_requests', ['tenant_id', 'kind', 'id'])


def downgrade() -> None:
    op.drop_index('ix_human_requests_tenant_kind', table_name='human_requests')
    op.drop_index('ix_human_requests_tenant_kind_status', table_name='human_requests')
