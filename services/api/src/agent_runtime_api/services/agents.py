"""Agents and their versions."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core.errors import ConflictError, NotFoundError
from agent_runtime_core.ids import new_agent_id
from agent_runtime_core.models import Agent, AgentVersion
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import AgentRepository, RunRepository
from agent_runtime_core.schemas import AgentCreate, AgentUpdate, AgentVersionCreate


def _name_taken(name: str) -> ConflictError:
    return ConflictError(f"An agent named '{name}' already exists.", code="agent_name_taken")


class AgentService:
    """Rules for agents of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.agents = AgentRepository(session, tenant_id)
        self.runs = RunRepository(session, tenant_id)
        self.tenant_id = tenant_id

    async def create(self, body: AgentCreate) -> tuple[Agent, AgentVersion | None]:
        """Create an agent, and its version 1 when ``body.version`` is given."""
        if await self.agents.get_by_name(body.name) is not None:
            raise _name_taken(body.name)
        agent = Agent(
            id=new_agent_id(),
            tenant_id=self.tenant_id,
            name=body.name,
            description=body.description,
        )
        try:
            async with self.session.begin_nested():
                await self.agents.add(agent)
        except IntegrityError as exc:  # a concurrent create took the name
            raise _name_taken(body.name) from exc
        version = None
        if body.version is not None:
            version = await self._add_version(agent, body.version)
        return agent, version

    async def get(self, agent_id: str, *, for_update: bool = False) -> Agent:
        """Return a live agent or raise 404."""
        agent = await self.agents.get(agent_id, for_update=for_update)
        if agent is None:
            raise NotFoundError("Agent", agent_id)
        return agent

    async def list(self, *, limit: int, before: str | None) -> Window[Agent]:
        """A page of agents, newest first, older than the agent ``before``."""
        rows = await self.agents.list(limit=limit + 1, before_id=before)
        return window(rows, limit, key=lambda agent: agent.id)

    async def update(self, agent_id: str, body: AgentUpdate) -> Agent:
        """Rename or re-describe an agent."""
        agent = await self.get(agent_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        if changes.get("name") is None:
            changes.pop("name", None)
        if changes.get("description") is None:
            changes.pop("description", None)
        if "name" in changes and changes["name"] != agent.name:
            other = await self.agents.get_by_name(changes["name"])
            if other is not None:
                raise _name_taken(changes["name"])
        for field, value in changes.items():
            setattr(agent, field, value)
        if changes:
            agent.updated_at = utcnow()
            try:
                async with self.session.begin_nested():
                    self.session.add(agent)
                    await self.session.flush()
            except IntegrityError as exc:
                raise _name_taken(agent.name) from exc
        return agent

    async def delete(self, agent_id: str) -> None:
        """Delete an agent; refused while it has runs that have not finished.

        The agent is marked deleted rather than removed so its runs stay readable.
        """
        agent = await self.get(agent_id, for_update=True)
        active = await self.runs.count_active_for_agent(agent_id)
        if active:
            raise ConflictError(
                f"Agent '{agent_id}' has {active} active run(s); cancel them or let them finish "
                "before deleting the agent.",
                code="agent_has_active_runs",
            )
        await self.agents.soft_delete(agent)

    async def create_version(self, agent_id: str, body: AgentVersionCreate) -> AgentVersion:
        """Add the next immutable version of an agent."""
        agent = await self.get(agent_id, for_update=True)
        return await self._add_version(agent, body)

    async def _add_version(self, agent: Agent, body: AgentVersionCreate) -> AgentVersion:
        agent.latest_version += 1
        agent.updated_at = utcnow()
        version = AgentVersion(
            agent_id=agent.id,
            version=agent.latest_version,
            tenant_id=self.tenant_id,
            model=body.model,
            fallback_models=list(body.fallback_models),
            instructions=body.instructions,
            tools=[tool.model_dump(mode="json") for tool in body.tools],
            model_settings=body.model_settings.model_dump(mode="json"),
            limits=body.limits.model_dump(mode="json"),
            created_at=agent.updated_at,
        )
        self.session.add(agent)
        return await self.agents.add_version(version)

    async def get_version(self, agent_id: str, version: int) -> AgentVersion:
        """Return one version or raise 404."""
        await self.get(agent_id)
        found = await self.agents.get_version(agent_id, version)
        if found is None:
            raise NotFoundError("Agent version", f"{agent_id}/versions/{version}")
        return found

    async def list_versions(self, agent_id: str, *, limit: int, below: int | None) -> Window[AgentVersion]:
        """A page of versions, newest first, below version ``below``."""
        await self.get(agent_id)
        rows = await self.agents.list_versions(agent_id, limit=limit + 1, below_version=below)
        return window(rows, limit, key=lambda version: version.version)
