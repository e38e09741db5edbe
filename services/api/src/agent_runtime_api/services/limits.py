"""Per-tenant limits: a tenant reads its own; the platform's operators set any tenant's."""

from __future__ import annotations

from agent_runtime_api.tenant_limits import EffectiveLimits, TenantLimitsCache
from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.repositories import TenantLimitsRepository
from agent_runtime_core.schemas.limits import TenantLimitsPublic, TenantLimitsUpdate


class LimitsService:
    """Reads and writes ``tenant_limits`` and keeps this process's cache in step."""

    def __init__(self, database: Database, cache: TenantLimitsCache, *, rate_limits_enforced: bool) -> None:
        self.database = database
        self.cache = cache
        self.rate_limits_enforced = rate_limits_enforced

    def _public(self, tenant_id: str, limits: EffectiveLimits) -> TenantLimitsPublic:
        return limits.public(tenant_id, rate_limits_enforced=self.rate_limits_enforced)

    async def own(self, tenant_id: str) -> TenantLimitsPublic:
        """The caller's tenant's limits, read as that tenant (row-level security applies)."""
        async with session_scope(self.database, tenant_id) as session:
            row = await TenantLimitsRepository(session, tenant_id).get()
        return self._public(tenant_id, self.cache.remember(tenant_id, row))

    # Operators act on other tenants' rows: the system scope (the routes check the operator).

    async def get(self, tenant_id: str) -> TenantLimitsPublic:
        """Any tenant's limits."""
        async with system_session_scope(self.database) as session:
            row = await TenantLimitsRepository(session, tenant_id).get()
        return self._public(tenant_id, self.cache.remember(tenant_id, row))

    async def put(self, tenant_id: str, body: TenantLimitsUpdate, *, updated_by: str) -> TenantLimitsPublic:
        """Replace a tenant's overrides (a field left null: the deployment default)."""
        async with system_session_scope(self.database) as session:
            row = await TenantLimitsRepository(session, tenant_id).put(
                body.model_dump(), updated_by=updated_by
            )
        return self._public(tenant_id, self.cache.remember(tenant_id, row))

    async def reset(self, tenant_id: str) -> None:
        """Drop a tenant's overrides: every limit is the default again."""
        async with system_session_scope(self.database) as session:
            await TenantLimitsRepository(session, tenant_id).delete()
        self.cache.remember(tenant_id, None)
