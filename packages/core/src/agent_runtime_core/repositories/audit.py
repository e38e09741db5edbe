"""Queries on the audit log (append and read; entries are never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col

from agent_runtime_core.models import AuditLogEntry
from agent_runtime_core.repositories.base import TenantRepository


class AuditLogRepository(TenantRepository[AuditLogEntry]):
    """Audit log entries of one tenant (``add`` refuses another tenant's entry)."""

    model = AuditLogEntry

    async def list(
        self,
        *,
        limit: int,
        before_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        resource_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[AuditLogEntry]:
        """Up to ``limit`` entries, newest first, filtered."""
        statement = self.scoped()
        if actor is not None:
            statement = statement.where(AuditLogEntry.actor == actor)
        if action is not None:
            statement = statement.where(AuditLogEntry.action == action)
        if resource_id is not None:
            statement = statement.where(AuditLogEntry.resource_id == resource_id)
        if since is not None:
            statement = statement.where(col(AuditLogEntry.at) >= since)
        if until is not None:
            statement = statement.where(col(AuditLogEntry.at) < until)
        return await self.page(statement, limit=limit, cursor_id=before_id)
