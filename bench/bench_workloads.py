"""What the benchmark's baseline workers execute, and the scripted model's step hook.

Imported by ``overhead.py`` (the host) and, passed through the workflow sandbox, by
``bench_workflows.py``, so the sandboxed workflows and the host's activities share one agent
instance, like ``AgentRunWorkflow`` shares ``runtime_agent``.

* ``noop_activity``: the activity of scenario (a), raw Temporal.
* ``bare_agent``: scenario (b), a pydantic-ai agent made durable with ``TemporalDurability`` and
  nothing else (no database, no event handler, default activity options), whose zero-latency
  ``FunctionModel`` calls a no-op tool ``K - 1`` times, one call per model response, then answers.
* ``install_scripted_steps_hook``: lets ``builtin:scripted`` make ``K`` model requests, so that
  scenario (c) can run ``K > 2`` steps until the model supports it natively (see README).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pydantic_ai import Agent, FunctionToolset
from pydantic_ai.durable_exec.temporal import TemporalDurability
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from temporalio import activity

NOOP_ACTIVITY: Final = "bench_noop"
BARE_AGENT_NAME: Final = "bench_bare"
BARE_TOOLSET_ID: Final = "bench_tools"
BARE_PROMPT_PREFIX: Final = "steps="

STEPS_DIRECTIVE: Final = re.compile(r"\bscripted:steps=(\d+)\b")
"""The directive the step hook reads from a ``builtin:scripted`` prompt: ``scripted:steps=10``."""


@dataclass(frozen=True)
class RawRunInput:
    """Input of the raw workflow: ``activities`` sequential no-op activities.

    ``extra_activities`` (regular) and ``extra_local_activities`` model a run's two bookkeeping
    activities (``mark_run_started`` before the agent, ``finish_run`` after it): half of them run
    before the main activities, the rest after.
    """

    activities: int
    extra_activities: int = 0
    extra_local_activities: int = 0


@activity.defn(name=NOOP_ACTIVITY)
async def noop_activity(step: int) -> int:
    """Do nothing (scenario (a))."""
    return step


def _last_user_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _tool_return_count(messages: list[ModelMessage]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    )


def bare_prompt(steps: int) -> str:
    """The prompt that makes ``bare_agent`` run ``steps`` model requests."""
    return f"{BARE_PROMPT_PREFIX}{steps}"


def bare_model_function(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Zero latency: one ``noop`` call per response until ``K - 1`` calls are answered."""
    steps = int(_last_user_prompt(messages).removeprefix(BARE_PROMPT_PREFIX))
    done = _tool_return_count(messages)
    if done < steps - 1:
        return ModelResponse(parts=[ToolCallPart("noop", {}, tool_call_id=f"call_{done}")])
    return ModelResponse(parts=[TextPart(f"Done after {done} tool calls.")])


def noop() -> str:
    """Do nothing. (Synchronous, like the ``calculator`` tool scenario (c) calls.)"""
    return "ok"


bare_toolset = FunctionToolset[None]([noop], id=BARE_TOOLSET_ID)

bare_agent: Agent[None, str] = Agent(
    FunctionModel(bare_model_function),
    name=BARE_AGENT_NAME,
    deps_type=type(None),
    output_type=str,
    toolsets=[bare_toolset],
    capabilities=[TemporalDurability()],
)


# ------------------------------------------------------------------------- scripted step hook

PlanFunction = Callable[[list[ModelMessage], AgentInfo], "list[tuple[str, dict[str, str]]] | str"]


def scripted_steps_prompt(steps: int) -> str:
    """A ``builtin:scripted`` prompt asking for ``steps`` model requests (needs the hook)."""
    return f"scripted:steps={steps} What is 6 * 7?"


def install_scripted_steps_hook() -> None:
    """Teach ``builtin:scripted`` (in THIS process's worker only) the ``scripted:steps=K`` directive.

    With the directive in the prompt, the model calls ``calculator`` once per response, ``K - 1``
    times in sequence, then answers: ``K`` model requests and ``K - 1`` tool calls, like
    ``bare_agent``. Without it, the model behaves exactly as shipped. Everything else in the run
    (API, workflow, activities, event writes) is our unchanged code; only the model's plan is
    replaced, in memory. Safe to call twice.
    """
    from agent_runtime_worker.models import scripted

    shipped: PlanFunction = scripted._plan  # pyright: ignore[reportPrivateUsage]
    if getattr(shipped, "bench_steps_hook", False):
        return

    def plan(messages: list[ModelMessage], info: AgentInfo) -> list[tuple[str, dict[str, str]]] | str:
        match = STEPS_DIRECTIVE.search(_last_user_prompt(messages))
        if match is None:
            return shipped(messages, info)
        steps = int(match.group(1))
        done = _tool_return_count(messages)
        if done < steps - 1:
            return [("calculator", {"expression": f"{done} + 1"})]
        return f"Done after {done} calculator calls."

    plan.bench_steps_hook = True  # type: ignore[attr-defined]
    scripted._plan = plan  # pyright: ignore[reportPrivateUsage]
