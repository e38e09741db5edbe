"""The generic, durable agent every run executes.

User agents are data (model string, instructions, enabled tools, settings, limits), so the
worker registers ONE pydantic-ai agent and configures it per run: the model is resolved from its
string inside each model-request activity, instructions and settings are run arguments, and a
``PrepareTools`` capability hides the tools the agent version did not enable.

This module is the agent *definition*, and it belongs to the workflow half of the worker. The
problem it solves: pydantic-ai's Temporal durability needs the workflow to hold the agent
(``__pydantic_ai_agents__``) and creates the model-request and tool-call activities from it, at
import, so the definition must name everything those activities run (model resolution, the event
stream handler, the toolset), while workflow code may import nothing that does I/O. The seam:

* everything the activities do with the database, Redis or the worker's settings lives in
  ``AgentActivities`` (:mod:`agent_runtime_worker.agents.activities`, activity half), built by
  ``build_worker`` from the worker's ``WorkerDependencies`` and bound to :data:`activity_side`;
* the definition only holds thin, typed entry points into that slot: the event stream handler
  (:meth:`ActivitySide.record_model_events`), :class:`RecordingToolset`'s ``call_tool``, the
  ``http_get`` policy, and :meth:`RuntimeDurability._resolve_model_for_request`, pydantic-ai's
  hook that runs only inside the model-request activity (so the model is governed there without
  asking "am I in a workflow?"); in workflow code the model comes from the pure
  :func:`~agent_runtime_worker.models.registry.resolve_model` (``ResolveModelId``);
* this module imports no database, Redis or settings code, which ``lint-imports`` checks in CI.

The slot is per process, because the agent is: a process runs one worker (tests build one per
test, each rebinding it). Workflow code never reads it.

Frozen names (they appear in workflow histories and activity names): the agent name
``agent_runtime`` and the toolset ids ``builtin``, ``packages`` (the tools of installed tool
packages, :mod:`agent_runtime_worker.tools.packages`), ``http``, ``mcp`` and ``memory`` (the
memory tools, :mod:`agent_runtime_worker.agents.memory_toolset`) give activities such as
``agent__agent_runtime__model_request_stream``,
``agent__agent_runtime__toolset__builtin__call_tool``,
``agent__agent_runtime__toolset__packages__call_tool``,
``agent__agent_runtime__toolset__http__call_tool`` and (the version's MCP servers, listed and
called inside them) ``agent__agent_runtime__dynamic_toolset__mcp__get_tools`` / ``__call_tool``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final, Protocol, cast

from pydantic import BaseModel
from pydantic_ai import Agent, FunctionToolset, RunContext
from pydantic_ai.capabilities import HandleDeferredToolCalls, PrepareTools, ResolveModelId
from pydantic_ai.durable_exec.temporal import TemporalDurability
from pydantic_ai.messages import AgentStreamEvent
from pydantic_ai.models import Model, ModelRequestContext
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolDefinition
from pydantic_ai.toolsets import AbstractToolset, DynamicToolset, ToolsetTool, WrapperToolset
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType, ActivityConfig

from agent_runtime_core.catalog import (
    ARTIFACT_TOOL_NAMES,
    BUILTIN_TOOL_NAMES,
    HUMAN_INPUT_TOOL,
    MEMORY_TOOL_NAMES,
    RETIRED_TOOLS,
)
from agent_runtime_core.temporal import ToolConfig
from agent_runtime_core.temporal.contracts import McpServerConfig
from agent_runtime_worker.agents.artifacts_toolset import (
    ARTIFACTS_TOOLSET_ID,
    ArtifactBackend,
    build_artifacts_toolset,
)
from agent_runtime_worker.agents.http_toolset import HTTP_TOOLSET_ID, HttpToolset
from agent_runtime_worker.agents.memory_toolset import MEMORY_TOOLSET_ID, MemoryBackend, build_memory_toolset
from agent_runtime_worker.governance.waiting import BudgetGuard
from agent_runtime_worker.models.fallback import FallbackFromDeps, ModelFallbackNote
from agent_runtime_worker.models.registry import resolve_model
from agent_runtime_worker.models.scripted import build_scripted_model
from agent_runtime_worker.tools import HttpGetPolicy, SandboxPolicy, build_builtin_toolset
from agent_runtime_worker.tools.packages import PackageToolset, discover_tool_packages

AGENT_NAME: Final = "agent_runtime"
BUILTIN_TOOLSET_ID: Final = "builtin"
PACKAGES_TOOLSET_ID: Final = "packages"
MCP_TOOLSET_ID: Final = "mcp"
MCP_SERVER_METADATA_KEY: Final = "agent_runtime_mcp_server"
"""Key of an MCP tool definition's ``metadata`` naming its server (set inside the listing activity)."""


