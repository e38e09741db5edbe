"""Agents and agent versions."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_runtime_core.catalog import (
    ARTIFACT_TOOL_NAMES,
    BUILTIN_TOOL_NAMES,
    MEMORY_TOOL_NAMES,
    RETIRED_TOOLS,
    model_name_problem,
)
from agent_runtime_core.schemas.common import StrictInput
from agent_runtime_core.schemas.tool import (
    MAX_TIMEOUT_S,
    MAX_URL_LENGTH,
    TOOL_NAME_PATTERN,
    HttpEndpointPublic,
    HttpEndpointSpec,
    Loc,
    ToolName,
    check_headers,
    check_json_schema,
    check_url,
    field_errors,
    stored_dict,
    stored_str_dict,
    stored_str_list,
)

if TYPE_CHECKING:
    from agent_runtime_core.models import Agent, AgentVersion

_Stored = TypeVar("_Stored", bound=BaseModel)


def _read_stored(model: type[_Stored], stored: Mapping[str, Any]) -> _Stored:
    """Read a stored JSON object leniently: keys this build does not know are ignored and nothing
    is re-checked, so a row written by an older or newer API is always shown (never a 500).
    Stored values were validated when they were written."""
    known = {key: value for key, value in stored.items() if key in model.model_fields}
    return model.model_construct(**known)


AgentName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$",
        description="Unique per tenant among live agents; letters, digits, space, _ . -",
        examples=["support-bot"],
    ),
]
ModelName = Annotated[
    str,
    Field(
        min_length=3,
        max_length=200,
        description=(
            "`provider:model`, e.g. `openai:gpt-4o`, `anthropic:claude-sonnet-4-5`, "
            "`openai-compatible:llama3.1` (server at AGENT_RUNTIME_OPENAI_BASE_URL) or the "
            "offline `builtin:scripted`."
        ),
        examples=["builtin:scripted"],
    ),
]


def _check_model_name(value: str) -> str:
    problem = model_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class RegisteredToolRef(StrictInput):
    """A tool registered with ``/v1/tools``, by name; the version copies the named revision."""

    name: ToolName = Field(description="The registered tool's current name.")
    revision: int | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="Revision to pin; null: the latest revision when the version is created.",
    )


class ToolSpec(StrictInput):
    """A tool the agent may call. One of three forms:

    * a catalog tool: `name` only (built in, or from a tool package installed on the workers;
      `GET /v1/tools/catalog` lists them);
    * an inline HTTP tool: `name`, `description`, `parameters` and `http`;
    * a registered tool: `tool` (`{"name": ..., "revision": ...}`); `name` renames it for the model.
    """

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description=(
            "A catalog tool's name, or the name the model calls an HTTP or registered tool by "
            "(a letter, then letters, digits, _ or -). Unique in the version."
        ),
        examples=["calculator"],
    )
    tool: RegisteredToolRef | None = Field(default=None, description="A tool registered with `/v1/tools`.")
    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Inline HTTP tool: what it does (the model reads it).",
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="Inline HTTP tool: JSON Schema (draft 2020-12) of the arguments object."
    )
    http: HttpEndpointSpec | None = Field(
        default=None, description="Inline HTTP tool: the endpoint it calls."
    )
    requires_approval: bool = Field(
        default=False, description="Pause the run for a human decision before the tool runs."
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="Tool-specific settings.")

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else check_json_schema(cls.__name__, value)

    @property
    def kind(self) -> Literal["catalog", "http", "registered"]:
        """Which of the three forms this is."""
        if self.tool is not None:
            return "registered"
        return "http" if self.http is not None else "catalog"

    @property
    def effective_name(self) -> str:
        """The name the model sees (a registered tool's own name unless renamed)."""
        if self.name is not None:
            return self.name
        return self.tool.name if self.tool is not None else ""

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        errors: list[tuple[Loc, str]] = []
        inline = {"description": self.description, "parameters": self.parameters, "http": self.http}
        if self.tool is not None:
            errors += [
                ((field,), "a registered tool brings its own definition; remove this field")
                for field, value in inline.items()
                if value is not None
            ]
        elif self.http is not None:
            errors += [
                ((field,), "an HTTP tool needs a name, a description and parameters")
                for field, value in {"name": self.name, **inline}.items()
                if value is None
            ]
        else:
            if self.name is None:
                errors.append((("name",), "name a catalog tool, or give `http` or `tool`"))
            errors += [
                ((field,), "only HTTP tools have this field; give `http` too, or remove it")
                for field, value in inline.items()
                if value is not None
            ]
        if self.name is not None and self.kind != "catalog" and not re.match(TOOL_NAME_PATTERN, self.name):
            errors.append((("name",), "a letter, then letters, digits, _ or - (at most 64)"))
        if errors:
            raise field_errors(type(self).__name__, errors)
        return self


class McpServerSpec(StrictInput):
    """An MCP server whose tools the model may call, as `<server name>_<tool name>`."""

    name: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$",
        description="Unique in the version (tools and servers share one namespace); prefixes its tools.",
        examples=["crm"],
    )
    transport: Literal["streamable-http", "stdio"] = Field(
        default="streamable-http",
        description=(
            "`streamable-http`: the server at `url`. `stdio`: a server the operator installed on the "
            "workers, named by `command`."
        ),
    )
    url: str | None = Field(
        default=None,
        max_length=MAX_URL_LENGTH,
        description="Streamable HTTP endpoint; https:// unless the deployment allows http://.",
        examples=["https://mcp.example.com/mcp"],
    )
    command: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="stdio only: the name of a server the operator configured (`mcp_stdio_servers`).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict[str, str],
        description="Streamable HTTP only; values may name secrets as `{{secrets.NAME}}`.",
    )
    tools: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        default=None, max_length=256, description="Only these of the server's tools; null: all of them."
    )
    requires_approval: bool = Field(default=False, description="Every tool of the server needs approval.")
    timeout_s: float = Field(
        default=30.0, gt=0, le=MAX_TIMEOUT_S, description="Per call; at most the deployment's cap."
    )
    list_ttl_s: float = Field(
        default=300.0, ge=0, le=86_400, description="How long workers may reuse the server's tool list."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(cls.__name__, value)

    @field_validator("tools")
    @classmethod
    def _tools_unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("tools must not repeat a name")
        return value

    @model_validator(mode="after")
    def _transport_fields(self) -> Self:
        errors: list[tuple[Loc, str]] = []
        if self.transport == "streamable-http":
            if self.url is None:
                errors.append((("url",), "a streamable-http server needs a url"))
            if self.command is not None:
                errors.append((("command",), "only stdio servers have a command"))
        else:
            if self.command is None:
                errors.append(
                    (("command",), "a stdio server needs a command: the name of a configured server")
                )
            if self.url is not None:
                errors.append((("url",), "stdio servers have no url"))
            if self.headers:
                errors.append((("headers",), "stdio servers have no headers"))
        if errors:
            raise field_errors(type(self).__name__, errors)
        return self


class ModelSettings(StrictInput):
    """Sampling settings passed to the model."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


class Limits(StrictInput):
    """Per-run limits. A run that exceeds one ends ``failed`` (or ``timed_out`` for time)."""

    max_requests: int = Field(default=50, ge=1, le=10_000, description="Model requests per run.")
    max_total_tokens: int | None = Field(
        default=None, ge=1, le=100_000_000, description="Input + output tokens per run."
    )
    run_timeout_s: int = Field(
        default=3600, ge=1, le=30 * 24 * 3600, description="Wall-clock limit of a run, seconds."
    )
    approval_timeout_s: int = Field(
        default=24 * 3600,
        ge=1,
        le=30 * 24 * 3600,
        description="How long an approval (or a question to a human) may wait, seconds.",
    )
    on_approval_timeout: Literal["reject", "fail"] = Field(
        default="reject",
        description=(
            "When nobody answers in time: `reject` tells the model the call was rejected (or the "
            "question unanswered) and the run goes on; `fail` ends the run `failed`."
        ),
    )


class MemoryNamespaceSpec(StrictInput):
    """Whose memories the memory tools read and write: the namespace of the store they use.

    `agent`: one memory shared by every run of the agent (`["memories", <agent_id>]`). `thread`:
    one memory per conversation (`["memories", <agent_id>, <thread_id>]`); a run of the agent
    needs a thread. `user`: one memory per user, named by the run metadata key `metadata_key`
    (`["memories", <agent_id>, "user", <metadata[metadata_key]>]`); a run needs that key (a thread
    run may take it from its thread's metadata)."""

    scope: Literal["agent", "user", "thread"] = "agent"
    metadata_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="`user` scope: the run metadata key whose value names the user.",
        examples=["user_id"],
    )

    @model_validator(mode="after")
    def _user_needs_a_key(self) -> Self:
        if self.scope == "user" and self.metadata_key is None:
            raise field_errors(
                type(self).__name__,
                [
                    (
                        ("metadata_key",),
                        "the 'user' memory scope needs the run metadata key that names the user",
                    )
                ],
            )
        return self


ContextStrategy = Literal["none", "last_n", "summarize"]


class ContextSpec(StrictInput):
    """What the model of a run on a thread sees of the thread's earlier turns.

    `none`: every earlier turn. `last_n`: the last `last_n_turns` turns. `summarize`: when the
    thread's estimated tokens (characters / 4 of the turns' JSON) exceed `max_context_tokens`, the
    oldest turns are summarized by `summary_model` (default: the version's model) in a durable
    activity, and the model sees the summary and the recent turns. The full history stays readable
    (`GET /v1/threads/{id}/messages`); the summary is shown on the thread and as a
    `thread.summarized` event of the run that made it."""

    strategy: ContextStrategy = "none"
    max_context_tokens: int | None = Field(
        default=None,
        ge=100,
        le=10_000_000,
        description="`summarize`: summarize when the thread's estimated tokens exceed this.",
    )
    last_n_turns: int | None = Field(
        default=None, ge=1, le=10_000, description="`last_n`: how many of the latest turns the model sees."
    )
    summary_model: ModelName | None = Field(
        default=None, description="`summarize`: the model that writes summaries (null: the version's model)."
    )

    @field_validator("summary_model")
    @classmethod
    def _summary_model_known(cls, value: str | None) -> str | None:
        return _check_model_name(value) if value is not None else None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        errors: list[tuple[Loc, str]] = []
        if self.strategy == "last_n" and self.last_n_turns is None:
            errors.append((("last_n_turns",), "the 'last_n' strategy needs last_n_turns"))
        if self.strategy == "summarize" and self.max_context_tokens is None:
            errors.append((("max_context_tokens",), "the 'summarize' strategy needs max_context_tokens"))
        if errors:
            raise field_errors(type(self).__name__, errors)
        return self


class MemorySpec(StrictInput):
    """Configuration of the memory tools (`memory_save`, `memory_search`, `memory_delete`) and of
    what a run on a thread sees of the thread's earlier turns (`context`)."""

    store_namespace: MemoryNamespaceSpec = Field(default_factory=MemoryNamespaceSpec)
    context: ContextSpec = Field(default_factory=ContextSpec)


class AgentVersionCreate(StrictInput):
    """A new immutable version of an agent."""

    model: ModelName
    fallback_models: list[ModelName] = Field(default_factory=list, max_length=5)
    instructions: str = Field(default="", max_length=100_000)
    tools: list[ToolSpec] = Field(default_factory=list[ToolSpec], max_length=64)
    mcp_servers: list[McpServerSpec] = Field(default_factory=list[McpServerSpec], max_length=16)
    model_settings: ModelSettings = Field(default_factory=ModelSettings)
    limits: Limits = Field(default_factory=Limits)
    memory: MemorySpec | None = Field(
        default=None,
        description=(
            "Where the memory tools keep this agent's memories, and how much of a thread's earlier "
            "turns the model sees (null: agent scope, every turn)."
        ),
    )

    @field_validator("model")
    @classmethod
    def _model_known(cls, value: str) -> str:
        return _check_model_name(value)

    @field_validator("fallback_models")
    @classmethod
    def _fallbacks_known(cls, value: list[str]) -> list[str]:
        for model in value:
            _check_model_name(model)
        if len(set(value)) != len(value):
            raise ValueError("fallback_models must not repeat a model")
        return value

    @model_validator(mode="after")
    def _names_unique(self) -> Self:
        # Tools and MCP servers share one namespace: a server's tools are offered as `<server>_…`.
        named: list[tuple[Loc, str]] = [
            (("tools", index, "name" if tool.name is not None else "tool"), tool.effective_name)
            for index, tool in enumerate(self.tools)
        ] + [(("mcp_servers", index, "name"), server.name) for index, server in enumerate(self.mcp_servers)]
        seen: set[str] = set()
        errors: list[tuple[Loc, str]] = []
        for loc, name in named:
            if name in seen:
                errors.append((loc, f"tools and MCP servers must not repeat a name: {name}"))
            seen.add(name)
        if errors:
            raise field_errors(type(self).__name__, errors)
        return self


class AgentCreate(StrictInput):
    """A new agent, optionally with its first version in the same call."""

    name: AgentName
    description: str = Field(default="", max_length=2000)
    version: AgentVersionCreate | None = Field(
        default=None, description="If given, version 1 is created with the agent."
    )


class AgentUpdate(StrictInput):
    """Change an agent's name or description (behaviour changes are new versions)."""

    name: AgentName | None = None
    description: str | None = Field(default=None, max_length=2000)


class ToolRefPublic(BaseModel):
    """The registered tool a version's tool was copied from."""

    tool_id: str
    name: str = Field(description="The registered tool's name when the version was created.")
    revision: int


class ToolPublic(BaseModel):
    """A tool of a stored version, as it was configured (HTTP tools with their whole definition)."""

    name: str = Field(examples=["calculator"])
    kind: str = Field(
        default="catalog",
        description="`catalog` (served by the workers by name) or `http` (inline or registered).",
    )
    requires_approval: bool = Field(
        default=False, description="The run pauses for a human decision before the tool runs."
    )
    settings: dict[str, Any] = Field(default_factory=dict[str, Any], description="Tool-specific settings.")
    description: str | None = Field(default=None, description="HTTP tools: what the model reads.")
    parameters: dict[str, Any] | None = Field(
        default=None, description="HTTP tools: JSON Schema of the arguments."
    )
    http: HttpEndpointPublic | None = Field(
        default=None, description="HTTP tools: the endpoint (headers show secret names, never values)."
    )
    ref: ToolRefPublic | None = Field(
        default=None, description="The registered tool and revision this tool was copied from."
    )
    available: bool = Field(
        default=True,
        description=(
            "False when a catalog tool has been retired from the catalog since this version was "
            "created: runs of this version get a tool error if the model calls it. New versions "
            "cannot name it (422)."
        ),
    )

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any], catalog: Collection[str] | None = None) -> ToolPublic:
        """A tool as a version row stores it (a ``ToolConfig``'s fields), read leniently.

        ``catalog``: the names the workers serve now (default: the built-in tools)."""
        name = str(stored.get("name", ""))
        kind = str(stored.get("kind") or "catalog")
        http = stored_dict(stored.get("http"))
        ref = stored_dict(stored.get("ref"))
        description = stored.get("description")
        names = (
            (*BUILTIN_TOOL_NAMES, *MEMORY_TOOL_NAMES, *ARTIFACT_TOOL_NAMES) if catalog is None else catalog
        )
        # An unknown kind (a newer API's) is offered to nobody by this build's workers.
        available = (name in names and name not in RETIRED_TOOLS) if kind == "catalog" else kind == "http"
        return cls(
            name=name,
            kind=kind,
            requires_approval=bool(stored.get("requires_approval", False)),
            settings=stored_dict(stored.get("settings")) or {},
            description=description if isinstance(description, str) else None,
            parameters=stored_dict(stored.get("parameters")),
            http=HttpEndpointPublic.from_stored(http) if http is not None else None,
            ref=_read_ref(ref) if ref is not None else None,
            available=available,
        )


