"""Retention periods: a tenant reads its own; the platform's operators set any tenant's."""

from __future__ import annotations

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.models import TenantRetention
from agent_runtime_core.repositories import TenantRetentionRepository
from agent_runtime_core.schemas.retention import (
    EffectiveRetention,
    TenantRetentionPublic,
    TenantRetentionUpdate,
)
from agent_runtime_core.settings import Settings


class RetentionService:
    """Reads and writes ``tenant_retention``; the daily cleanup reads it when it starts."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def _public(self, tenant_id: str, row: TenantRetention | None) -> TenantRetentionPublic:
        def effective(own: int | None, default: int) -> EffectiveRetention:
            if own is None:
                return EffectiveRetention(days=default, source="default")
            return EffectiveRetention(days=own, source="tenant")

        settings = self.settings
        return TenantRetentionPublic(
            tenant_id=tenant_id,
            runs_days=effective(row.runs_days if row else None, settings.retention_runs_days),
            threads_days=effective(row.threads_days if row else None, settings.retention_threads_days),
            artifacts_days=effective(row.artifacts_days if row else None, settings.retention_artifacts_days),
            pending_upload_hours=settings.retention_pending_upload_hours,
            updated_at=row.updated_at if row else None,
            updated_by=row.updated_by if row else None,
        )

    async def own(self, tenant_id: str) -> TenantRetentionPublic:
        """The caller's tenant's periods, read as that tenant (row-level security applies)."""
        async with session_scope(self.database, tenant_id) as session:
            row = await TenantRetentionRepository(session, tenant_id).get()
            return self._public(tenant_id, row)

    # Operators act on other tenants' rows: the system scope (the routes check the operator).

    async def get(self, tenant_id: str) -> TenantRetentionPublic:
        """Any tenant's periods."""
        async with system_session_scope(self.database) as session:
            row = await TenantRetentionRepository(session, tenant_id).get()
            return self._public(tenant_id, row)

    async def put(
        self, tenant_id: str, body: TenantRetentionUpdate, *, updated_by: str
    ) -> TenantRetentionPublic:
        """Replace a tenant's overrides (a field left null: the deployment default)."""
        async with system_session_scope(self.database) as session:
            row = await TenantRetentionRepository(session, tenant_id).put(
                body.model_dump(), updated_by=updated_by
            )
            return self._public(tenant_id, row)

    async def reset(self, tenant_id: str) -> None:
        """Drop a tenant's overrides: every period is the default again."""
        async with system_session_scope(self.database) as session:
            await TenantRetentionRepository(session, tenant_id).delete()