class RunDeps(BaseModel):
    """Per-run dependencies. Copied into every activity's input: small, and no secrets."""

    run_id: str
    tenant_id: str
    enabled_tools: list[str]
    approval_tools: list[str] = []
    fallback_models: list[str] = []
    """The agent version's fallback models, in order (``FallbackFromDeps``)."""
    model_fallbacks: list[ModelFallbackNote] = []
    """Fallovers the workflow made (``RecordingModelFallback``); the next model activity records
    them as ``model.fallback`` events."""
    http_tools: list[ToolConfig] = []
    """The version's HTTP tools (``HttpToolset``): definitions and endpoints, secrets by name only."""
    mcp_servers: list[McpServerConfig] = []
    """The agent version's MCP servers (header values name secrets, never hold them)."""
    memory_namespace: list[str] | None = None
    """The store namespace of the memory tools (set when the version enables one; ``None``
    otherwise, or when this build cannot serve the version's memory scope)."""


class DeferredCallHandler(Protocol):
    """What the running workflow offers to resolve deferred calls (approvals, questions)."""

    async def resolve_deferred_calls(
        self, ctx: RunContext[RunDeps], requests: DeferredToolRequests
    ) -> DeferredToolResults: ...


class AgentActivitySide(Protocol):
    """What the agent's activities need from the worker's I/O half (``AgentActivities``)."""

    @property
    def http_get_policy(self) -> HttpGetPolicy:
        """The limits the ``http_get`` tool enforces on this worker."""
        ...

    @property
    def sandbox_policy(self) -> SandboxPolicy:
        """The limits ``run_python`` runs code under on this worker."""
        ...

    def resolve_model(self, model_id: str) -> Model | None:
        """The model a model-request activity calls for ``model_id`` (``None``: let pydantic-ai try)."""
        ...

    async def record_model_events(
        self, ctx: RunContext[RunDeps], stream: AsyncIterable[AgentStreamEvent]
    ) -> None:
        """Record the live events of one model request (the event stream handler)."""
        ...

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[RunDeps],
        call: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Run one tool call (``call``) between its recorded events."""
        ...

    async def call_http_tool(self, config: ToolConfig, args: dict[str, Any], ctx: RunContext[Any]) -> Any:
        """Send one call of the tenant's HTTP tool ``config`` (signed, with its secrets)."""
        ...

    async def mcp_toolset(self, ctx: RunContext[RunDeps]) -> AbstractToolset[RunDeps] | None:
        """The tools of the run's MCP servers (inside the ``mcp`` toolset's activities)."""
        ...

    @property
    def memory(self) -> MemoryBackend:
        """The tenant's store, for the memory tools (inside the ``memory`` toolset's activity)."""
        ...

    @property
    def artifacts(self) -> ArtifactBackend:
        """The tenant's artifacts, for the artifact tools (inside the ``artifacts`` toolset's activity)."""
        ...


