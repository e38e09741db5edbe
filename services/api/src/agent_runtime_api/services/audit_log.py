"""The tenant's audit log, read-only (entries are written by the audit middleware)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core.models import AuditLogEntry
from agent_runtime_core.repositories import AuditLogRepository


class AuditLogService:
    """Reads the audit log of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.entries = AuditLogRepository(session, tenant_id)

    async def list(
        self,
        *,
        limit: int,
        before: str | None,
        actor: str | None,
        action: str | None,
        resource_id: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> Window[AuditLogEntry]:
        """A page of entries, newest first, filtered."""
        rows = await self.entries.list(
            limit=limit + 1,
            before_id=before,
            actor=actor,
            action=action,
            resource_id=resource_id,
            since=since,
            until=until,
        )
        return window(rows, limit, key=lambda entry: entry.id)
