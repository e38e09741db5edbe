"""Provider fallback, retries and wire formats, over real HTTP.

Runs go through the real worker, Temporal dev server, Postgres and pydantic-ai's real OpenAI and
Anthropic providers, pointed at a scripted fake provider (``fake_llm.py``) with base URLs.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import RunEvent, RunStatus
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ModelSettingsConfig,
    ToolConfig,
)
from agent_runtime_worker.main import build_worker

from .fake_llm import Answer, Drop, Fail, FakeLLM, Slow, ToolCall
from .support import HISTORIES, new_run, provider_settings


@dataclass
class Outcome:
    result: AgentRunResult
    run_status: RunStatus
    error_code: str | None
    error_message: str | None
    usage: tuple[int, int]
    events: list[RunEvent]
    workflow_id: str

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event.data for event in self.events if event.type == event_type]


async def run_agent(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    task_queue: str,
    *,
    model: str,
    fallback_models: list[str] | None = None,
    tools: list[str] | None = None,
    text: str = "Say hello.",
) -> Outcome:
    """Run an agent version with ``model`` and ``fallback_models`` to its end on a real worker."""
    run_id = await new_run(database, tenant_id, text)
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input=text,
        agent=AgentConfig(
            agent_id="agt_x",
            agent_name="fallback",
            version=1,
            model=model,
            fallback_models=fallback_models or [],
            instructions="Be brief.",
            tools=[ToolConfig(name=name) for name in tools or []],
            model_settings=ModelSettingsConfig(temperature=0.25, max_tokens=64),
        ),
    )
    workflow_id = f"run-{run_id}-{uuid.uuid4().hex[:4]}"
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        result = await temporal_env.client.execute_workflow(
            AGENT_RUN_WORKFLOW,
            run_input,
            id=workflow_id,
            task_queue=task_queue,
            result_type=AgentRunResult,
        )
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
    assert run is not None
    return Outcome(
        result=result,
        run_status=run.status,
        error_code=(run.error or {}).get("code"),
        error_message=(run.error or {}).get("message"),
        usage=(run.usage_input_tokens, run.usage_output_tokens),
        events=list(events),
        workflow_id=workflow_id,
    )


async def test_openai_compatible_model_answers_through_the_real_provider(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("local-llm", Answer("Hello from the compatible server."))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env, settings, database, tenant_id, task_queue, model="openai-compatible:local-llm"
    )
    assert outcome.result.status == "succeeded", outcome.result
    assert outcome.result.output == "Hello from the compatible server."
    [request] = fake_llm.requests
    assert (request.wire, request.model, request.stream) == ("openai", "local-llm", True)
    assert request.body["temperature"] == 0.25
    assert request.headers["authorization"] == "Bearer none"
    assert {"role": "system", "content": "Be brief."} in request.body["messages"]
    assert request.body["messages"][-1] == {"role": "user", "content": "Say hello."}
    assert outcome.usage == (11, 7)
    [finished] = outcome.of_type("model.request.finished")
    assert finished["model"] == "openai-compatible:local-llm"
    assert finished["text"] == "Hello from the compatible server."


async def test_primary_500s_are_retried_then_the_run_falls_over_to_the_next_model(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-primary", otherwise=Fail(500, "primary is down"))
    fake_llm.script("claude-second", Answer("Hello from the second model."))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-primary",
        fallback_models=["anthropic:claude-second", "openai:gpt-third"],
    )
    assert outcome.result.status == "succeeded", outcome.result
    assert outcome.result.output == "Hello from the second model."
    # Retried per the (fast) retry policy: 3 attempts, then the fallback; the third model unused.
    assert [r.model for r in fake_llm.requests] == ["gpt-primary"] * 3 + ["claude-second"]
    assert fake_llm.requests[-1].wire == "anthropic"
    assert fake_llm.requests_for("gpt-third") == []
    [fallback] = outcome.of_type("model.fallback")
    assert fallback["from"] == "openai:gpt-primary"
    assert fallback["to"] == "anthropic:claude-second"
    assert "HTTP 500" in fallback["error"] and "primary is down" in fallback["error"]
    [finished] = outcome.of_type("model.request.finished")
    assert finished["model"] == "anthropic:claude-second"
    types = [e.type for e in outcome.events]
    assert types.index("model.fallback") < types.index("model.request.started")
    assert outcome.usage == (11, 7)  # only the answer's tokens: the failures had none


async def test_all_models_failing_fails_the_run_with_every_error(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-a", otherwise=Fail(503, "a unavailable"))
    fake_llm.script("gpt-b", otherwise=Fail(502, "b bad gateway"))
    settings = provider_settings(worker_settings, fake_llm, model_retry_max_attempts=2)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-a",
        fallback_models=["openai:gpt-b"],
    )
    assert outcome.run_status == RunStatus.FAILED
    assert outcome.error_code == "model_error"
    assert outcome.error_message is not None
    assert "every model failed" in outcome.error_message
    assert "HTTP 503: a unavailable" in outcome.error_message
    assert "HTTP 502: b bad gateway" in outcome.error_message
    assert [r.model for r in fake_llm.requests] == ["gpt-a", "gpt-a", "gpt-b", "gpt-b"]
    assert [(f["from"], f["to"]) for f in outcome.of_type("model.fallback")] == [
        ("openai:gpt-a", "openai:gpt-b")
    ]


async def test_bad_request_fails_fast_without_retry_or_fallback(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-a", otherwise=Fail(400, "max_tokens is too large"))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-a",
        fallback_models=["openai:gpt-b"],
    )
    assert outcome.run_status == RunStatus.FAILED
    assert outcome.error_code == "model_error"
    assert outcome.error_message == "model 'gpt-a' answered HTTP 400: max_tokens is too large"
    assert [r.model for r in fake_llm.requests] == ["gpt-a"]  # no retry, no fallback
    assert outcome.of_type("model.fallback") == []


async def test_auth_error_falls_over_at_once_and_fails_clearly_without_fallback(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-a", otherwise=Fail(401, "Incorrect API key provided"))
    fake_llm.script("claude-b", Answer("Anthropic took over."))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-a",
        fallback_models=["anthropic:claude-b"],
    )
    assert outcome.result.status == "succeeded", outcome.result
    assert outcome.result.output == "Anthropic took over."
    assert [r.model for r in fake_llm.requests] == ["gpt-a", "claude-b"]  # 401: not retried
    [fallback] = outcome.of_type("model.fallback")
    assert "HTTP 401: Incorrect API key provided" in fallback["error"]

    # Without a fallback the run fails at once with the provider's status and message.
    failed = await run_agent(temporal_env, settings, database, tenant_id, task_queue, model="openai:gpt-a")
    assert failed.run_status == RunStatus.FAILED
    assert failed.error_code == "model_error"
    assert failed.error_message == "model 'gpt-a' answered HTTP 401: Incorrect API key provided"
    assert len(fake_llm.requests_for("gpt-a")) == 2


async def test_rate_limit_retry_after_is_honoured(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-a", Fail(429, "slow down", retry_after=2), Answer("after the wait"))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(temporal_env, settings, database, tenant_id, task_queue, model="openai:gpt-a")
    assert outcome.result.output == "after the wait"
    first, second = fake_llm.requests
    # The backoff alone would be 0.05 s; the provider asked for 1.5 s.
    assert second.at - first.at >= 2.0  # the backoff alone would be 0.05 s
    assert second.at - first.at < 5


async def test_slow_response_times_out_is_retried_then_falls_over(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("gpt-slow", otherwise=Slow(3.0))  # the client gives up after 1 s
    fake_llm.script("gpt-fast", Answer("fast answer"))
    settings = provider_settings(worker_settings, fake_llm, model_retry_max_attempts=2)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-slow",
        fallback_models=["openai:gpt-fast"],
    )
    assert outcome.result.output == "fast answer"
    assert [r.model for r in fake_llm.requests] == ["gpt-slow", "gpt-slow", "gpt-fast"]
    [fallback] = outcome.of_type("model.fallback")
    assert "Timeout" in fallback["error"] or "timed out" in fallback["error"].lower()


async def test_dropped_connection_is_retried(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script("claude-a", Drop(), Answer("second try"))
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env, settings, database, tenant_id, task_queue, model="anthropic:claude-a"
    )
    assert outcome.result.output == "second try"
    assert [r.model for r in fake_llm.requests] == ["claude-a", "claude-a"]
    assert outcome.of_type("model.fallback") == []


async def test_anthropic_wire_with_a_tool_call(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    fake_llm.script(
        "claude-a",
        ToolCall("calculator", {"expression": "6 * 7"}, input_tokens=20, output_tokens=5),
        Answer("It is 42.", input_tokens=30, output_tokens=4),
    )
    settings = provider_settings(worker_settings, fake_llm)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="anthropic:claude-a",
        tools=["calculator"],
        text="What is 6 * 7?",
    )
    assert outcome.result.status == "succeeded", outcome.result
    assert outcome.result.output == "It is 42."
    first, second = fake_llm.requests
    assert (first.wire, first.stream) == ("anthropic", True)
    assert "sk-ant-test" in (first.headers.get("x-api-key"), first.headers.get("authorization", "")[7:])
    assert "anthropic-version" in first.headers
    assert [tool["name"] for tool in first.body["tools"]] == ["calculator"]
    tool_result = second.body["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result"
    assert "42" in str(tool_result["content"])
    assert outcome.usage == (50, 9)
    [call] = outcome.of_type("tool.call.finished")
    assert call["ok"] is True
    models = [f["model"] for f in outcome.of_type("model.request.finished")]
    assert models == ["anthropic:claude-a", "anthropic:claude-a"]


@pytest.mark.skipif(
    not os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"), reason="records histories on demand"
)
async def test_record_fallback_history(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    """Saves `histories/model_fallback.json` (replayed by test_replay.py): primary 500 twice, then
    a tool call and an answer from the fallback model."""
    fake_llm.script("gpt-primary", otherwise=Fail(500))
    fake_llm.script("claude-b", ToolCall("calculator", {"expression": "2 + 2"}), Answer("4"))
    settings = provider_settings(worker_settings, fake_llm, model_retry_max_attempts=2)
    outcome = await run_agent(
        temporal_env,
        settings,
        database,
        tenant_id,
        task_queue,
        model="openai:gpt-primary",
        fallback_models=["anthropic:claude-b"],
        tools=["calculator"],
        text="What is 2 + 2?",
    )
    assert outcome.result.output == "4"
    history = await temporal_env.client.get_workflow_handle(outcome.workflow_id).fetch_history()
    (HISTORIES / "model_fallback.json").write_text(history.to_json())
