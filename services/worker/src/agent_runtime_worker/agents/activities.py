"""The activity half of the runtime agent: what pydantic-ai's activities call into on this worker.

pydantic-ai creates the agent's activities (model requests, tool calls) from the agent definition
(:mod:`agent_runtime_worker.agents.runtime_agent`, workflow half). The I/O they do is here, in
:class:`AgentActivities`, built by ``build_worker`` with the worker's dependencies and bound to the
definition's :data:`~agent_runtime_worker.agents.runtime_agent.activity_side` slot:

* model resolution inside the model-request activity (the real client, governed:
  :class:`~agent_runtime_worker.models.governed.ModelResolver`);
* the model event recorder, pydantic-ai's event stream handler
  (:class:`~agent_runtime_worker.agents.model_events.ModelEventRecorder`);
* the tool-call recorder (``tool.call.started`` / ``tool.call.finished`` around each call).

Database failures are classified here as in the worker's own activities
(:func:`~agent_runtime_worker.activities.errors.classify_database_errors`): a deterministic one
fails the activity for good.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, NoReturn

from pydantic import BaseModel
from pydantic_ai import ModelRetry, RunContext, ToolFailed
from pydantic_ai.messages import AgentStreamEvent
from pydantic_ai.models import Model
from pydantic_ai.toolsets import AbstractToolset
from temporalio import activity

from agent_runtime_core.catalog import ARTIFACT_TOOL_NAMES, RETIRED_TOOLS
from agent_runtime_core.embeddings import embedder_from_settings
from agent_runtime_core.lifecycle import DedupeKey, EventType
from agent_runtime_core.temporal import ToolConfig
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.agents.artifacts import DatabaseArtifacts
from agent_runtime_worker.agents.memory import DatabaseMemory
from agent_runtime_worker.agents.model_events import ModelEventRecorder
from agent_runtime_worker.agents.runtime_agent import RunDeps
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.models.governed import ModelResolver
from agent_runtime_worker.tools import HttpGetPolicy, SandboxPolicy
from agent_runtime_worker.tools.http_tool import HttpToolConfigError, call_http_tool, secret_names
from agent_runtime_worker.tools.mcp import McpServers

current_tool_idempotency_key: ContextVar[str | None] = ContextVar(
    "current_tool_idempotency_key", default=None
)
"""Inside a tool call: ``<run_id>:<tool_call_id>``, the same on every retry of that call.

