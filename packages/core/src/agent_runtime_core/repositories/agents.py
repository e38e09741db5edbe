"""Queries on agents and agent versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import Agent, AgentVersion


class AgentRepository:
    """Agents and versions of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self, agent_id: str, *, for_update: bool = False) -> Agent | None:
        """Return the live agent ``agent_id`` of this tenant, or ``None``."""
        statement = select(Agent).where(
            Agent.id == agent_id,
            Agent.tenant_id == self.tenant_id,
            col(Agent.deleted_at).is_(None),
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def get_by_name(self, name: str) -> Agent | None:
        """Return the live agent called ``name``, or ``None``."""
        statement = select(Agent).where(
            Agent.tenant_id == self.tenant_id,
            Agent.name == name,
            col(Agent.deleted_at).is_(None),
        )
        return (await self.session.exec(statement)).first()

    async def list(self, *, limit: int, before_id: str | None = None) -> Sequence[Agent]:
        """Return up to ``limit`` live agents, newest first, older than ``before_id``."""
        statement = select(Agent).where(Agent.tenant_id == self.tenant_id, col(Agent.deleted_at).is_(None))
        if before_id is not None:
            statement = statement.where(col(Agent.id) < before_id)
        statement = statement.order_by(col(Agent.id).desc()).limit(limit)
        return (await self.session.exec(statement)).all()

    async def add(self, agent: Agent) -> Agent:
        """Insert ``agent`` (flushed, so constraint violations surface here)."""
        self.session.add(agent)
        await self.session.flush()
        return agent

    async def add_version(self, version: AgentVersion) -> AgentVersion:
        """Insert an immutable version."""
        self.session.add(version)
        await self.session.flush()
        return version

    async def get_version(self, agent_id: str, version: int) -> AgentVersion | None:
        """Return version ``version`` of ``agent_id``, or ``None``."""
        statement = select(AgentVersion).where(
            AgentVersion.tenant_id == self.tenant_id,
            AgentVersion.agent_id == agent_id,
            AgentVersion.version == version,
        )
        return (await self.session.exec(statement)).first()

    async def list_versions(
        self, agent_id: str, *, limit: int, below_version: int | None = None
    ) -> Sequence[AgentVersion]:
        """Return up to ``limit`` versions of ``agent_id``, newest first."""
        statement = select(AgentVersion).where(
            AgentVersion.tenant_id == self.tenant_id, AgentVersion.agent_id == agent_id
        )
        if below_version is not None:
            statement = statement.where(col(AgentVersion.version) < below_version)
        statement = statement.order_by(col(AgentVersion.version).desc()).limit(limit)
        return (await self.session.exec(statement)).all()
