"""row-level security per tenant, the app role, the append-only audit log

Revision ID: 0006_rls_audit
Revises: 0002
Create Date: 2026-11-21 16:40:00

Runs after every migration that adds tenant tables: it discovers each table with a
``tenant_id`` column and protects it. Tables added by later migrations must call
``agent_runtime_core.db.rls.enable_tenant_rls`` themselves.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from agent_runtime_core.settings import DEFAULT_TENANT_ID
from agent_runtime_core.db.rls import (
    APP_ROLE,
    create_app_role_sql,
    disable_tenant_rls_sql,
    enable_shared_rows_rls_sql,
    enable_tenant_rls_sql,
    grant_app_privileges_sql,
    tenant_tables_sql,
)

revision: str = "0006_rls_audit"
down_revision: str | None = "0005_run_trace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_tables() -> list[str]:
    return [row[0] for row in op.get_bind().execute(sa.text(tenant_tables_sql()))]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("auth_method", sa.String(length=20), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_tenant_id", "audit_log", ["tenant_id", "id"], unique=False)
    op.create_index("ix_audit_log_tenant_actor", "audit_log", ["tenant_id", "actor", "id"], unique=False)
    op.create_index(
        "ix_audit_log_tenant_resource", "audit_log", ["tenant_id", "resource_id", "id"], unique=False
    )
    # Append-only for everyone, the owner included (retention must disable the trigger explicitly).
    op.execute(
        """
        CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log entries cannot be changed or deleted'
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()"
    )

    for statement in create_app_role_sql() + grant_app_privileges_sql():
        op.execute(statement)
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {APP_ROLE}")
    for table in _tenant_tables():
        statements = (
            # Global price overrides (NULL tenant) are read by every tenant, written by operators.
            enable_shared_rows_rls_sql(table, DEFAULT_TENANT_ID)
            if table == "model_prices"
            else enable_tenant_rls_sql(table)
        )
        for statement in statements:
            op.execute(statement)


def downgrade() -> None:
    for table in _tenant_tables():
        for statement in disable_tenant_rls_sql(table):
            op.execute(statement)
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
                'REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}', current_schema());
            EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
                'REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}', current_schema());
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {APP_ROLE}', current_schema());
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {APP_ROLE}', current_schema());
            EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM {APP_ROLE}', current_schema());
        END
        $$
        """
    )
    # The role itself stays: it is cluster-wide and other databases may use it.
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_refuse_change()")
