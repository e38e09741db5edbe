"""Typed dictionaries for the nested parts of request bodies (versions, tools, MCP servers, ...).

Request bodies nest: an agent version holds tools, a tool may hold an HTTP endpoint with a retry
policy. Plain dicts keep call sites short (``tools=[{"name": "calculator"}]``) and read like the
API's JSON documentation; ``TypedDict`` keeps them checked by type checkers and editors. The
server validates everything again and answers 422 naming the field, so the SDK does not duplicate
its rules. Like the response models, these are compared with the OpenAPI document by a test.
"""

from __future__ import annotations

from typing import Any, Literal, Required

# typing_extensions (a dependency of pydantic): pydantic reads only its TypedDict on Python 3.11.
from typing_extensions import TypedDict

__all__ = [
    "AgentVersionParams",
    "ContextParams",
    "HttpEndpointParams",
    "HttpRetryParams",
    "McpServerParams",
    "MemoryNamespaceParams",
    "MemoryParams",
    "ModelSettingsParams",
    "RegisteredToolParams",
    "RunLimitsParams",
    "ToolParams",
]


class HttpRetryParams(TypedDict, total=False):
    """When an HTTP tool's failed request is sent again."""

    max_attempts: int
    initial_interval_s: float
    backoff: float
    max_interval_s: float
    retry_on_status: list[int]


class HttpEndpointParams(TypedDict, total=False):
    """The endpoint an HTTP tool calls; header values may name secrets as ``{{secrets.NAME}}``.

    Example:
        >>> {"method": "POST", "url": "https://tickets.example.com/tickets",
        ...  "headers": {"Authorization": "Bearer {{secrets.tickets_token}}"}}
    """

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: Required[str]
    headers: dict[str, str]
    timeout_s: float
    max_response_bytes: int
    retry: HttpRetryParams | None


class RegisteredToolParams(TypedDict, total=False):
    """A tool registered with ``client.tools.create``, by name (and revision to pin)."""

    name: Required[str]
    revision: int | None


class ToolParams(TypedDict, total=False):
    """A tool of an agent version, in one of three forms.

    Example:
        >>> {"name": "calculator"}                                   # a catalog tool
        >>> {"name": "calculator", "requires_approval": True}        # a human approves each call
        >>> {"tool": {"name": "create_ticket", "revision": 2}}       # a registered tool
        >>> {"name": "lookup", "description": "...", "parameters": {...}, "http": {...}}  # inline
    """

    name: str | None
    tool: RegisteredToolParams | None
    description: str | None
    parameters: dict[str, Any] | None
    http: HttpEndpointParams | None
    requires_approval: bool
    settings: dict[str, Any]


class McpServerParams(TypedDict, total=False):
    """An MCP server whose tools the model may call (as ``<name>_<tool>``)."""

    name: Required[str]
    transport: Literal["streamable-http", "stdio"]
    url: str | None
    command: str | None
    headers: dict[str, str]
    tools: list[str] | None
    requires_approval: bool
    timeout_s: float
    list_ttl_s: float


class ModelSettingsParams(TypedDict, total=False):
    """Sampling settings passed to the model."""

    temperature: float | None
    max_tokens: int | None


class RunLimitsParams(TypedDict, total=False):
    """Per-run limits (a run that exceeds one fails, or times out)."""

    max_requests: int
    max_total_tokens: int | None
    run_timeout_s: int
    approval_timeout_s: int
    on_approval_timeout: Literal["reject", "fail"]


class MemoryNamespaceParams(TypedDict, total=False):
    """Whose memories the memory tools use: the agent's, a thread's, or a user's."""

    scope: Literal["agent", "user", "thread"]
    metadata_key: str | None


class ContextParams(TypedDict, total=False):
    """What a thread run's model sees of the earlier turns."""

    strategy: Literal["none", "last_n", "summarize"]
    max_context_tokens: int | None
    last_n_turns: int | None
    summary_model: str | None


class MemoryParams(TypedDict, total=False):
    """The memory tools' namespace and the thread context."""

    store_namespace: MemoryNamespaceParams
    context: ContextParams


class AgentVersionParams(TypedDict, total=False):
    """A new agent version (``agents.create(version=...)``, ``agents.versions.create(...)``).

    Example:
        >>> {"model": "builtin:scripted", "instructions": "Answer briefly.",
        ...  "tools": [{"name": "calculator"}], "limits": {"max_requests": 10}}
    """

    model: Required[str]
    fallback_models: list[str]
    instructions: str
    tools: list[ToolParams]
    mcp_servers: list[McpServerParams]
    model_settings: ModelSettingsParams
    limits: RunLimitsParams
    memory: MemoryParams | None