class ActivitySide:
    r"""The slot through which the agent's activities reach the worker's I/O half.

    The agent is defined once, at import (pydantic-ai creates its activities then, and the
    workflow must hold it); the I/O objects are made later, by ``build_worker``, which
    :meth:`bind`\ s them here. Only code that runs inside the agent's activities reads the slot;
    workflow code never does.
    """

    def __init__(self) -> None:
        """Start unbound."""
        self._bound: AgentActivitySide | None = None

    def bind(self, side: AgentActivitySide) -> None:
        """Serve the agent's activities with ``side`` (``build_worker`` calls it)."""
        self._bound = side

    @property
    def bound(self) -> AgentActivitySide:
        """The bound I/O half; raises if no worker was built in this process."""
        if self._bound is None:
            raise RuntimeError("the agent's activities need a worker: build it with build_worker()")
        return self._bound

    async def record_model_events(
        self, ctx: RunContext[RunDeps], stream: AsyncIterable[AgentStreamEvent]
    ) -> None:
        """pydantic-ai's event stream handler (inside the model-request activity)."""
        await self.bound.record_model_events(ctx, stream)

    def http_get_policy(self) -> HttpGetPolicy:
        """Read at call time, inside the tool-call activity."""
        return self.bound.http_get_policy

    def sandbox_policy(self) -> SandboxPolicy:
        """Read at call time, inside the tool-call activity."""
        return self.bound.sandbox_policy

    def memory_backend(self) -> MemoryBackend:
        """Read at call time, inside the memory tools' activity."""
        return self.bound.memory

    def artifacts_backend(self) -> ArtifactBackend:
        """Read at call time, inside the artifact tools' activity."""
        return self.bound.artifacts


activity_side = ActivitySide()
"""The agent's seam to the worker's I/O half, bound by ``build_worker``."""


class RecordingToolset(FunctionToolset[RunDeps]):
    """The built-in tools; each call runs inside its tool-call activity between the
    ``tool.call.started``/``tool.call.finished`` events the bound activity side writes (no extra
    activity per event)."""

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[RunDeps],
        tool: ToolsetTool[RunDeps],
    ) -> Any:
        """Run the tool through the worker's activity side (which records it)."""
        call = functools.partial(super().call_tool, name, tool_args, ctx, tool)
        return await activity_side.bound.call_tool(name, tool_args, ctx, call)


class RecordingHttpToolset(HttpToolset):
    """The version's HTTP tools; each call runs in its activity between its recorded events."""

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[Any],
        tool: ToolsetTool[Any],
    ) -> Any:
        """Send the call through the worker's activity side (which records it)."""
        call = functools.partial(super().call_tool, name, tool_args, ctx, tool)
        return await activity_side.bound.call_tool(name, tool_args, ctx, call)


async def mcp_servers_toolset(ctx: RunContext[RunDeps]) -> AbstractToolset[RunDeps] | None:
    """The dynamic ``mcp`` toolset's function: runs inside its listing and calling activities."""
    if not ctx.deps.mcp_servers:
        return None
    return await activity_side.bound.mcp_toolset(ctx)


class McpServersToolset(WrapperToolset[RunDeps]):
    """The version's MCP servers' tools; a run without MCP servers lists nothing and schedules no
    activity (so histories of such runs are unchanged by this toolset's existence)."""

    async def get_tools(self, ctx: RunContext[RunDeps]) -> dict[str, ToolsetTool[RunDeps]]:
        """List through the durable toolset only when the version has MCP servers."""
        if not ctx.deps.mcp_servers:
            return {}
        return await super().get_tools(ctx)


def _mcp_server_of(tool_def: ToolDefinition) -> str | None:
    server = (tool_def.metadata or {}).get(MCP_SERVER_METADATA_KEY)
    return server if isinstance(server, str) else None


class RecordingPackageToolset(RecordingToolset, PackageToolset[RunDeps]):
    """The installed tool packages' tools, recorded like the built-in ones (one activity per call)."""


def enabled_non_builtin_tools(ctx: RunContext[RunDeps]) -> list[str]:
    """The enabled names only a tool package can serve (the package toolset stands in for the
    ones this worker lacks, so histories that called them replay)."""
    served_elsewhere = {
        *BUILTIN_TOOL_NAMES,
        *MEMORY_TOOL_NAMES,
        *ARTIFACT_TOOL_NAMES,
        *RETIRED_TOOLS,
        *(tool.name for tool in ctx.deps.http_tools),
    }
    return [name for name in ctx.deps.enabled_tools if name not in served_elsewhere]


