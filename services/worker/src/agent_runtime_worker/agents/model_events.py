"""Events of model requests, written from inside the model-request activity (live stream)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from pydantic_ai import RunContext
from pydantic_ai.messages import AgentStreamEvent, PartEndEvent, TextPart, ToolCallPart
from temporalio import activity

if TYPE_CHECKING:
    from agent_runtime_worker.agents.runtime_agent import RunDeps


def _activity_attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1


async def record_model_events(ctx: RunContext[RunDeps], stream: AsyncIterable[AgentStreamEvent]) -> None:
    """Runs inside the model-request activity, on the live stream of the model's response.

    Writes ``model.request.started`` when the response starts and ``model.request.finished``
    (text and tool calls) when it ends. Keys use the run step, so a retried request writes once.
    """
    from agent_runtime_worker.events import record_run_event

    deps = ctx.deps
    step = ctx.run_step
    model_name = ctx.model.model_name
    started = False
    text: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    async for event in stream:
        if not started:
            started = True
            await record_run_event(
                deps.tenant_id,
                deps.run_id,
                "model.request.started",
                {"step": step, "model": model_name, "attempt": _activity_attempt()},
                dedupe_key=f"model:{step}:started",
            )
        if not isinstance(event, PartEndEvent):
            continue  # text deltas are not persisted yet; the finished part carries the text
        if isinstance(event.part, TextPart):
            text.append(event.part.content)
        elif isinstance(event.part, ToolCallPart):
            tool_calls.append(
                {
                    "tool_call_id": event.part.tool_call_id,
                    "tool": event.part.tool_name,
                    "args": event.part.args_as_dict(),
                }
            )
    await record_run_event(
        deps.tenant_id,
        deps.run_id,
        "model.request.finished",
        {"step": step, "model": model_name, "text": "".join(text) or None, "tool_calls": tool_calls},
        dedupe_key=f"model:{step}:finished",
    )
