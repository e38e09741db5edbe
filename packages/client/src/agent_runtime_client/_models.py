"""Typed models of what the API returns: agents, versions, runs, approvals, threads, tools, ...

Every model keeps members it does not know (``extra="allow"``, readable as attributes and in
``model_extra``), and every enum-like field accepts values this SDK does not know yet (the field
is then a plain ``str``), so a newer server never breaks an older client. The other direction is
guarded by a test: each model's fields, types and required-ness are compared with the API's
OpenAPI document (``packages/client/tests/test_openapi_drift.py``), so the SDK cannot silently
fall behind the server it ships with.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "APIModel",
    "ActiveRunCounts",
    "Agent",
    "AgentLastError",
    "AgentStatus",
    "AgentStatusName",
    "AgentTool",
    "AgentVersion",
    "ApiKey",
    "ApiKeyCreated",
    "Approval",
    "ApprovalInboxItem",
    "Artifact",
    "ArtifactDownloadUrl",
    "ArtifactUpload",
    "Budget",
    "BudgetLimitStatus",
    "CatalogList",
    "CatalogTool",
    "EffectiveLimit",
    "EffectiveRetention",
    "HttpEndpoint",
    "HttpRetry",
    "HumanRequestStatus",
    "McpServer",
    "ModelPrice",
    "ModelSettings",
    "MultitaskStrategy",
    "Permission",
    "PresignedRequest",
    "Question",
    "QuestionInboxItem",
    "Role",
    "Run",
    "RunError",
    "RunLimits",
    "RunStatus",
    "RunUsage",
    "Secret",
    "SigningKey",
    "SigningKeyCreated",
    "StoreItem",
    "StoreNamespaces",
    "StoreSearchItem",
    "StoreSearchResult",
    "TenantLimits",
    "TenantRetention",
    "Thread",
    "ThreadMessage",
    "ThreadStatus",
    "ThreadSummary",
    "ToolDefinition",
    "ToolRef",
    "ToolRevision",
    "UsageReport",
    "UsageTotals",
]


class APIModel(BaseModel):
    """Base of every response model: unknown members are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# ----------------------------------------------------------------------------------- enums


class RunStatus(StrEnum):
    """A run's lifecycle: ``queued → running ⇄ waiting → succeeded | failed | cancelled |
    timed_out`` (the last four are terminal)."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)


class HumanRequestStatus(StrEnum):
    """An approval's or a question's state."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ThreadStatus(StrEnum):
    """What a thread is doing: ``busy`` while a run has the turn, ``interrupted`` while that run
    waits for a human."""

    IDLE = "idle"
    BUSY = "busy"
    INTERRUPTED = "interrupted"


class MultitaskStrategy(StrEnum):
    """What a run on a busy thread does (``reject``: 409 ``thread_busy``)."""

    REJECT = "reject"
    ENQUEUE = "enqueue"
    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"


class AgentStatusName(StrEnum):
    """What an agent is doing now (``GET /v1/agents/{id}/status``)."""

    IDLE = "idle"
    PROCESSING = "processing"
    WAITING = "waiting"
    ERROR = "error"


class Role(StrEnum):
    """Roles of API keys and users."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    DEVELOPER = "developer"
    ADMIN = "admin"


class Permission(StrEnum):
    """Permissions; an API key's ``scopes`` narrow it to some of them."""

    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    TOOLS_READ = "tools:read"
    TOOLS_WRITE = "tools:write"
    SECRETS_MANAGE = "secrets:manage"
    RUNS_READ = "runs:read"
    RUNS_CREATE = "runs:create"
    RUNS_CANCEL = "runs:cancel"
    APPROVALS_DECIDE = "approvals:decide"
    USAGE_READ = "usage:read"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    BUDGETS_MANAGE = "budgets:manage"
    PROVIDERS_MANAGE = "providers:manage"
    TENANTS_MANAGE = "tenants:manage"
    STORE_READ = "store:read"
    STORE_WRITE = "store:write"
    ARTIFACTS_READ = "artifacts:read"
    ARTIFACTS_WRITE = "artifacts:write"
    PAYLOADS_DECODE = "payloads:decode"