async def only_enabled_tools(
    ctx: RunContext[RunDeps], tool_defs: list[ToolDefinition]
) -> list[ToolDefinition]:
    """Offer only the tools the agent version enabled (runs in workflow code, every step).

    Tools that need approval become ``unapproved`` and ``ask_human`` becomes ``external``: a
    call to either ends the step as a deferred call (no activity runs) that
    :func:`resolve_deferred_calls` waits out with the workflow. A retired tool the version still
    enables stays offered (a history that called it must issue the same commands on replay) but
    says so; a call to it gets a tool error. The version's MCP servers' tools (already filtered
    by each server's list) are offered, ``unapproved`` when their server requires approval.
    """
    enabled = set(ctx.deps.enabled_tools)
    needs_approval = set(ctx.deps.approval_tools)
    mcp_servers = {server.name: server for server in ctx.deps.mcp_servers}
    offered: list[ToolDefinition] = []
    for tool_def in tool_defs:
        if (server_name := _mcp_server_of(tool_def)) is not None:
            server = mcp_servers.get(server_name)
            if server is None:
                continue
            offered.append(replace(tool_def, kind="unapproved") if server.requires_approval else tool_def)
            continue
        if tool_def.name not in enabled:
            continue
        if tool_def.name in RETIRED_TOOLS:
            retired = f"RETIRED, do not call: {RETIRED_TOOLS[tool_def.name]}."
            tool_def = replace(tool_def, description=retired)
        if tool_def.name == HUMAN_INPUT_TOOL:
            tool_def = replace(tool_def, kind="external")
        elif tool_def.name in needs_approval:
            tool_def = replace(tool_def, kind="unapproved")
        offered.append(tool_def)
    return offered


async def resolve_deferred_calls(
    ctx: RunContext[RunDeps], requests: DeferredToolRequests
) -> DeferredToolResults | None:
    """Resolve approvals and questions inline: the workflow waits for humans, the run goes on.

    Outside a workflow (the agent run directly) the calls stay deferred, as pydantic-ai does.
    """
    if not workflow.in_workflow():
        return None
    handler = cast(DeferredCallHandler, workflow.instance())
    return await handler.resolve_deferred_calls(ctx, requests)


class RuntimeDurability(TemporalDurability[RunDeps]):
    """Temporal durability whose event handler only sees the live model stream.

    Tool events are recorded inside the tool-call activity (``RecordingToolset``); dispatching
    them to the handler would cost two extra activities (~20 ms each) per tool call.
    """

    async def wrap_run_event_stream(
        self,
        ctx: RunContext[RunDeps],
        *,
        stream: AsyncIterable[AgentStreamEvent],
    ) -> AsyncIterable[AgentStreamEvent]:
        """Pass workflow-side events through without scheduling handler activities."""
        async for event in stream:
            yield event

    def _model_id_for_request(
        self, ctx: RunContext[RunDeps], request_context: ModelRequestContext
    ) -> str | None:
        """Send the model-name string a request step was resolved from to the activity.

        pydantic-ai only trusts that string for the run's own model and otherwise insists on a
        model instance registered at construction, so a fallback candidate ``ModelFallback`` moved
        the step to would be refused. Every model of our runs is built from its string on both
        sides of the activity boundary (``resolve_model`` in the workflow, the activity side's
        ``ModelResolver`` in the activity), so the string names it exactly.
        """
        if request_context.model_id is not None:
            return request_context.model_id
        return super()._model_id_for_request(ctx, request_context)

    async def _resolve_model_for_request(
        self, model_id: str | None, run_context: RunContext[RunDeps]
    ) -> Model:
        """Build the model a request calls, inside the model-request activity (activity side only).

        Workflow code resolves bare models (``ResolveModelId(resolve_model)``); here the worker's
        activity side builds the real, governed one from the same string.
        """
        if model_id is not None:
            model = activity_side.bound.resolve_model(model_id)
            if model is not None:
                return model
        return await super()._resolve_model_for_request(model_id, run_context)


HEARTBEAT_TIMEOUT = timedelta(seconds=2)
"""pydantic-ai beats every timeout/2: a killed worker's model or tool call is retried elsewhere
within ~2 s, and a cancel reaches a running call within ~1 s."""

MODEL_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
"""The outer bound. A model error's retry decision and delay come from the worker's
``model_retry_*`` settings (``GovernedModel``); this policy's intervals apply to attempts that
fail without an error of ours (a worker crash, a missed heartbeat)."""
TOOL_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)


