"""Workflow names, ids, search attributes and the durable input/output models of a run's workflow.

A workflow's input is stored in its history and read again on every replay, by whatever build of
the worker is deployed then; a run may wait a month for a human. So these models are not the REST
request schemas (which forbid unknown fields and check tool names against today's catalog):

* they are frozen and lenient: unknown fields are ignored (a newer API may add some), nothing is
  checked that can change between deploys (the tool catalog, model names, limits' ranges);
* a field added later has a default; a field is never renamed or removed;
* they are built from stored rows by one function (:meth:`AgentConfig.from_version`).

Changing a name here breaks runs in flight: treat every string as frozen once released.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from temporalio.common import SearchAttributeKey

if TYPE_CHECKING:
    from agent_runtime_core.models import Agent, AgentVersion

AGENT_RUN_WORKFLOW: Final = "AgentRunWorkflow"

tenant_id_key: Final = SearchAttributeKey.for_keyword("TenantId")
agent_id_key: Final = SearchAttributeKey.for_keyword("AgentId")
run_status_key: Final = SearchAttributeKey.for_keyword("RunStatus")

SEARCH_ATTRIBUTE_TYPES: Final[dict[str, str]] = {
    tenant_id_key.name: "Keyword",
    agent_id_key.name: "Keyword",
    run_status_key.name: "Keyword",
}
"""Custom search attributes the Temporal namespace must have (name → indexed value type)."""


def workflow_id_for_run(run_id: str) -> str:
    """The workflow id of a run: one workflow per run, which makes starting it idempotent."""
    return f"run-{run_id}"


class DurableModel(BaseModel):
    """Base of every workflow/activity input and output: frozen, unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


ToolKind = Literal["catalog", "http"]
"""Where a tool's handler lives: ``catalog`` (built into the worker or installed with a tool
package, found by name) or ``http`` (the tenant's own endpoint, described in full here)."""


SECRET_PLACEHOLDER: Final = re.compile(r"\{\{\s*secrets\.([A-Za-z0-9_.\-]{1,64})\s*\}\}")
"""``{{secrets.NAME}}`` in a header value of an HTTP tool or an MCP server (group 1: the name)."""


def header_secret_names(headers: Mapping[str, str]) -> set[str]:
    """The secrets ``headers``' values name (read them before rendering the headers)."""
    return {name for value in headers.values() for name in SECRET_PLACEHOLDER.findall(value)}


class HttpRetryConfig(DurableModel):
    """When an HTTP tool's request is sent again (retryable statuses and network errors only).

    A worker that dies mid-call is a separate matter: Temporal retries the whole activity, and the
    request goes out again with the same ``Idempotency-Key``."""

    max_attempts: int = 1
    initial_interval_s: float = 1.0
    backoff: float = 2.0
    max_interval_s: float = 10.0
    retry_on_status: list[int] = Field(default_factory=lambda: [429, 502, 503, 504])


class HttpToolConfig(DurableModel):
    """The tenant's endpoint an HTTP tool calls.

    ``headers`` values may name the tenant's secrets as ``{{secrets.NAME}}``; only the names travel
    through Temporal, the worker reads and decrypts the values inside the tool-call activity."""

    method: str = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict[str, str])
    timeout_s: float = 30.0
    max_response_bytes: int = 1_000_000
    retry: HttpRetryConfig | None = None
    """``None``: the method's default (3 attempts for GET, HEAD, PUT, DELETE; 1 for POST, PATCH)."""


class ToolRef(DurableModel):
    """The registered tool (``/v1/tools``) a version's tool was taken from, pinned by revision."""

    tool_id: str
    name: str
    revision: int


class ToolConfig(DurableModel):
    """A tool the version enables. ``name`` is not checked against any catalog: a tool retired
    after the run started is still named here, and the worker answers its calls with an error.

    ``kind="http"`` tools carry their whole definition (description, JSON Schema parameters,
    endpoint): a registered tool is copied in when the version is created, and revisions never
    change, so a run sees exactly what the version pinned."""

    name: str
    requires_approval: bool = False
    settings: dict[str, Any] = Field(default_factory=dict[str, Any])
    kind: ToolKind | str = "catalog"
    """An unknown kind (a newer API's) is offered to nobody: the worker skips it."""
    description: str | None = None
    parameters: dict[str, Any] | None = None
    """JSON Schema (draft 2020-12) of the arguments object."""
    http: HttpToolConfig | None = None
    ref: ToolRef | None = None