A tool with side effects passes it on (e.g. as an ``Idempotency-Key`` header) so that a call
retried after a worker crash does not do its effect twice."""


def tool_idempotency_key(run_id: str, tool_call_id: str) -> str:
    """The stable idempotency key of one tool call of one run."""
    return f"{run_id}:{tool_call_id}"


async def refuse_retired_tool(name: str) -> NoReturn:
    """A call to a retired tool: a tool error the model reads (the run goes on), not a crash."""
    raise ModelRetry(
        f"The tool '{name}' was retired: {RETIRED_TOOLS[name]}. It was not run; do not call it again."
    )


class AgentActivities:
    """The I/O the runtime agent's activities do, with this worker's dependencies."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Serve the agent's activities with ``dependencies``."""
        self.dependencies = dependencies
        self.events = dependencies.events
        self.models = ModelResolver(dependencies)
        self.mcp = McpServers(dependencies.mcp_policy, dependencies.secrets, record_call=self.call_tool)
        """Builds runs' MCP toolsets; its tool-list cache lives as long as this worker."""
        self._memory = DatabaseMemory(dependencies.database, embedder_from_settings(dependencies.settings))

        self._artifacts = DatabaseArtifacts(
            dependencies.database, dependencies.storage, dependencies.events, dependencies.settings
        )

    @property
    def memory(self) -> DatabaseMemory:
        """The tenant's store, for the memory tools."""
        return self._memory

    @property
    def artifacts(self) -> DatabaseArtifacts:
        """The tenant's artifacts, for the artifact tools."""
        return self._artifacts

    @property
    def http_get_policy(self) -> HttpGetPolicy:
        """The limits the ``http_get`` tool enforces on this worker."""
        return self.dependencies.http_get_policy

    @property
    def sandbox_policy(self) -> SandboxPolicy:
        """The limits ``run_python`` runs code under on this worker."""
        return self.dependencies.sandbox_policy

    def resolve_model(self, model_id: str) -> Model | None:
        """The governed model a model-request activity calls."""
        return self.models.resolve(model_id)

    async def mcp_toolset(self, ctx: RunContext[RunDeps]) -> AbstractToolset[RunDeps] | None:
        """The tools of the run's MCP servers, built inside the ``mcp`` toolset's activities."""
        return await self.mcp.toolset(ctx.deps.tenant_id, ctx.deps.mcp_servers)

    @classify_database_errors
    async def record_model_events(
        self, ctx: RunContext[RunDeps], stream: AsyncIterable[AgentStreamEvent]
    ) -> None:
        """pydantic-ai's event stream handler: runs inside the model-request activity, on the live
        stream of the model's response, and writes the request's events (see
        :mod:`~agent_runtime_worker.agents.model_events`)."""
        recorder = ModelEventRecorder(ctx, self.dependencies)
        try:
            async for event in stream:
                await recorder.on_event(event)
        except BaseException:
            recorder.deltas.abort()
            raise
        await recorder.finish()

    async def call_http_tool(self, config: ToolConfig, args: dict[str, Any], ctx: RunContext[Any]) -> Any:
        """Send one call of the tenant's HTTP tool (inside its ``call_tool`` activity, between the
        events :meth:`call_tool` records): read the secrets its headers name and the tenant's
        signing keys, then send the signed request with the call's idempotency key."""
        endpoint = config.http
        if endpoint is None:  # pragma: no cover - HttpToolset offers only tools with an endpoint
            raise ModelRetry(f"The tool '{config.name}' has no endpoint; it was not called.")
        deps: RunDeps = ctx.deps
        names = secret_names(endpoint.headers)
        secrets: dict[str, str] = {}
        if names and self.dependencies.secrets is not None:
            secrets = await self.dependencies.secrets.values(deps.tenant_id, names)
        keys = []
        if self.dependencies.signing_keys is not None:
            keys = await self.dependencies.signing_keys.signing_keys(deps.tenant_id)
        key = current_tool_idempotency_key.get() or tool_idempotency_key(
            deps.run_id, ctx.tool_call_id or config.name
        )
        try:
            return await call_http_tool(
                endpoint,
                args,
                idempotency_key=key,
                secrets=secrets,
                signing_keys=keys,
                policy=self.dependencies.http_tool_policy,
            )
        except HttpToolConfigError as error:
            # A secret deleted since the version was created, a header the worker refuses:
            # nothing was sent; the model reads why (the message names no secret value).
            raise ModelRetry(
                f"The tool '{config.name}' cannot be called: {error} It was not called."
            ) from None

    @classify_database_errors
    async def call_tool(
        self,
        name: str,
        tool_args: dict[str, Any],
        ctx: RunContext[RunDeps],
        call: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Run the tool between its two events; a retried activity writes each event once."""
        call_id = ctx.tool_call_id or name
        deps = ctx.deps
        key = tool_idempotency_key(deps.run_id, call_id)
        token = current_tool_idempotency_key.set(key)
        attempt = activity.info().attempt
        if name in RETIRED_TOOLS:  # kept so histories that called it replay; never run again
            call = functools.partial(refuse_retired_tool, name)
        # One started event per attempt, so a call retried after a crash leaves a trace.
        await self.events.record(
            deps.tenant_id,
            deps.run_id,
            EventType.TOOL_CALL_STARTED,
            {
                "tool_call_id": call_id,
                "tool": name,
                "args": tool_args,
                "attempt": attempt,
                "idempotency_key": key,
            },
            dedupe_key=DedupeKey.tool_started(call_id, attempt),
        )
        started = time.monotonic()
        try:
            result = await call()
        except (ModelRetry, ToolFailed) as exc:
            await self.events.record(
                deps.tenant_id,
                deps.run_id,
                EventType.TOOL_CALL_FINISHED,
                {
                    "tool_call_id": call_id,
                    "tool": name,
                    "ok": False,
                    "error": exc.message,
                    "duration_ms": _elapsed_ms(started),
                },
                dedupe_key=DedupeKey.tool_finished(call_id),
            )
            raise
        finally:
            current_tool_idempotency_key.reset(token)
        shown = _jsonable(result)
        text = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
        limit = self.dependencies.settings.tool_result_max_chars
        finished: dict[str, Any] = {
            "tool_call_id": call_id,
            "tool": name,
            "ok": True,
            "duration_ms": _elapsed_ms(started),
            "result_chars": len(text),
        }
        if len(text) > EVENT_RESULT_PREVIEW_CHARS:
            finished["result"] = text[:EVENT_RESULT_PREVIEW_CHARS]
            finished["result_truncated"] = True
        else:
            finished["result"] = shown
        spill = self.dependencies.settings.tool_result_artifact_bytes
        stored = None
        if spill and name not in ARTIFACT_TOOL_NAMES and len(text.encode()) > spill:
            stored = await self._artifacts.store_tool_result(
                deps.tenant_id, deps.run_id, call_id, name, text, is_json=not isinstance(shown, str)
            )
        if stored is not None:
            result = stored
            finished["result_artifact_id"] = stored["result_stored_as_artifact"]
        elif len(text) > limit:
            result = truncated_for_model(text, limit)
            finished["truncated_for_model"] = True
        await self.events.record(
            deps.tenant_id,
            deps.run_id,
            EventType.TOOL_CALL_FINISHED,
            finished,
            dedupe_key=DedupeKey.tool_finished(call_id),
        )
        return result


EVENT_RESULT_PREVIEW_CHARS = 4_000
"""A ``tool.call.finished`` event carries the result itself up to this size (as JSON text), else
its first characters with ``result_truncated: true`` (``result_chars`` is the full size)."""


def truncated_for_model(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a marker the model cannot miss."""
    left_out = len(text) - limit
    return (
        text[:limit] + f"\n[TRUNCATED: {left_out} more characters of {len(text)} were left out. The tool's "
        "result was too long to show in full; ask for less (a filter, a page, a smaller range).]"
    )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)
