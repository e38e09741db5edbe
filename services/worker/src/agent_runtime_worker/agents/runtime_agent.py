"""The generic, durable agent every run executes.

User agents are data (model string, instructions, enabled tools, settings, limits), so the
worker registers ONE pydantic-ai agent and configures it per run: the model is resolved from its
string inside each model-request activity, instructions and settings are run arguments, and a
``PrepareTools`` capability hides the tools the agent version did not enable.

Frozen names (they appear in workflow histories and activity names): the agent name
``agent_runtime`` and the toolset id ``builtin`` give activities such as
``agent__agent_runtime__model_request_stream`` and
``agent__agent_runtime__toolset__builtin__call_tool``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final, Protocol, cast

from pydantic import BaseModel
from pydantic_ai import Agent, FunctionToolset, ModelRetry, RunContext
from pydantic_ai.capabilities import HandleDeferredToolCalls, PrepareTools, ResolveModelId
from pydantic_ai.durable_exec.temporal import TemporalDurability
from pydantic_ai.messages import (
    AgentStreamEvent,
)
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolDefinition
from pydantic_ai.toolsets import ToolsetTool
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType, ActivityConfig

from agent_runtime_core.catalog import HUMAN_INPUT_TOOL
from agent_runtime_worker.agents.model_events import activity_attempt, record_model_events
from agent_runtime_worker.governance.waiting import BudgetGuard
from agent_runtime_worker.models.fallback import FallbackFromDeps, ModelFallbackNote
from agent_runtime_worker.models.registry import resolve_model
from agent_runtime_worker.models.scripted import build_scripted_model
from agent_runtime_worker.tools import HttpGetPolicy, build_builtin_toolset

logger = logging.getLogger(__name__)

AGENT_NAME: Final = "agent_runtime"
BUILTIN_TOOLSET_ID: Final = "builtin"


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


class DeferredCallHandler(Protocol):
    """What the running workflow offers to resolve deferred calls (approvals, questions)."""

    async def resolve_deferred_calls(
        self, ctx: RunContext[RunDeps], requests: DeferredToolRequests
    ) -> DeferredToolResults: ...


current_tool_idempotency_key: ContextVar[str | None] = ContextVar(
    "current_tool_idempotency_key", default=None
)
"""Inside a tool call: ``<run_id>:<tool_call_id>``, the same on every retry of that call.

A tool with side effects passes it on (e.g. as an ``Idempotency-Key`` header) so that a call
retried after a worker crash does not do its effect twice."""


def tool_idempotency_key(run_id: str, tool_call_id: str) -> str:
    """The stable idempotency key of one tool call of one run."""
    return f"{run_id}:{tool_call_id}"


class RecordingToolset(FunctionToolset[RunDeps]):
    """The built-in tools, writing ``tool.call.started``/``tool.call.finished`` events from inside
    the tool-call activity itself (no extra activity per event)."""

    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[RunDeps],
        tool: ToolsetTool[RunDeps],
    ) -> Any:
        """Run the tool between its two events; a retried activity writes each event once."""
        from agent_runtime_worker.events import record_run_event

        call_id = ctx.tool_call_id or name
        deps = ctx.deps
        key = tool_idempotency_key(deps.run_id, call_id)
        token = current_tool_idempotency_key.set(key)
        attempt = activity_attempt()
        # One started event per attempt, so a call retried after a crash leaves a trace.
        started_key = f"tool:{call_id}:started" if attempt == 1 else f"tool:{call_id}:a{attempt}:started"
        await record_run_event(
            deps.tenant_id,
            deps.run_id,
            "tool.call.started",
            {
                "tool_call_id": call_id,
                "tool": name,
                "args": tool_args,
                "attempt": attempt,
                "idempotency_key": key,
            },
            dedupe_key=started_key,
        )
        try:
            result = await super().call_tool(name, tool_args, ctx, tool)
        except ModelRetry as exc:
            await record_run_event(
                deps.tenant_id,
                deps.run_id,
                "tool.call.finished",
                {"tool_call_id": call_id, "tool": name, "ok": False, "error": exc.message},
                dedupe_key=f"tool:{call_id}:finished",
            )
            raise
        finally:
            current_tool_idempotency_key.reset(token)
        await record_run_event(
            deps.tenant_id,
            deps.run_id,
            "tool.call.finished",
            {"tool_call_id": call_id, "tool": name, "ok": True, "result": _jsonable(result)},
            dedupe_key=f"tool:{call_id}:finished",
        )
        return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def _http_get_policy() -> HttpGetPolicy:
    """Read at call time, inside the tool-call activity, from the worker's settings."""
    from agent_runtime_worker.runtime import resources

    settings = resources().settings
    return HttpGetPolicy(
        allow_private_networks=settings.http_get_allow_private_networks,
        max_bytes=settings.http_get_max_bytes,
        timeout_s=settings.http_get_timeout_s,
    )


async def only_enabled_tools(
    ctx: RunContext[RunDeps], tool_defs: list[ToolDefinition]
) -> list[ToolDefinition]:
    """Offer only the tools the agent version enabled (runs in workflow code, every step).

    Tools that need approval become ``unapproved`` and ``ask_human`` becomes ``external``: a
    call to either ends the step as a deferred call (no activity runs) that
    :func:`resolve_deferred_calls` waits out with the workflow.
    """
    enabled = set(ctx.deps.enabled_tools)
    needs_approval = set(ctx.deps.approval_tools)
    offered: list[ToolDefinition] = []
    for tool_def in tool_defs:
        if tool_def.name not in enabled:
            continue
        if tool_def.name == HUMAN_INPUT_TOOL:
            tool_def = replace(tool_def, kind="external")
        elif tool_def.name in needs_approval:
            tool_def = replace(tool_def, kind="unapproved")
        offered.append(tool_def)
    return offered


async def resolve_deferred_calls(
    ctx: RunContext[RunDeps], requests: DeferredToolRequests
) -> DeferredToolResults | None:
    """Resolve approvals and questions inline: the workflow waits for humans, the run goes on."""
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
        the step to would be refused. Every model of our runs is built from its string by
        ``resolve_model`` on both sides of the activity boundary, so the string names it exactly.
        """
        if request_context.model_id is not None:
            return request_context.model_id
        return super()._model_id_for_request(ctx, request_context)


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

durability = RuntimeDurability(
    event_stream_handler=record_model_events,
    activity_config=ActivityConfig(start_to_close_timeout=timedelta(seconds=60)),
    model_activity_config=ActivityConfig(
        start_to_close_timeout=timedelta(minutes=10),
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=MODEL_RETRY_POLICY,
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    ),
    toolset_activity_config={
        BUILTIN_TOOLSET_ID: ActivityConfig(
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=TOOL_RETRY_POLICY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
    },
)

builtin_toolset = build_builtin_toolset(
    _http_get_policy,
    toolset_id=BUILTIN_TOOLSET_ID,
    toolset_factory=lambda toolset_id: RecordingToolset(id=toolset_id),
)

runtime_agent: Agent[RunDeps, str] = Agent[RunDeps, str](
    build_scripted_model(),  # a default is required; every run passes its own `model=`
    name=AGENT_NAME,
    deps_type=RunDeps,
    output_type=str,
    toolsets=[builtin_toolset],
    capabilities=[
        ResolveModelId(resolve_model),
        PrepareTools(only_enabled_tools),
        HandleDeferredToolCalls(handler=resolve_deferred_calls),
        BudgetGuard(),
        FallbackFromDeps(),
        durability,
    ],
)