def _read_ref(stored: Mapping[str, Any]) -> ToolRefPublic:
    revision = stored.get("revision")
    return ToolRefPublic(
        tool_id=str(stored.get("tool_id", "")),
        name=str(stored.get("name", "")),
        revision=revision if isinstance(revision, int) else 0,
    )


class McpServerPublic(BaseModel):
    """An MCP server of a stored version."""

    name: str
    transport: str = "streamable-http"
    url: str | None = None
    command: str | None = None
    headers: dict[str, str] = Field(default_factory=dict[str, str])
    tools: list[str] | None = None
    requires_approval: bool = False
    timeout_s: float = 30.0
    list_ttl_s: float = 300.0

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> McpServerPublic:
        """Read leniently: a value of an unexpected type falls back to its default."""
        url, command = stored.get("url"), stored.get("command")
        timeout, ttl = stored.get("timeout_s"), stored.get("list_ttl_s")
        return cls(
            name=str(stored.get("name", "")),
            transport=str(stored.get("transport", "streamable-http")),
            url=url if isinstance(url, str) else None,
            command=command if isinstance(command, str) else None,
            headers=stored_str_dict(stored.get("headers")),
            tools=stored_str_list(stored.get("tools")),
            requires_approval=bool(stored.get("requires_approval", False)),
            timeout_s=float(timeout) if isinstance(timeout, int | float) else 30.0,
            list_ttl_s=float(ttl) if isinstance(ttl, int | float) else 300.0,
        )


