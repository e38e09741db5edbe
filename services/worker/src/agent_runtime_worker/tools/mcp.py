"""The tools of an agent version's MCP servers, built inside the MCP toolset's activities.

An agent version names MCP servers (:class:`~agent_runtime_core.temporal.contracts.McpServerConfig`);
the runtime agent has one dynamic toolset (id ``mcp``) whose function runs inside its Temporal
activities (listing and calling) and asks :class:`McpServers` for the run's toolset: one
pydantic-ai :class:`~pydantic_ai.mcp.MCPToolset` per server, its tools filtered by the version's
list, marked with the server's name (``MCP_SERVER_METADATA_KEY``, which the workflow's
``only_enabled_tools`` reads to offer them and to ask for approval) and prefixed ``<server>_``.

What this module enforces, on the worker, whatever the API accepted:

* Streamable HTTP servers are reached at ``https://`` URLs (``http://`` only when the operator
  turned ``tools_require_https`` off); the host is resolved and refused when it is a cloud metadata
  endpoint, or a private, loopback or link-local address while ``tools_allow_private_networks`` is
  off (checked when a session opens; the MCP client follows redirects within the origin only);
* stdio servers are started only by the name of a command line the operator installed on the
  worker (``mcp_stdio_servers``), never from a command the API sent;
* header values' ``{{secrets.NAME}}`` placeholders are filled with the tenant's secrets, read
  inside the activity (only the names travel through Temporal); a missing secret fails the run;
* a server's tool list is reused for ``list_ttl_s`` within this worker process, per tenant, server
  and connection (URL or command line, and a hash of the rendered headers): the version is
  immutable, so this is a per-version cache, and no tenant ever reads another's entry.

Failures: a configuration the worker refuses is a pydantic-ai ``UserError`` (not retried; the run
fails ``configuration_error``). A server that cannot be reached while listing raises
:class:`McpServerUnreachableError` (retried by the activity's policy, then the run fails
``tool_error``). A server that cannot be reached for a call is retried the same way and, on the
activity's last attempt, answers the model with a failed tool result (``ToolFailed``) instead of
failing the run; the server's own tool errors go back to the model as retry prompts.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import shlex
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol, cast

import httpx
from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from pydantic import BaseModel, ConfigDict
from pydantic_ai import RunContext, ToolsetTool
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed, UserError
from pydantic_ai.mcp import MCPToolset
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, CombinedToolset, WrapperToolset
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.temporal.contracts import SECRET_PLACEHOLDER, McpServerConfig, header_secret_names
from agent_runtime_worker.agents.runtime_agent import MCP_SERVER_METADATA_KEY
from agent_runtime_worker.tools._safe_http import is_cloud_metadata_address, is_public_address

__all__ = [
    "MCP_SERVER_UNREACHABLE",
    "McpPolicy",
    "McpServerUnreachableError",
    "McpServers",
    "McpToolListCache",
    "SecretResolver",
    "render_headers",
]

MCP_SERVER_UNREACHABLE: Final = "McpServerUnreachable"
"""The ``ApplicationError`` type of a listing that could not reach its server."""

_CONTROL_FLOW: Final = (UserError, ModelRetry, ToolFailed, ApprovalRequired, CallDeferred)
"""pydantic-ai's own outcomes: passed on as they are, never reported as an unreachable server."""


class SecretResolver(Protocol):
    """Reads a tenant's secrets (decrypted) by name; the worker's secrets repository implements it."""

    async def values(self, tenant_id: str, names: set[str]) -> dict[str, str]:
        """The values of those of ``names`` the tenant has; absent names are left out."""
        ...


class McpPolicy(BaseModel):
    """What the operator lets MCP servers do on this worker (from the worker's settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    require_https: bool = True
    allow_private_networks: bool = False
    """Cloud metadata endpoints stay refused regardless."""
    stdio_servers: dict[str, str] = {}
    """Installed stdio servers: the name a version uses → the command line the worker runs."""
    max_timeout_s: float = 120.0
    """Upper bound of a server's ``timeout_s``."""


class McpServerUnreachableError(ApplicationError):
    """The server could not be reached (or failed) while its tools were listed or one was called."""

    def __init__(self, server: McpServerConfig, error: BaseException) -> None:
        """Describe ``error`` for the run's record (retryable: the activity's policy decides)."""
        super().__init__(
            f"MCP server {server.name!r} at {_where(server)} is unreachable: {_describe(error)}",
            type=MCP_SERVER_UNREACHABLE,
        )


