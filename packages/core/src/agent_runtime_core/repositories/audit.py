"""Queries on the audit log (append and read; entries are never changed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import AuditLogEntry


class AuditLogRepository:
    """Audit log entries of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def add(self, entry: AuditLogEntry) -> AuditLogEntry:
        """Insert ``entry`` (it must be this tenant's)."""
        if entry.tenant_id != self.tenant_id:
            raise ValueError("an audit entry must belong to the repository's tenant")
        self.session.add(entry)
        await self.session.flush()
        return entry

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
        statement = select(AuditLogEntry).where(AuditLogEntry.tenant_id == self.tenant_id)
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
        if before_id is not None:
            statement = statement.where(col(AuditLogEntry.id) < before_id)
        statement = statement.order_by(col(AuditLogEntry.id).desc()).limit(limit)
        return (await self.session.exec(statement)).all()