class AgentPublic(BaseModel):
    """An agent."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["agt_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    name: str
    description: str
    latest_version: int | None = Field(description="Newest version number; null before the first.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, agent: Agent) -> AgentPublic:
        """An agent as the API shows it."""
        return cls(
            id=agent.id,
            name=agent.name,
            description=agent.description,
            latest_version=agent.latest_version or None,
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )


class AgentVersionPublic(BaseModel):
    """An immutable agent version."""

    model_config = ConfigDict(from_attributes=True)

    agent_id: str
    version: int
    model: str
    fallback_models: list[str]
    instructions: str
    tools: list[ToolPublic]
    mcp_servers: list[McpServerPublic]
    model_settings: ModelSettings
    limits: Limits
    memory: dict[str, Any] | None = Field(
        default=None, description="The memory tools' configuration, as given (null: agent scope)."
    )
    created_at: datetime

    @classmethod
    def from_row(cls, version: AgentVersion, catalog: Collection[str] | None = None) -> AgentVersionPublic:
        """A stored version as the API shows it, read leniently (see :func:`_read_stored`): a
        tool no longer in ``catalog`` (default: the built-in tools) is shown with
        ``available: false``, a setting this build does not know is left out."""
        return cls(
            agent_id=version.agent_id,
            version=version.version,
            model=version.model,
            fallback_models=list(version.fallback_models),
            instructions=version.instructions,
            tools=[ToolPublic.from_stored(tool, catalog) for tool in version.tools],
            mcp_servers=[McpServerPublic.from_stored(server) for server in version.mcp_servers or []],
            model_settings=_read_stored(ModelSettings, version.model_settings),
            limits=_read_stored(Limits, version.limits),
            memory=dict(version.memory) if isinstance(version.memory, Mapping) else None,
            created_at=version.created_at,
        )