class McpServerConfig(DurableModel):
    """An MCP server whose tools the version offers the model.

    ``transport="streamable-http"`` reaches ``url``; ``transport="stdio"`` starts ``command``, the
    name of a server the operator installed on the workers (never a command line from the API).
    Header values may name secrets as ``{{secrets.NAME}}``."""

    name: str
    """Unique in the version; the model sees the server's tools as ``<name>_<tool>``."""
    transport: Literal["streamable-http", "stdio"] | str = "streamable-http"
    url: str | None = None
    command: str | None = None
    headers: dict[str, str] = Field(default_factory=dict[str, str])
    tools: list[str] | None = None
    """Only these of the server's tools (by the server's names); ``None``: all of them."""
    requires_approval: bool = False
    timeout_s: float = 30.0
    list_ttl_s: float = 300.0
    """How long the worker may reuse the server's tool list."""


class ModelSettingsConfig(DurableModel):
    """Sampling settings (ranges were checked when the version was created)."""

    temperature: float | None = None
    max_tokens: int | None = None


class LimitsConfig(DurableModel):
    """Per-run limits, with the defaults versions had when they were created without them."""

    max_requests: int = 50
    max_total_tokens: int | None = None
    run_timeout_s: int = 3600
    approval_timeout_s: int = 24 * 3600
    on_approval_timeout: Literal["reject", "fail"] | str = "reject"
    """``reject`` or ``fail``; an unknown value (a newer API's) behaves as ``reject``."""


class MemoryNamespaceConfig(DurableModel):
    """Whose memories the memory tools use: ``agent`` (shared by the agent's runs), ``thread`` (per
    thread) or ``user`` (per value of the run metadata key ``metadata_key``); a worker that cannot
    serve a scope (a newer API's) answers the tools with an error."""

    scope: str = "agent"
    metadata_key: str | None = None


class ContextConfig(DurableModel):
    """What a thread run's model sees of the thread's earlier turns (the defaults: everything).

    ``strategy``: ``none`` (every earlier turn), ``last_n`` (the last ``last_n_turns`` turns) or
    ``summarize`` (when the thread's estimated tokens exceed ``max_context_tokens``, the oldest
    turns are summarized by ``summary_model`` (``None``: the version's model) and the summary
    replaces them). An unknown strategy (a newer API's) behaves as ``none``."""

    strategy: str = "none"
    max_context_tokens: int | None = None
    last_n_turns: int | None = None
    summary_model: str | None = None


class MemoryConfig(DurableModel):
    """The memory tools' configuration (the defaults: agent scope) and the thread context's."""

    store_namespace: MemoryNamespaceConfig = Field(default_factory=MemoryNamespaceConfig)
    context: ContextConfig = Field(default_factory=ContextConfig)


MEMORY_NAMESPACE_ROOT: Final = "memories"
"""First label of every namespace the memory tools use (``["memories", <agent_id>, ...]``)."""


MEMORY_USER_LABEL: Final = "user"
"""Third label of a ``user``-scoped namespace (``["memories", <agent_id>, "user", <user>]``), so a
user's memories can never be confused with a thread's (``["memories", <agent_id>, <thread_id>]``)."""


def memory_user(agent: AgentConfig, metadata: Mapping[str, Any] | None) -> str | None:
    """The user a ``user``-scoped agent's run is for: the value of the version's
    ``metadata_key`` in the run's ``metadata``, if it is a usable namespace label (a string, or
    an integer, of 1 to 256 characters without ``.``). ``None`` otherwise."""
    key = agent.memory.store_namespace.metadata_key
    if not key or not metadata:
        return None
    value = metadata.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or "." in value:
        return None
    return value


def memory_namespace(
    agent: AgentConfig, thread_id: str | None = None, metadata: Mapping[str, Any] | None = None
) -> list[str] | None:
    """The store namespace the memory tools of ``agent``'s runs use: ``agent`` scope
    ``["memories", <agent_id>]``, ``thread`` scope ``["memories", <agent_id>, <thread_id>]`` for a
    run on a thread, ``user`` scope ``["memories", <agent_id>, "user", <user>]`` for a run whose
    ``metadata`` names the user (:func:`memory_user`). ``None``: none to use (no thread, no user,
    or a scope this build cannot serve); the tools then answer with an error the model reads.
    Pure: workflows call it."""
    scope = agent.memory.store_namespace.scope
    if scope == "agent":
        return [MEMORY_NAMESPACE_ROOT, agent.agent_id]
    if scope == "thread" and thread_id:
        return [MEMORY_NAMESPACE_ROOT, agent.agent_id, thread_id]
    if scope == "user" and (user := memory_user(agent, metadata)) is not None:
        return [MEMORY_NAMESPACE_ROOT, agent.agent_id, MEMORY_USER_LABEL, user]
    return None