def tool_activity_config(start_to_close: timedelta) -> ActivityConfig:
    """A toolset's activities: heartbeats (a killed worker's call is retried elsewhere within
    ~2 s), ``TOOL_RETRY_POLICY``, and cancellation that waits for the call to stop."""
    return ActivityConfig(
        start_to_close_timeout=start_to_close,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=TOOL_RETRY_POLICY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    )


durability = RuntimeDurability(
    event_stream_handler=activity_side.record_model_events,
    activity_config=ActivityConfig(start_to_close_timeout=timedelta(seconds=60)),
    model_activity_config=ActivityConfig(
        start_to_close_timeout=timedelta(minutes=10),
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=MODEL_RETRY_POLICY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ),
    toolset_activity_config={
        BUILTIN_TOOLSET_ID: tool_activity_config(timedelta(minutes=5)),
        PACKAGES_TOOLSET_ID: tool_activity_config(timedelta(minutes=5)),
        # The endpoint's own timeout and retry policy bound a call; this outer limit only catches
        # a call that hangs past all of them (at most 5 attempts of 120 s and their waits).
        HTTP_TOOLSET_ID: tool_activity_config(timedelta(minutes=15)),
        # Listing (per step; cheap while the worker's tool-list cache is fresh) and calling: a
        # server that is down is retried by TOOL_RETRY_POLICY, then fails clearly.
        MCP_TOOLSET_ID: tool_activity_config(timedelta(minutes=5)),
        # One database statement (and an embeddings request when configured).
        MEMORY_TOOLSET_ID: tool_activity_config(timedelta(minutes=2)),
        # A few database statements and one object up- or download (at most 20 MiB read).
        ARTIFACTS_TOOLSET_ID: tool_activity_config(timedelta(minutes=5)),
    },
)

builtin_toolset = build_builtin_toolset(
    activity_side.http_get_policy,
    sandbox_policy=activity_side.sandbox_policy,
    toolset_id=BUILTIN_TOOLSET_ID,
    toolset_factory=lambda toolset_id: RecordingToolset(id=toolset_id),
)

memory_toolset = build_memory_toolset(
    activity_side.memory_backend, toolset_factory=lambda toolset_id: RecordingToolset(id=toolset_id)
)
"""The memory tools (``memory_save``, ``memory_search``, ``memory_delete``), one activity per call."""

artifacts_toolset = build_artifacts_toolset(
    activity_side.artifacts_backend, toolset_factory=lambda toolset_id: RecordingToolset(id=toolset_id)
)
"""The artifact tools (``artifact_list``, ``artifact_read``, ``artifact_write``), one activity per call."""

installed_tool_packages = discover_tool_packages(
    reserved_names={*BUILTIN_TOOL_NAMES, *MEMORY_TOOL_NAMES, *ARTIFACT_TOOL_NAMES, *RETIRED_TOOLS}
)
"""The tool packages installed with this worker (``build_worker`` refuses to start on problems)."""

package_toolset = RecordingPackageToolset(
    [package_tool.tool for package_tool in installed_tool_packages.tools],
    id=PACKAGES_TOOLSET_ID,
    absent_tools=enabled_non_builtin_tools,
)

http_toolset = RecordingHttpToolset(lambda: activity_side.bound.call_http_tool)
mcp_toolset = McpServersToolset(DynamicToolset[RunDeps](mcp_servers_toolset, id=MCP_TOOLSET_ID))

runtime_agent: Agent[RunDeps, str] = Agent[RunDeps, str](
    build_scripted_model(),  # a default is required; every run passes its own `model=`
    name=AGENT_NAME,
    deps_type=RunDeps,
    output_type=str,
    toolsets=[
        builtin_toolset,
        package_toolset,
        http_toolset,
        mcp_toolset,
        memory_toolset,
        artifacts_toolset,
    ],
    capabilities=[
        ResolveModelId(resolve_model),
        PrepareTools(only_enabled_tools),
        HandleDeferredToolCalls(handler=resolve_deferred_calls),
        BudgetGuard(),
        FallbackFromDeps(),
        durability,
    ],
)