# A known value becomes the enum member, an unknown one (a newer server's) stays a str.
_RunStatus = Annotated[RunStatus | str, Field(union_mode="left_to_right")]
_HumanRequestStatus = Annotated[HumanRequestStatus | str, Field(union_mode="left_to_right")]
_ThreadStatus = Annotated[ThreadStatus | str, Field(union_mode="left_to_right")]
_MultitaskStrategy = Annotated[MultitaskStrategy | str, Field(union_mode="left_to_right")]
_AgentStatusName = Annotated[AgentStatusName | str, Field(union_mode="left_to_right")]


# ---------------------------------------------------------------------------------- agents


class Agent(APIModel):
    """An agent. Its behaviour is in its versions (``latest_version``; null before the first)."""

    id: str
    name: str
    description: str
    latest_version: int | None
    created_at: datetime
    updated_at: datetime


class HttpRetry(APIModel):
    """An HTTP tool's retry policy."""

    max_attempts: int
    initial_interval_s: float
    backoff: float
    max_interval_s: float
    retry_on_status: list[int]


class HttpEndpoint(APIModel):
    """The endpoint an HTTP tool calls (headers show secret names, never values)."""

    method: str
    url: str
    headers: dict[str, str]
    timeout_s: float
    max_response_bytes: int
    retry: HttpRetry | None


class ToolRef(APIModel):
    """The registered tool (and revision) a version's tool was copied from."""

    tool_id: str
    name: str
    revision: int


class AgentTool(APIModel):
    """A tool of an agent version, as configured."""

    name: str
    kind: str = "catalog"
    requires_approval: bool = False
    settings: dict[str, Any] = Field(default_factory=dict[str, Any])
    description: str | None = None
    parameters: dict[str, Any] | None = None
    http: HttpEndpoint | None = None
    ref: ToolRef | None = None
    available: bool = True


class McpServer(APIModel):
    """An MCP server of an agent version."""

    name: str
    transport: str = "streamable-http"
    url: str | None = None
    command: str | None = None
    headers: dict[str, str] = Field(default_factory=dict[str, str])
    tools: list[str] | None = None
    requires_approval: bool = False
    timeout_s: float = 30.0
    list_ttl_s: float = 300.0


class ModelSettings(APIModel):
    """Sampling settings of a version's model."""

    temperature: float | None = None
    max_tokens: int | None = None


class RunLimits(APIModel):
    """Per-run limits of a version."""

    max_requests: int = 50
    max_total_tokens: int | None = None
    run_timeout_s: int = 3600
    approval_timeout_s: int = 86400
    on_approval_timeout: str = "reject"


class AgentVersion(APIModel):
    """An immutable agent version."""

    agent_id: str
    version: int
    model: str
    fallback_models: list[str]
    instructions: str
    tools: list[AgentTool]
    mcp_servers: list[McpServer]
    model_settings: ModelSettings
    limits: RunLimits
    memory: dict[str, Any] | None = None
    created_at: datetime


class ActiveRunCounts(APIModel):
    """An agent's unfinished runs by status."""

    queued: int = 0
    running: int = 0
    waiting: int = 0


class AgentLastError(APIModel):
    """An agent's most recent failed or timed-out run."""

    run_id: str
    status: str
    code: str
    message: str
    at: datetime | None


class AgentStatus(APIModel):
    """What an agent is doing now."""

    agent_id: str
    status: _AgentStatusName
    active_runs: ActiveRunCounts
    last_error: AgentLastError | None


# ------------------------------------------------------------------------------------ runs


class RunError(APIModel):
    """Why a run did not succeed (``code``: ``model_error``, ``tool_error``, ``cancelled``, ...)."""

    code: str
    message: str


