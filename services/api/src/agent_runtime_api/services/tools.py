"""Registered tools (``/v1/tools``), the catalog the workers serve, and the checks every tool
definition goes through, registered or written inline in an agent version.

What a request alone cannot tell is checked here, with a 422 naming the field: the deployment's
rules for endpoints (https only, no private hosts, timeout and response-size caps), the secrets a
header names (they must exist in the caller's tenant), the catalog (tool names the workers serve,
which the workers report to the database) and the operator's stdio MCP servers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core import catalog
from agent_runtime_core.errors import ConflictError, DomainError, FieldError, NotFoundError
from agent_runtime_core.ids import new_tool_id
from agent_runtime_core.models import Tool, ToolRevision
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ToolCatalogRepository, ToolRepository
from agent_runtime_core.schemas import CatalogToolPublic, ToolDefinitionCreate
from agent_runtime_core.schemas.tool import header_secret_names, stored_str_dict
from agent_runtime_core.settings import Settings

Loc = list[str | int]

SPECIFIC_CODES: Final = frozenset({"unknown_tool", "unknown_secret", "unknown_mcp_server"})
"""Error types that become the problem's ``code`` when every error of a response has that type
(otherwise the code is ``validation_error`` and ``errors[].type`` tells them apart)."""

_METADATA_HOSTS: Final = frozenset({"169.254.169.254", "fd00:ec2::254", "metadata.google.internal"})
"""Cloud metadata endpoints: refused even where private networks are allowed."""


@dataclass(frozen=True)
class ToolPolicy:
    """The deployment's rules for tenants' tools (from :class:`Settings`)."""

    require_https: bool = True
    allow_private_networks: bool = False
    max_timeout_s: float = 120.0
    max_response_bytes: int = 5_000_000
    stdio_servers: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> ToolPolicy:
        """The policy the settings describe."""
        return cls(
            require_https=settings.tools_require_https,
            allow_private_networks=settings.tools_allow_private_networks,
            max_timeout_s=settings.tools_max_timeout_s,
            max_response_bytes=settings.tools_max_response_bytes,
            stdio_servers=frozenset(settings.mcp_stdio_servers),
        )


@dataclass
class FieldProblems:
    """Errors found in one request, reported together as one 422."""

    errors: list[FieldError] = field(default_factory=list[FieldError])
    secret_uses: list[tuple[Loc, str, str]] = field(default_factory=list[tuple[Loc, str, str]])
    """(location, what names it, secret name) of every secret a definition names."""

    def add(self, loc: Loc, msg: str, code: str) -> None:
        """Record one invalid field."""
        self.errors.append(FieldError(loc=list(loc), msg=msg, type=code))

    def raise_if_any(self) -> None:
        """Raise the 422 for everything recorded (nothing if all is well)."""
        if not self.errors:
            return
        codes = {error.type for error in self.errors}
        code = self.errors[0].type if len(codes) == 1 and self.errors[0].type in SPECIFIC_CODES else None
        first = self.errors[0]
        detail = f"{'.'.join(str(part) for part in first.loc)}: {first.msg}"
        if len(self.errors) > 1:
            detail += f" (and {len(self.errors) - 1} more; see errors)"
        raise DomainError(
            detail=detail,
            status=422,
            code=code or "validation_error",
            title="Validation error",
            errors=list(self.errors),
        )


def _host_problem(host: str, policy: ToolPolicy) -> str | None:
    lowered = host.lower().rstrip(".")
    if lowered in _METADATA_HOSTS:
        return "cloud metadata endpoints cannot be called"
    if policy.allow_private_networks:
        return None
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return "private hosts are not allowed in this deployment (tools_allow_private_networks)"
    try:
        address = ipaddress.ip_address(lowered)
    except ValueError:
        return None  # a name: the worker checks what it resolves to when it calls
    if not address.is_global:
        return "private, loopback and link-local addresses are not allowed in this deployment"
    return None


class DefinitionChecks:
    """The deployment-dependent checks of tool endpoints and MCP servers."""

    def __init__(self, policy: ToolPolicy, tools: ToolRepository) -> None:
        self.policy = policy
        self.tools = tools

    def endpoint(self, http: Mapping[str, Any], loc: Loc, problems: FieldProblems) -> None:
        """Check an HTTP tool's endpoint (a dumped ``HttpEndpointSpec`` or a stored revision's)."""
        self.url(str(http.get("url", "")), [*loc, "url"], problems)
        timeout = http.get("timeout_s")
        if isinstance(timeout, int | float) and timeout > self.policy.max_timeout_s:
            problems.add(
                [*loc, "timeout_s"],
                f"at most {self.policy.max_timeout_s:g} s in this deployment",
                "timeout_too_long",
            )
        size = http.get("max_response_bytes")
        if isinstance(size, int) and size > self.policy.max_response_bytes:
            problems.add(
                [*loc, "max_response_bytes"],
                f"at most {self.policy.max_response_bytes} bytes in this deployment",
                "response_too_large",
            )
        self.headers(http.get("headers"), [*loc, "headers"], problems)

    def url(self, url: str, loc: Loc, problems: FieldProblems) -> None:
        """https (unless allowed otherwise), and not a private host (unless allowed)."""
        parts = urlsplit(url)
        if self.policy.require_https and parts.scheme != "https":
            problems.add(loc, "must be an https:// URL in this deployment", "insecure_url")
        host_problem = _host_problem(parts.hostname or "", self.policy)
        if host_problem:
            problems.add(loc, host_problem, "private_address")

    def headers(self, headers: object, loc: Loc, problems: FieldProblems) -> None:
        """Remember the secrets header values name (checked together by :meth:`secrets`)."""
        values = stored_str_dict(headers)
        for header, names in header_secret_names(values).items():
            for name in names:
                problems.secret_uses.append(([*loc, header], f"header '{header}'", name))

    def mcp_server(self, server: Mapping[str, Any], loc: Loc, problems: FieldProblems) -> None:
        """Check a dumped ``McpServerSpec``."""
        if server.get("transport") == "stdio":
            command = str(server.get("command") or "")
            if command not in self.policy.stdio_servers:
                configured = ", ".join(sorted(self.policy.stdio_servers)) or "none"
                problems.add(
                    [*loc, "command"],
                    f"no stdio MCP server '{command}' is configured on the workers "
                    f"(configured: {configured})",
                    "unknown_mcp_server",
                )
            return
        self.url(str(server.get("url") or ""), [*loc, "url"], problems)
        timeout = server.get("timeout_s")
        if isinstance(timeout, int | float) and timeout > self.policy.max_timeout_s:
            problems.add(
                [*loc, "timeout_s"],
                f"at most {self.policy.max_timeout_s:g} s in this deployment",
                "timeout_too_long",
            )
        self.headers(server.get("headers"), [*loc, "headers"], problems)

    async def secrets(self, problems: FieldProblems) -> None:
        """Every secret named so far must be a live secret of the caller's tenant."""
        if not problems.secret_uses:
            return
        existing = await self.tools.existing_secret_names({name for _, _, name in problems.secret_uses})
        for loc, where, name in problems.secret_uses:
            if name not in existing:
                problems.add(loc, f"{where} names secret '{name}', which does not exist", "unknown_secret")