class AgentConfig(DurableModel):
    """The pinned agent version, as the workflow receives it (the workflow loads nothing)."""

    agent_id: str
    agent_name: str
    version: int
    model: str
    fallback_models: list[str] = Field(default_factory=list[str])
    instructions: str = ""
    tools: list[ToolConfig] = Field(default_factory=list[ToolConfig])
    model_settings: ModelSettingsConfig = Field(default_factory=ModelSettingsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    mcp_servers: list[McpServerConfig] = Field(default_factory=list[McpServerConfig])
    memory: MemoryConfig = Field(default_factory=MemoryConfig)

    @classmethod
    def from_version(cls, agent: Agent, version: AgentVersion) -> AgentConfig:
        """The configuration of ``agent``'s stored ``version``, read leniently (a tool retired
        since the version was created is kept, unknown stored keys are ignored)."""
        return cls(
            agent_id=agent.id,
            agent_name=agent.name,
            version=version.version,
            model=version.model,
            fallback_models=list(version.fallback_models),
            instructions=version.instructions,
            tools=[ToolConfig.model_validate(tool) for tool in _mappings(version.tools)],
            model_settings=ModelSettingsConfig.model_validate(version.model_settings or {}),
            limits=LimitsConfig.model_validate(version.limits or {}),
            mcp_servers=[
                McpServerConfig.model_validate(server) for server in _mappings(version.mcp_servers or [])
            ],
            memory=MemoryConfig.model_validate(version.memory if isinstance(version.memory, Mapping) else {}),
        )


def _mappings(values: Sequence[Any]) -> list[Mapping[str, Any]]:
    return [value for value in values if isinstance(value, Mapping)]


class AgentRunInput(DurableModel):
    """Input of ``AgentRunWorkflow``."""

    run_id: str
    tenant_id: str
    input: str
    agent: AgentConfig
    thread_id: str | None = None
    """The thread the run is a turn of: the workflow waits for the thread's turn, the model sees
    the thread's earlier turns, and the run's turn is appended when it succeeds. The history is
    loaded by an activity, never carried here."""
    metadata: dict[str, Any] | None = None
    """The run's metadata (its row's); the ``user`` memory scope reads the user from it."""


class AgentRunResult(DurableModel):
    """Result of ``AgentRunWorkflow``: the terminal status the run reached."""

    run_id: str
    status: str
    output: Any | None = None
    error_code: str | None = None
    error_message: str | None = None


THREAD_TURN_SIGNAL: Final = "thread_turn"
"""Signal to a thread run's workflow: the thread's turn may be yours now (it checks, so an
extra or repeated signal is harmless)."""

DECIDE_APPROVAL_UPDATE: Final = "decide_approval"
"""Workflow update delivering a human's approve/reject decision."""
ANSWER_INPUT_UPDATE: Final = "answer_input"
"""Workflow update delivering a human's answer to an ``ask_human`` question."""

REQUEST_NOT_FOUND: Final = "HumanRequestNotFound"
"""Update rejected by the validator: no such pending request (the API answers 404)."""
REQUEST_ALREADY_RESOLVED: Final = "HumanRequestAlreadyResolved"
"""Update rejected by the validator: already decided, answered or expired (409)."""
HUMAN_DECISION_NOT_RECORDED: Final = "HumanDecisionNotRecorded"
"""Update failed: the decision or answer could not be written (the database refused it for
good); the request stays pending and a valid decision is still accepted (the API answers 422)."""
REQUEST_AMBIGUOUS: Final = "HumanRequestAmbiguous"
"""Update rejected: no request id given and not exactly one question is pending (422)."""


class ApprovalDecisionUpdate(DurableModel):
    """Input of the ``decide_approval`` update."""

    request_id: str
    approve: bool
    reason: str | None = None
    decided_by: str


class InputAnswerUpdate(DurableModel):
    """Input of the ``answer_input`` update."""

    request_id: str | None = None
    answer: str
    decided_by: str


class HumanRequestResolution(DurableModel):
    """Result of both updates: which request, and its status now."""

    request_id: str
    status: str
