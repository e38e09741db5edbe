"""Queries on registered tools, their revisions, and the names of a tenant's secrets."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import col, select

from agent_runtime_core.models import Agent, AgentVersion, Tool, ToolRevision, ToolSecret
from agent_runtime_core.repositories.base import TenantRepository


class ToolRepository(TenantRepository[Tool]):
    """Registered tools (soft-deleted) and their immutable revisions, of one tenant."""

    model = Tool

    async def get(self, tool_id: str, *, for_update: bool = False) -> Tool | None:
        """Return the live tool ``tool_id`` of this tenant, or ``None``."""
        return await self.get_for_tenant(tool_id, for_update=for_update)

    async def get_by_name(self, name: str) -> Tool | None:
        """Return the live tool called ``name``, or ``None``."""
        return (await self.session.exec(self.scoped().where(Tool.name == name))).first()

    async def list(
        self, *, limit: int, before_id: str | None = None, name: str | None = None
    ) -> Sequence[Tool]:
        """Return up to ``limit`` live tools, newest first, older than ``before_id``."""
        statement = self.scoped()
        if name is not None:
            statement = statement.where(Tool.name == name)
        return await self.page(statement, limit=limit, cursor_id=before_id)

    async def add_revision(self, revision: ToolRevision) -> ToolRevision:
        """Insert an immutable revision."""
        if revision.tenant_id != self.tenant_id:
            raise ValueError("a revision must belong to the repository's tenant")
        self.session.add(revision)
        await self.session.flush()
        return revision

    async def get_revision(self, tool_id: str, revision: int) -> ToolRevision | None:
        """Return revision ``revision`` of ``tool_id``, or ``None``."""
        statement = select(ToolRevision).where(
            ToolRevision.tenant_id == self.tenant_id,
            ToolRevision.tool_id == tool_id,
            ToolRevision.revision == revision,
        )
        return (await self.session.exec(statement)).first()

    async def list_revisions(
        self, tool_id: str, *, limit: int, below_revision: int | None = None
    ) -> Sequence[ToolRevision]:
        """Return up to ``limit`` revisions of ``tool_id``, newest first."""
        statement = select(ToolRevision).where(
            ToolRevision.tenant_id == self.tenant_id, ToolRevision.tool_id == tool_id
        )
        if below_revision is not None:
            statement = statement.where(col(ToolRevision.revision) < below_revision)
        statement = statement.order_by(col(ToolRevision.revision).desc()).limit(limit)
        return (await self.session.exec(statement)).all()

    async def agents_using(self, tool_id: str, *, limit: int = 20) -> Sequence[tuple[str, str]]:
        """Live agents (id, name) whose latest version has a tool copied from ``tool_id``.

        Older versions hold their own copy of the definition, so only the latest one counts.
        """
        contains = sql_cast([{"ref": {"tool_id": tool_id}}], JSONB)
        statement = (
            select(Agent.id, Agent.name)
            .join(
                AgentVersion,
                (col(AgentVersion.agent_id) == col(Agent.id))
                & (col(AgentVersion.version) == col(Agent.latest_version)),
            )
            .where(
                Agent.tenant_id == self.tenant_id,
                AgentVersion.tenant_id == self.tenant_id,
                col(Agent.deleted_at).is_(None),
                col(AgentVersion.tools).op("@>")(contains),
            )
            .order_by(col(Agent.name))
            .limit(limit)
        )
        return [(agent_id, name) for agent_id, name in (await self.session.exec(statement)).all()]

    async def existing_secret_names(self, names: Collection[str]) -> set[str]:
        """Those of ``names`` that are live secrets of this tenant."""
        if not names:
            return set()
        statement = select(ToolSecret.name).where(
            ToolSecret.tenant_id == self.tenant_id,
            col(ToolSecret.deleted_at).is_(None),
            col(ToolSecret.name).in_(list(names)),
        )
        return set((await self.session.exec(statement)).all())