class RunUsage(APIModel):
    """Model usage of a run so far (``cost_usd`` null while a price is unknown)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None


class Run(APIModel):
    """A run of an agent: its status, input, output, error and usage.

    Example:
        >>> run = client.runs.get("run_01jd...")
        >>> run.status, run.output
        ('succeeded', 'calculator: 42 ...')
    """

    id: str
    agent_id: str
    agent_version: int
    status: _RunStatus
    input: str
    output: Any | None
    error: RunError | None
    usage: RunUsage
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    workflow_id: str
    temporal_ui_url: str | None = None
    trace_id: str | None = None
    trace_url: str | None = None
    thread_id: str | None = None
    multitask_strategy: _MultitaskStrategy | None = None
    rolled_back_by: str | None = None
    metadata: dict[str, Any] | None = None
    artifact_ids: list[str] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        """Whether the run has finished (succeeded, failed, cancelled or timed out)."""
        return self.status in TERMINAL_RUN_STATUSES


class Approval(APIModel):
    """A tool call waiting for (or given) a human decision."""

    id: str
    run_id: str
    tool: str
    tool_call_id: str
    args: dict[str, Any]
    status: _HumanRequestStatus
    reason: str | None
    decided_by: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class ApprovalInboxItem(Approval):
    """An approval in the tenant-wide inbox (``client.approvals.inbox()``): the approval and the
    agent of its run. Decide it with ``client.approvals.approve(item.run_id, item.id)``."""

    agent_id: str


class Question(APIModel):
    """A question the agent asked a human with the ``ask_human`` tool (``/v1/runs/{id}/input``)."""

    id: str
    run_id: str
    question: str
    status: _HumanRequestStatus
    answer: str | None
    decided_by: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class QuestionInboxItem(Question):
    """A question in the tenant-wide inbox (``client.questions.inbox()``): the question and the
    agent of its run. Answer it with ``client.questions.answer(item.run_id, "...", request_id=item.id)``."""

    agent_id: str


# --------------------------------------------------------------------------------- threads


class ThreadSummary(APIModel):
    """The latest summary of a thread's oldest turns (it stands for turns 1 to ``through_seq``)."""

    through_seq: int
    from_seq: int
    text: str
    model: str
    run_id: str
    created_at: datetime


class Thread(APIModel):
    """A conversation: its runs take turns and see the earlier ones."""

    id: str
    metadata: dict[str, Any]
    status: _ThreadStatus
    active_run_id: str | None
    queued_run_ids: list[str]
    created_at: datetime
    updated_at: datetime
    summary: ThreadSummary | None = None


class ThreadMessage(APIModel):
    """One message of a thread's history; ``parts`` are pydantic-ai message parts as JSON, each
    with a ``part_kind`` (``user-prompt``, ``text``, ``tool-call``, ``tool-return``, ...)."""

    id: str
    seq: int
    index: int
    run_id: str
    kind: str
    role: str
    parts: list[dict[str, Any]]
    created_at: datetime


# ------------------------------------------------------------------------------- artifacts


class Artifact(APIModel):
    """A file of your tenant (its bytes: ``client.artifacts.download``): ``ready`` once stored
    and checked, ``pending`` while an upload is under way."""

    id: str
    name: str
    content_type: str
    size: int
    sha256: str | None
    status: str
    run_id: str | None
    thread_id: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class PresignedRequest(APIModel):
    """A request to send straight to the object storage, with exactly these headers, before
    ``expires_at``."""

    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime


class ArtifactUpload(APIModel):
    """A ``pending`` artifact and the presigned request that uploads its bytes."""

    artifact: Artifact
    upload: PresignedRequest


class ArtifactDownloadUrl(APIModel):
    """A short-lived URL that downloads an artifact from the storage without credentials."""

    url: str
    expires_at: datetime


# ----------------------------------------------------------------------------------- store


class StoreItem(APIModel):
    """An item of the tenant's long-term memory store."""

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None


class StoreSearchItem(StoreItem):
    """A found item, with its similarity to the query (``score``; null without one)."""

    score: float | None = None


class StoreSearchResult(APIModel):
    """Found items, best first."""

    items: list[StoreSearchItem]