async def render_headers(
    server: McpServerConfig, tenant_id: str, secrets: SecretResolver | None
) -> dict[str, str]:
    """The server's headers with ``{{secrets.NAME}}`` replaced by the tenant's secret values.

    Raises:
        UserError: A named secret does not exist for the tenant (or no secret store is configured).
    """
    names = header_secret_names(server.headers)
    if not names:
        return dict(server.headers)
    values = await secrets.values(tenant_id, names) if secrets is not None else {}
    missing = sorted(names - values.keys())
    if missing:
        raise UserError(
            f"MCP server {server.name!r}: the header secret(s) {', '.join(missing)} do not exist "
            "for this tenant; create them or change the agent version."
        )
    return {
        key: SECRET_PLACEHOLDER.sub(lambda match: values[match.group(1)], value)
        for key, value in server.headers.items()
    }


CacheKey = tuple[str, str, str, str, str]
"""(tenant, server name, transport, URL or command line, hash of the rendered headers)."""


@dataclass
class McpToolListCache:
    """Tool lists of MCP servers, reused while younger than the asking server's ``list_ttl_s``
    (one cache per worker process; keys always include the tenant)."""

    clock: Callable[[], float] = time.monotonic
    _entries: dict[CacheKey, tuple[float, list[ToolDefinition]]] = field(
        default_factory=dict[CacheKey, tuple[float, list[ToolDefinition]]]
    )

    def get(self, key: CacheKey, max_age_s: float) -> list[ToolDefinition] | None:
        """The list stored under ``key`` if it is younger than ``max_age_s`` seconds."""
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry[0] >= max_age_s:
            return None
        return entry[1]

    def put(self, key: CacheKey, tool_defs: list[ToolDefinition]) -> None:
        """Store a fresh list under ``key``."""
        self._entries[key] = (self.clock(), tool_defs)


ToolCallRecorder = Callable[
    [str, dict[str, Any], RunContext[Any], Callable[[], Awaitable[Any]]], Awaitable[Any]
]
"""Runs one tool call between its ``tool.call.started``/``finished`` events
(``AgentActivities.call_tool``)."""


@dataclass
class McpServers:
    """Builds a run's MCP toolset inside the MCP toolset's activities."""

    policy: McpPolicy
    secrets: SecretResolver | None
    record_call: ToolCallRecorder
    cache: McpToolListCache = field(default_factory=McpToolListCache)

    async def toolset(self, tenant_id: str, servers: list[McpServerConfig]) -> AbstractToolset[Any] | None:
        """The tools of ``servers`` for a run of ``tenant_id``: prefixed, filtered, recorded.

        Building connects to nothing: a server is reached when its tools are listed (and the cache
        has no fresh list) or one is called.
        """
        if not servers:
            return None
        toolsets: list[AbstractToolset[Any]] = []
        for server in servers:
            server_toolset = await self._server_toolset(tenant_id, server)
            toolsets.append(server_toolset.prefixed(server.name))
        return RecordedMcpCalls(CombinedToolset(toolsets), record_call=self.record_call)

    async def _server_toolset(self, tenant_id: str, server: McpServerConfig) -> McpServerToolset:
        timeout_s = min(server.timeout_s, self.policy.max_timeout_s)
        if server.transport == "streamable-http":
            url = await self._checked_url(server)
            headers = await render_headers(server, tenant_id, self.secrets)
            transport: StreamableHttpTransport | StdioTransport = StreamableHttpTransport(
                url, headers=headers
            )
            target = url
        elif server.transport == "stdio":
            command_line = self.policy.stdio_servers.get(server.command or "")
            if not command_line:
                raise UserError(
                    f"MCP server {server.name!r}: no stdio server named {server.command!r} is installed "
                    "on this worker (operators list them in mcp_stdio_servers)."
                )
            argv = shlex.split(command_line)
            transport = StdioTransport(argv[0], argv[1:], keep_alive=False)
            headers = {}
            target = command_line
        else:
            raise UserError(f"MCP server {server.name!r}: unsupported transport {server.transport!r}.")
        client = Client[Any](transport, timeout=timeout_s, init_timeout=timeout_s)
        headers_hash = hashlib.sha256(json.dumps(headers, sort_keys=True).encode()).hexdigest()
        return McpServerToolset(
            MCPToolset[Any](client, max_retries=None),
            server=server,
            cache=self.cache,
            cache_key=(tenant_id, server.name, server.transport, target, headers_hash),
        )

    async def _checked_url(self, server: McpServerConfig) -> str:
        """The server's URL, once its scheme and every address its host resolves to are allowed."""
        try:
            url = httpx.URL(server.url or "")
        except httpx.InvalidURL as error:
            raise UserError(f"MCP server {server.name!r}: invalid URL {server.url!r}: {error}") from None
        allowed_schemes = {"https"} if self.policy.require_https else {"https", "http"}
        if url.scheme not in allowed_schemes or not url.host:
            raise UserError(
                f"MCP server {server.name!r}: {server.url!r} is not an "
                f"{' or '.join(sorted(allowed_schemes))} URL."
            )
        if url.userinfo:
            raise UserError(
                f"MCP server {server.name!r}: credentials in the URL are not allowed; use headers."
            )
        for address in await _resolve(server, url):
            if is_cloud_metadata_address(address):
                raise UserError(
                    f"MCP server {server.name!r} at {url} is refused: {address} is a cloud metadata endpoint."
                )
            if not self.policy.allow_private_networks and not is_public_address(address):
                raise UserError(
                    f"MCP server {server.name!r} at {url} is refused: {address} is a private, loopback, "
                    "link-local or otherwise non-public address."
                )
        return str(url)