async def catalog_names(repository: ToolCatalogRepository) -> set[str]:
    """Tools a version may name alone: the built-in ones, the memory tools and those the workers
    registered, minus retired ones."""
    names = (
        set(catalog.BUILTIN_TOOL_NAMES)
        | set(catalog.MEMORY_TOOL_NAMES)
        | set(catalog.ARTIFACT_TOOL_NAMES)
        | await repository.names()
    )
    return names - set(catalog.RETIRED_TOOLS)


def _name_taken(name: str) -> ConflictError:
    return ConflictError(f"A tool named '{name}' already exists.", code="tool_name_taken")


class ToolService:
    """Registered tools of one tenant, and the deployment's catalog."""

    def __init__(self, session: AsyncSession, tenant_id: str, policy: ToolPolicy | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.tools = ToolRepository(session, tenant_id)
        self.catalog = ToolCatalogRepository(session)
        self.checks = DefinitionChecks(policy or ToolPolicy(), self.tools)

    async def _check(self, body: ToolDefinitionCreate) -> None:
        problems = FieldProblems()
        if body.name in await catalog_names(self.catalog):
            problems.add(
                ["body", "name"],
                f"'{body.name}' is the name of a catalog tool; choose another",
                "name_taken_by_catalog",
            )
        self.checks.endpoint(body.http.model_dump(mode="json"), ["body", "http"], problems)
        await self.checks.secrets(problems)
        problems.raise_if_any()

    def _revision(self, tool: Tool, body: ToolDefinitionCreate, created_by: str | None) -> ToolRevision:
        return ToolRevision(
            tool_id=tool.id,
            revision=tool.latest_revision,
            tenant_id=self.tenant_id,
            kind="http",
            description=body.description,
            parameters=body.parameters,
            http=body.http.model_dump(mode="json"),
            created_at=tool.updated_at,
            created_by=created_by,
        )

    async def create(
        self, body: ToolDefinitionCreate, *, created_by: str | None
    ) -> tuple[Tool, ToolRevision]:
        """Register a tool; its definition becomes revision 1."""
        await self._check(body)
        if await self.tools.get_by_name(body.name) is not None:
            raise _name_taken(body.name)
        now = utcnow()
        tool = Tool(
            id=new_tool_id(),
            tenant_id=self.tenant_id,
            name=body.name,
            latest_revision=1,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                await self.tools.add(tool)
        except IntegrityError as exc:  # a concurrent create took the name
            raise _name_taken(body.name) from exc
        revision = await self.tools.add_revision(self._revision(tool, body, created_by))
        return tool, revision

    async def get(self, tool_id: str, *, for_update: bool = False) -> Tool:
        """A live tool of the tenant, or 404 (another tenant's tool is 404 too)."""
        tool = await self.tools.get(tool_id, for_update=for_update)
        if tool is None:
            raise NotFoundError("Tool", tool_id)
        return tool

    async def get_with_latest(self, tool_id: str) -> tuple[Tool, ToolRevision]:
        """A tool and its latest revision."""
        tool = await self.get(tool_id)
        return tool, await self._latest(tool)

    async def _latest(self, tool: Tool) -> ToolRevision:
        revision = await self.tools.get_revision(tool.id, tool.latest_revision)
        if revision is None:  # written in the same transaction as the tool: cannot happen
            raise NotFoundError("Tool revision", f"{tool.id}/revisions/{tool.latest_revision}")
        return revision

    async def list(
        self, *, limit: int, before: str | None, name: str | None
    ) -> Window[tuple[Tool, ToolRevision]]:
        """A page of tools with their latest revisions, newest first."""
        rows = await self.tools.list(limit=limit + 1, before_id=before, name=name)
        page = window(rows, limit, key=lambda tool: tool.id)
        items = [(tool, await self._latest(tool)) for tool in page.items]
        return Window(items=items, next_cursor=page.next_cursor)

    async def update(
        self, tool_id: str, body: ToolDefinitionCreate, *, created_by: str | None
    ) -> tuple[Tool, ToolRevision]:
        """Replace the definition: a new immutable revision (versions keep the one they copied)."""
        tool = await self.get(tool_id, for_update=True)
        await self._check(body)
        if body.name != tool.name and await self.tools.get_by_name(body.name) is not None:
            raise _name_taken(body.name)
        tool.name = body.name
        tool.latest_revision += 1
        tool.updated_at = utcnow()
        try:
            async with self.session.begin_nested():
                self.session.add(tool)
                await self.session.flush()
        except IntegrityError as exc:
            raise _name_taken(body.name) from exc
        revision = await self.tools.add_revision(self._revision(tool, body, created_by))
        return tool, revision

    async def delete(self, tool_id: str) -> None:
        """Delete a tool no agent's latest version uses (409 ``tool_in_use`` otherwise)."""
        tool = await self.get(tool_id, for_update=True)
        users = await self.tools.agents_using(tool.id)
        if users:
            names = ", ".join(f"'{name}' ({agent_id})" for agent_id, name in users)
            raise ConflictError(
                f"Tool '{tool.name}' is used by the latest version of agent(s) {names}; give them a "
                "version without it, or delete them, before deleting the tool.",
                code="tool_in_use",
            )
        await self.tools.soft_delete(tool)

    async def list_revisions(self, tool_id: str, *, limit: int, below: int | None) -> Window[ToolRevision]:
        """A page of a tool's revisions, newest first."""
        await self.get(tool_id)
        rows = await self.tools.list_revisions(tool_id, limit=limit + 1, below_revision=below)
        return window(rows, limit, key=lambda revision: revision.revision)

    async def get_revision(self, tool_id: str, revision: int) -> ToolRevision:
        """One revision of a tool, or 404."""
        await self.get(tool_id)
        found = await self.tools.get_revision(tool_id, revision)
        if found is None:
            raise NotFoundError("Tool revision", f"{tool_id}/revisions/{revision}")
        return found

    async def list_catalog(self) -> list[CatalogToolPublic]:
        """The built-in tools and those workers registered, by name (retired ones left out)."""
        rows = {row.name: row for row in await self.catalog.list()}
        names = await catalog_names(self.catalog)
        result: list[CatalogToolPublic] = []
        for name in sorted(names):
            row = rows.get(name)
            if row is None:
                result.append(
                    CatalogToolPublic(
                        name=name, description="", parameters={}, source="builtin", last_seen_at=None
                    )
                )
            else:
                result.append(
                    CatalogToolPublic(
                        name=row.name,
                        description=row.description,
                        parameters=dict(row.parameters),
                        source=row.source,
                        last_seen_at=row.last_seen_at,
                    )
                )
        return result


def revision_definition(revision: ToolRevision) -> dict[str, Any]:
    """The parts of a revision a version's tool copies (``ToolConfig`` field names)."""
    return {
        "kind": revision.kind,
        "description": revision.description,
        "parameters": dict(revision.parameters),
        "http": dict(revision.http),
    }