class StoreNamespaces(APIModel):
    """Namespaces holding items."""

    namespaces: list[list[str]]


# ----------------------------------------------------------------------------------- tools


class ToolDefinition(APIModel):
    """A registered HTTP tool with its latest revision's definition."""

    id: str
    name: str
    latest_revision: int
    kind: str
    description: str
    parameters: dict[str, Any]
    http: HttpEndpoint
    created_at: datetime
    updated_at: datetime


class ToolRevision(APIModel):
    """One immutable revision of a registered tool."""

    tool_id: str
    revision: int
    kind: str
    description: str
    parameters: dict[str, Any]
    http: HttpEndpoint
    created_at: datetime
    created_by: str | None


class CatalogTool(APIModel):
    """A tool the workers serve by name (built in, or from an installed tool package)."""

    name: str
    description: str
    parameters: dict[str, Any]
    source: str
    last_seen_at: datetime | None


class CatalogList(APIModel):
    """The catalog."""

    data: list[CatalogTool]


# ---------------------------------------------------------------------- secrets, keys, usage


class Secret(APIModel):
    """A secret's metadata; its value is never returned."""

    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class SigningKey(APIModel):
    """A key that signs HTTP tools' requests (never its secret)."""

    id: str
    created_at: datetime
    expires_at: datetime | None
    current: bool


class SigningKeyCreated(APIModel):
    """A new signing key with its ``secret``, shown only once."""

    id: str
    secret: str
    created_at: datetime
    previous_key_expires_at: datetime | None


class ApiKey(APIModel):
    """An API key as listed (never its secret)."""

    id: str
    name: str
    prefix: str
    roles: list[str]
    scopes: list[str] | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKey):
    """A new API key with its token (``key``), shown only once."""

    key: str


class BudgetLimitStatus(APIModel):
    """One budget limit: what is used of it and when it resets."""

    name: str
    limit: Decimal
    used: Decimal
    resets_at: datetime
    exhausted: bool


class Budget(APIModel):
    """A tenant's budgets (null: unlimited) and their use now."""

    daily_tokens: int | None = None
    daily_cost_usd: Decimal | None = None
    monthly_tokens: int | None = None
    monthly_cost_usd: Decimal | None = None
    on_exceeded: str = "fail"
    updated_at: datetime | None = None
    updated_by: str | None = None
    status: list[BudgetLimitStatus]


class ModelPrice(APIModel):
    """A price override in USD per million tokens."""

    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal | None = None
    provider: str
    model: str
    scope: str
    updated_at: datetime


class UsageTotals(APIModel):
    """Usage of a group of model requests (``day``/``agent_id``/``model`` when grouped by them)."""

    day: date | None = None
    agent_id: str | None = None
    model: str | None = None
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    unpriced_requests: int


class UsageReport(APIModel):
    """Usage of the tenant over ``[since, until)``, in total and grouped, with the budgets."""

    since: datetime
    until: datetime
    group_by: list[str]
    totals: UsageTotals
    groups: list[UsageTotals]
    budget: Budget | None


class EffectiveLimit(APIModel):
    """One limit in force, and whether it is the tenant's own (``tenant``) or the ``default``."""

    value: int
    source: str


class TenantLimits(APIModel):
    """The rate limits and active-run cap that apply to a tenant."""

    tenant_id: str
    rate_limit_per_minute: EffectiveLimit
    rate_limit_burst: EffectiveLimit
    max_active_runs: EffectiveLimit
    rate_limits_enforced: bool
    updated_at: datetime | None = None
    updated_by: str | None = None


class EffectiveRetention(APIModel):
    """One retention period in force (days; 0: forever), the tenant's own (``tenant``) or the
    ``default``."""

    days: int
    source: str


class TenantRetention(APIModel):
    """How long a tenant's finished runs, idle threads and artifacts are kept."""

    tenant_id: str
    runs_days: EffectiveRetention
    threads_days: EffectiveRetention
    artifacts_days: EffectiveRetention
    pending_upload_hours: int
    updated_at: datetime | None = None
    updated_by: str | None = None
