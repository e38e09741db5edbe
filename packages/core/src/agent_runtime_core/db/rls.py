"""Postgres row-level security (RLS) keyed on the session's tenant.

How it fits together:

* Migration ``0006_rls_audit`` creates the ``agent_runtime_app`` role (``NOLOGIN``: nobody
  connects as it), grants it to the migrating user so that user may ``SET ROLE`` to it (no
  superuser needed, e.g. on RDS), grants it table privileges (and default privileges for future
  tables), and calls :func:`enable_tenant_rls` on every table with a ``tenant_id`` column.
* :func:`agent_runtime_core.db.session_scope` starts each transaction with
  ``set_config('role', 'agent_runtime_app', true), set_config('app.tenant_id', <tenant>, true)``.
  The role is not the tables' owner, so the policies apply to it: it sees and writes only rows
  whose ``tenant_id`` equals the setting. No setting, no rows (fail closed).
* :func:`agent_runtime_core.db.system_session_scope` keeps the connection's own role (the
  owner), which RLS does not restrict, for the rare cross-tenant system operations.

**A migration that adds a table with a ``tenant_id`` column** must protect it in the same
migration (tables created later than ``0006_rls_audit`` are not discovered)::

    from agent_runtime_core.db.rls import enable_tenant_rls

    def upgrade() -> None:
        op.create_table("widgets", ..., sa.Column("tenant_id", sa.String(40), nullable=False))
        enable_tenant_rls(op.execute, "widgets")

Privileges on new tables come from the default privileges granted in ``0006_rls_audit``
(tables created by the same migrating user); a table the app role must not change (like
``audit_log``) revokes them itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

APP_ROLE: Final = "agent_runtime_app"
"""The role tenant sessions run as. Cluster-wide: shared by every database of the cluster."""
TENANT_SETTING: Final = "app.tenant_id"
POLICY_NAME: Final = "tenant_isolation"

Execute = Callable[[str], Any]
"""``op.execute`` in a migration, or any callable running one SQL statement."""


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_app_role_sql() -> list[str]:
    """Statements creating :data:`APP_ROLE` idempotently and letting the current user use it.

    Roles belong to the cluster, and several databases (e.g. one per test session) may run this
    at the same time: a concurrent creator's duplicate is ignored.
    """
    return [
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- created by a concurrent migration of another database
        END
        $$
        """,
        # Membership lets a non-superuser owner (RDS, Cloud SQL) SET ROLE to it.
        f"""
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
            END IF;
        END
        $$
        """,
    ]


def grant_app_privileges_sql() -> list[str]:
    """Privileges of :data:`APP_ROLE` on today's and future tables of the current schema."""
    return [
        f"""
        DO $$
        BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
            EXECUTE format(
                'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {APP_ROLE}',
                current_schema());
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {APP_ROLE}',
                current_schema());
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I '
                'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}', current_schema());
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}',
                current_schema());
        END
        $$
        """,
        f"REVOKE ALL ON TABLE alembic_version FROM {APP_ROLE}",
    ]


def tenant_tables_sql() -> str:
    """A query returning the names of the current schema's tables with a ``tenant_id`` column."""
    return """
        SELECT c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema()
          AND c.column_name = 'tenant_id'
          AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name
    """


def enable_tenant_rls_sql(table: str) -> list[str]:
    """Statements enabling RLS on ``table`` with the tenant policy (idempotent)."""
    quoted = _quote_ident(table)
    predicate = f"tenant_id = current_setting('{TENANT_SETTING}', true)"
    return [
        f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"CREATE POLICY {POLICY_NAME} ON {quoted} USING ({predicate}) WITH CHECK ({predicate})",
    ]


SHARED_ROWS_POLICY: Final = "shared_rows_read"


def enable_shared_rows_rls_sql(table: str, operator_tenant: str) -> list[str]:
    """Statements for a table whose rows with a NULL ``tenant_id`` are shared by every tenant
    (e.g. global model prices): every tenant may read them, only ``operator_tenant`` may write
    them, and each tenant reads and writes its own rows as usual."""
    quoted = _quote_ident(table)
    own = f"tenant_id = current_setting('{TENANT_SETTING}', true)"
    operator = f"(tenant_id IS NULL AND current_setting('{TENANT_SETTING}', true) = '{operator_tenant}')"
    return [
        *enable_tenant_rls_sql(table),
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"DROP POLICY IF EXISTS {SHARED_ROWS_POLICY} ON {quoted}",
        # Permissive policies are OR-ed: own rows for every command, shared rows read-only ...
        f"CREATE POLICY {SHARED_ROWS_POLICY} ON {quoted} FOR SELECT USING (tenant_id IS NULL)",
        # ... except for the operators' tenant, which manages them.
        f"CREATE POLICY {POLICY_NAME} ON {quoted} USING ({own} OR {operator}) "
        f"WITH CHECK ({own} OR {operator})",
    ]


def enable_tenant_rls(execute: Execute, table: str) -> None:
    """Protect ``table`` (which has a ``tenant_id`` column) with the tenant policy.

    Call it from the migration that creates the table: ``enable_tenant_rls(op.execute, "t")``.
    """
    for statement in enable_tenant_rls_sql(table):
        execute(statement)


def disable_tenant_rls_sql(table: str) -> list[str]:
    """Statements undoing :func:`enable_tenant_rls_sql` (for downgrades)."""
    quoted = _quote_ident(table)
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {quoted}",
        f"DROP POLICY IF EXISTS {SHARED_ROWS_POLICY} ON {quoted}",
        f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY",
    ]