@dataclass
class McpServerToolset(WrapperToolset[Any]):
    """One server's tools: listed through the cache, filtered by the version, marked with the server.

    Entering it connects to nothing; the wrapped ``MCPToolset`` opens a session for each listing
    (on a cache miss) and each call, inside the activity that needs it.
    """

    server: McpServerConfig = field(kw_only=True)
    cache: McpToolListCache = field(kw_only=True)
    cache_key: CacheKey = field(kw_only=True)

    @property
    def mcp(self) -> MCPToolset[Any]:
        """The server's pydantic-ai toolset."""
        return cast(MCPToolset[Any], self.wrapped)

    async def __aenter__(self) -> McpServerToolset:
        """Connect lazily (see the class docstring)."""
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        """Nothing stays open between requests."""
        return None

    async def get_tools(self, ctx: RunContext[Any]) -> dict[str, ToolsetTool[Any]]:
        """The server's tools the version allows, from the cache when it is fresh."""
        tool_defs = self.cache.get(self.cache_key, self.server.list_ttl_s)
        if tool_defs is None:
            try:
                listed = await self.mcp.get_tools(ctx)
            except _CONTROL_FLOW:
                raise
            except Exception as error:
                raise McpServerUnreachableError(self.server, error) from error
            tool_defs = [tool.tool_def for tool in listed.values()]
            self.cache.put(self.cache_key, tool_defs)
        allowed = set(self.server.tools) if self.server.tools is not None else None
        tools: dict[str, ToolsetTool[Any]] = {}
        for tool_def in tool_defs:
            if allowed is not None and tool_def.name not in allowed:
                continue
            marked = replace(
                tool_def, metadata={**(tool_def.metadata or {}), MCP_SERVER_METADATA_KEY: self.server.name}
            )
            tools[tool_def.name] = replace(self.mcp.tool_for_tool_def(marked, ctx=ctx), toolset=self)
        return tools

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        """Call the tool; a server that cannot be reached is retried, then reported to the model."""
        try:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except _CONTROL_FLOW:
            raise
        except Exception as error:
            unreachable = McpServerUnreachableError(self.server, error)
            if _last_attempt():
                raise ToolFailed(f"{unreachable.message}. The tool was not run.") from error
            raise unreachable from error


@dataclass
class RecordedMcpCalls(WrapperToolset[Any]):
    """Records each call (under the name the model used) as ``tool.call.started``/``finished``."""

    record_call: ToolCallRecorder = field(kw_only=True)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        """Run the call between its events."""

        async def call() -> Any:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)

        return await self.record_call(name, tool_args, ctx, call)


def _last_attempt() -> bool:
    """Whether this activity attempt is the last its retry policy allows."""
    info = activity.info()
    maximum = info.retry_policy.maximum_attempts if info.retry_policy is not None else 0
    return maximum > 0 and info.attempt >= maximum


def _where(server: McpServerConfig) -> str:
    if server.transport == "stdio":
        return f"stdio:{server.command}"
    return server.url or ""


def _describe(error: BaseException) -> str:
    """The innermost useful message of ``error`` (task groups nest the real cause)."""
    while isinstance(error, BaseExceptionGroup):
        group = cast(BaseExceptionGroup[BaseException], error)
        error = group.exceptions[0]
    return str(error) or type(error).__name__


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


async def _resolve(server: McpServerConfig, url: httpx.URL) -> list[IPAddress]:
    host = url.host
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise McpServerUnreachableError(server, error) from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
