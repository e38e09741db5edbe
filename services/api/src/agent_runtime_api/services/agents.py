"""Agents and their versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.hot_reads import HotReads
from agent_runtime_api.services.pages import Window, window
from agent_runtime_api.services.tools import (
    DefinitionChecks,
    FieldProblems,
    Loc,
    ToolPolicy,
    catalog_names,
    revision_definition,
)
from agent_runtime_core.catalog import RETIRED_TOOLS
from agent_runtime_core.errors import ConflictError, NotFoundError
from agent_runtime_core.ids import new_agent_id
from agent_runtime_core.models import Agent, AgentVersion, RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import (
    AgentRepository,
    RunRepository,
    ToolCatalogRepository,
    ToolRepository,
)
from agent_runtime_core.schemas import AgentCreate, AgentUpdate, AgentVersionCreate, ToolSpec
from agent_runtime_core.schemas.agent_status import (
    ActiveRunCounts,
    AgentLastError,
    AgentStatusName,
    AgentStatusPublic,
)
from agent_runtime_core.schemas.run import RunError


def _name_taken(name: str) -> ConflictError:
    return ConflictError(f"An agent named '{name}' already exists.", code="agent_name_taken")


@dataclass(frozen=True)
class ResolvedVersion:
    """A version's tools and MCP servers as they are stored (``ToolConfig`` /
    ``McpServerConfig`` field names), after every check passed."""

    tools: list[dict[str, Any]]
    mcp_servers: list[dict[str, Any]]


class AgentService:
    """Rules for agents of one tenant.

    Reads of one agent or one version go through the read cache (``hot_reads``) when given;
    every write of an agent (update, delete, new version) deletes its entry right after the
    request's transaction commits. Locked reads (``for_update``) always read Postgres.
    """

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: str,
        policy: ToolPolicy | None = None,
        *,
        hot_reads: HotReads | None = None,
    ) -> None:
        self.session = session
        self.hot_reads = hot_reads
        self.agents = AgentRepository(session, tenant_id)
        self.runs = RunRepository(session, tenant_id)
        self.tools = ToolRepository(session, tenant_id)
        self.catalog = ToolCatalogRepository(session)
        self.checks = DefinitionChecks(policy or ToolPolicy(), self.tools)
        self.tenant_id = tenant_id

    async def catalog_names(self) -> set[str]:
        """Names of the tools the workers serve now (for showing which are still available)."""
        return await catalog_names(self.catalog)

    async def create(self, body: AgentCreate) -> tuple[Agent, AgentVersion | None]:
        """Create an agent, and its version 1 when ``body.version`` is given."""
        resolved = None
        if body.version is not None:
            resolved = await self._resolve(body.version, ["body", "version"])
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
        if body.version is not None and resolved is not None:
            version = await self._add_version(agent, body.version, resolved)
        return agent, version

    async def get(self, agent_id: str, *, for_update: bool = False) -> Agent:
        """Return a live agent or raise 404 (``for_update``: locked, read from Postgres)."""
        if for_update or self.hot_reads is None:
            agent = await self.agents.get(agent_id, for_update=for_update)
        else:
            agent = await self.hot_reads.agents.get(
                self.tenant_id, agent_id, lambda: self.agents.get(agent_id)
            )
        if agent is None:
            raise NotFoundError("Agent", agent_id)
        return agent

    async def _get_for_write(self, agent_id: str) -> Agent:
        """The agent, locked, with its cache entry deleted once this transaction commits."""
        agent = await self.get(agent_id, for_update=True)
        if self.hot_reads is not None:
            self.hot_reads.agents.invalidate_after_commit(self.session, self.tenant_id, agent_id)
        return agent

    async def list(self, *, limit: int, before: str | None) -> Window[Agent]:
        """A page of agents, newest first, older than the agent ``before``."""
        rows = await self.agents.list(limit=limit + 1, before_id=before)
        return window(rows, limit, key=lambda agent: agent.id)

    async def update(self, agent_id: str, body: AgentUpdate) -> Agent:
        """Rename or re-describe an agent."""
        agent = await self._get_for_write(agent_id)
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
        agent = await self._get_for_write(agent_id)
        active = await self.runs.count_active_for_agent(agent_id)
        if active:
            raise ConflictError(
                f"Agent '{agent_id}' has {active} active run(s); cancel them or let them finish "
                "before deleting the agent.",
                code="agent_has_active_runs",
            )
        await self.agents.soft_delete(agent)

    async def create_version(self, agent_id: str, body: AgentVersionCreate) -> AgentVersion:
        """Add the next immutable version of an agent (its ``latest_version`` changes)."""
        agent = await self._get_for_write(agent_id)
        resolved = await self._resolve(body, ["body"])
        return await self._add_version(agent, body, resolved)

    async def _resolve(self, body: AgentVersionCreate, loc: Loc) -> ResolvedVersion:
        """Check what depends on the catalog, the tenant's tools and secrets and the deployment,
        and build the stored tools (registered ones copied from their pinned revision).
        Every problem is reported at once, each naming its field under ``loc``."""
        problems = FieldProblems()
        names = await catalog_names(self.catalog)
        tools: list[dict[str, Any]] = []
        for index, spec in enumerate(body.tools):
            stored = await self._resolve_tool(spec, [*loc, "tools", index], names, problems)
            if stored is not None:
                tools.append(stored)
        servers: list[dict[str, Any]] = []
        for index, server in enumerate(body.mcp_servers):
            dumped = server.model_dump(mode="json")
            self.checks.mcp_server(dumped, [*loc, "mcp_servers", index], problems)
            servers.append(dumped)
        await self.checks.secrets(problems)
        problems.raise_if_any()
        return ResolvedVersion(tools=tools, mcp_servers=servers)

    async def _resolve_tool(
        self, spec: ToolSpec, loc: Loc, catalog: set[str], problems: FieldProblems
    ) -> dict[str, Any] | None:
        name = spec.effective_name
        common: dict[str, Any] = {
            "name": name,
            "requires_approval": spec.requires_approval,
            "settings": spec.settings,
        }
        if spec.kind == "catalog":
            if name in RETIRED_TOOLS:
                problems.add(
                    [*loc, "name"], f"tool '{name}' was retired: {RETIRED_TOOLS[name]}", "retired_tool"
                )
            elif name not in catalog:
                problems.add(
                    [*loc, "name"],
                    f"unknown tool '{name}'; available tools: " + ", ".join(sorted(catalog)),
                    "unknown_catalog_tool",
                )
            return {**common, "kind": "catalog"}
        name_loc = [*loc, "name"] if spec.name is not None else [*loc, "tool", "name"]
        if name in catalog or name in RETIRED_TOOLS:
            problems.add(
                name_loc,
                f"'{name}' is the name of a catalog tool; give this tool another name",
                "name_taken_by_catalog",
            )
        if spec.http is not None and spec.description is not None and spec.parameters is not None:
            http = spec.http.model_dump(mode="json")
            self.checks.endpoint(http, [*loc, "http"], problems)
            return {
                **common,
                "kind": "http",
                "description": spec.description,
                "parameters": spec.parameters,
                "http": http,
                "ref": None,
            }
        if spec.tool is None:  # the schema allows no other form
            return None
        tool = await self.tools.get_by_name(spec.tool.name)
        if tool is None:
            problems.add(
                [*loc, "tool", "name"], f"no registered tool is named '{spec.tool.name}'", "unknown_tool"
            )
            return None
        number = spec.tool.revision or tool.latest_revision
        revision = await self.tools.get_revision(tool.id, number)
        if revision is None:
            problems.add(
                [*loc, "tool", "revision"],
                f"tool '{tool.name}' has no revision {number} (latest: {tool.latest_revision})",
                "unknown_tool",
            )
            return None
        definition = revision_definition(revision)
        # The deployment's rules and the tenant's secrets may have changed since it was registered.
        found = FieldProblems()
        self.checks.endpoint(definition["http"], ["http"], found)
        where = f"registered tool '{tool.name}' revision {number}"
        for error in found.errors:
            problems.add([*loc, "tool"], f"{where}: {'.'.join(map(str, error.loc))}: {error.msg}", error.type)
        for _, use, secret in found.secret_uses:
            problems.secret_uses.append(([*loc, "tool"], f"{where}: {use}", secret))
        return {
            **common,
            **definition,
            "ref": {"tool_id": tool.id, "name": tool.name, "revision": revision.revision},
        }

    async def _add_version(
        self, agent: Agent, body: AgentVersionCreate, resolved: ResolvedVersion
    ) -> AgentVersion:
        agent.latest_version += 1
        agent.updated_at = utcnow()
        version = AgentVersion(
            agent_id=agent.id,
            version=agent.latest_version,
            tenant_id=self.tenant_id,
            model=body.model,
            fallback_models=list(body.fallback_models),
            instructions=body.instructions,
            tools=resolved.tools,
            mcp_servers=resolved.mcp_servers,
            model_settings=body.model_settings.model_dump(mode="json"),
            limits=body.limits.model_dump(mode="json"),
            memory=body.memory.model_dump(mode="json") if body.memory is not None else None,
            created_at=agent.updated_at,
        )
        self.session.add(agent)
        return await self.agents.add_version(version)

    async def get_version(self, agent_id: str, version: int) -> AgentVersion:
        """Return one version or raise 404."""
        await self.get(agent_id)
        if self.hot_reads is None:
            found = await self.agents.get_version(agent_id, version)
        else:
            found = await self.hot_reads.agent_versions.get(
                self.tenant_id, f"{agent_id}:{version}", lambda: self.agents.get_version(agent_id, version)
            )
        if found is None:
            raise NotFoundError("Agent version", f"{agent_id}/versions/{version}")
        return found

    async def status(self, agent_id: str) -> AgentStatusPublic:
        """What the agent is doing now (the rule: ``AGENT_STATUS_RULE``): 404 for an agent that
        is not this tenant's; one grouped count of active runs, one read of the last runs."""
        await self.get(agent_id)
        active = await self.runs.count_active_for_agent_by_status(agent_id)
        last_finished, last_error = await self.runs.last_finished_and_last_error(agent_id)
        counts = ActiveRunCounts(
            queued=active.get(RunStatus.QUEUED, 0),
            running=active.get(RunStatus.RUNNING, 0),
            waiting=active.get(RunStatus.WAITING, 0),
        )
        if counts.queued or counts.running:
            status = AgentStatusName.PROCESSING
        elif counts.waiting:
            status = AgentStatusName.WAITING
        elif last_finished is not None and last_error is not None and last_finished.id == last_error.id:
            status = AgentStatusName.ERROR
        else:
            status = AgentStatusName.IDLE
        error = None
        if last_error is not None:
            stored = RunError.from_stored(last_error.error or {})
            error = AgentLastError(
                run_id=last_error.id,
                status="timed_out" if last_error.status == RunStatus.TIMED_OUT else "failed",
                code=stored.code,
                message=stored.message,
                at=last_error.finished_at,
            )
        return AgentStatusPublic(agent_id=agent_id, status=status, active_runs=counts, last_error=error)

    async def list_versions(self, agent_id: str, *, limit: int, below: int | None) -> Window[AgentVersion]:
        """A page of versions, newest first, below version ``below``."""
        await self.get(agent_id)
        rows = await self.agents.list_versions(agent_id, limit=limit + 1, below_version=below)
        return window(rows, limit, key=lambda version: version.version)
