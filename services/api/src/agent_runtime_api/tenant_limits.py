"""The limits in force for each tenant: the operators' per-tenant overrides over the deployment
defaults, kept in memory for ``tenant_limits_cache_s`` so the rate limiter does not read Postgres
on every request (an override applies within that time on every API process; at once on the
process that set it)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import TenantLimits
from agent_runtime_core.repositories import TenantLimitsRepository
from agent_runtime_core.schemas.limits import EffectiveLimit, TenantLimitsPublic
from agent_runtime_core.settings import Settings

_MAX_ENTRIES: Final = 10_000


@dataclass(frozen=True)
class EffectiveLimits:
    """A tenant's limits as they apply now."""

    rate_limit_per_minute: int
    rate_limit_burst: int
    max_active_runs: int
    """0: no cap."""
    row: TenantLimits | None
    """The operators' overrides (``None``: all defaults)."""

    def public(self, tenant_id: str, *, rate_limits_enforced: bool) -> TenantLimitsPublic:
        """The API's view of these limits."""
        row = self.row

        def limit(value: int, override: int | None) -> EffectiveLimit:
            return EffectiveLimit(value=value, source="default" if override is None else "tenant")

        return TenantLimitsPublic(
            tenant_id=tenant_id,
            rate_limit_per_minute=limit(self.rate_limit_per_minute, row and row.rate_limit_per_minute),
            rate_limit_burst=limit(self.rate_limit_burst, row and row.rate_limit_burst),
            max_active_runs=limit(self.max_active_runs, row and row.max_active_runs),
            rate_limits_enforced=rate_limits_enforced,
            updated_at=row.updated_at if row is not None else None,
            updated_by=row.updated_by if row is not None else None,
        )


def effective_limits(settings: Settings, row: TenantLimits | None) -> EffectiveLimits:
    """``row``'s overrides over ``settings``' defaults."""

    def pick(override: int | None, default: int) -> int:
        return default if override is None else override

    return EffectiveLimits(
        rate_limit_per_minute=pick(row and row.rate_limit_per_minute, settings.rate_limit_per_minute),
        rate_limit_burst=pick(row and row.rate_limit_burst, settings.rate_limit_burst),
        max_active_runs=pick(row and row.max_active_runs, settings.max_active_runs_per_tenant),
        row=row,
    )


class TenantLimitsCache:
    """Each tenant's :class:`EffectiveLimits`, read (as that tenant) at most once per TTL."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._entries: dict[str, tuple[float, EffectiveLimits]] = {}

    async def get(self, tenant_id: str) -> EffectiveLimits:
        """The limits of ``tenant_id`` (from memory while fresh)."""
        now = time.monotonic()
        entry = self._entries.get(tenant_id)
        if entry is not None and now - entry[0] < self.settings.tenant_limits_cache_s:
            return entry[1]
        async with session_scope(self.database, tenant_id) as session:
            row = await TenantLimitsRepository(session, tenant_id).get()
        return self.remember(tenant_id, row)

    def remember(self, tenant_id: str, row: TenantLimits | None) -> EffectiveLimits:
        """Store what was just read or written for ``tenant_id``; return its limits."""
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        limits = effective_limits(self.settings, row)
        self._entries[tenant_id] = (time.monotonic(), limits)
        return limits
