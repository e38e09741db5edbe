"""Queries on agents and agent versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from agent_runtime_core.models import Agent, AgentVersion
from agent_runtime_core.repositories.base import TenantRepository


class AgentRepository(TenantRepository[Agent]):
    """Agents (soft-deleted) and their versions, of one tenant."""

    model = Agent

    async def get(self, agent_id: str, *, for_update: bool = False) -> Agent | None:
        """Return the live agent ``agent_id`` of this tenant, or ``None``."""
        return await self.get_for_tenant(agent_id, for_update=for_update)

    async def get_by_name(self, name: str) -> Agent | None:
        """Return the live agent called ``name``, or ``None``."""
        return (await self.session.exec(self.scoped().where(Agent.name == name))).first()

    async def list(self, *, limit: int, before_id: str | None = None) -> Sequence[Agent]:
        """Return up to ``limit`` live agents, newest first, older than ``before_id``."""
        return await self.page(self.scoped(), limit=limit, cursor_id=before_id)

    async def add_version(self, version: AgentVersion) -> AgentVersion:
        """Insert an immutable version."""
        if version.tenant_id != self.tenant_id:
            raise ValueError("a version must belong to the repository's tenant")
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
