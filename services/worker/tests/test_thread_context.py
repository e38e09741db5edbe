"""Context management of threads on a real worker, against the fake provider so the summary
request and the next model request are visible on the wire (docs/decisions.md, "Context
management"). The thread's earlier turns are written straight to the database."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_thread_id
from agent_runtime_core.models import Run, RunEvent, Thread, ThreadMessage, ThreadSummary
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput, AgentRunResult
from agent_runtime_core.temporal.contracts import ContextConfig, MemoryConfig
from agent_runtime_core.thread_context import SUMMARY_INSTRUCTIONS, estimate_tokens, plan_summary
from agent_runtime_worker.main import build_worker

from .fake_llm import Answer, FakeLLM
from .support import new_run, provider_settings

pytestmark = pytest.mark.timeout(120)

FILLER = "lorem ipsum dolor sit amet " * 10


def turn(prompt: str, answer: str) -> list[dict[str, Any]]:
    """One turn as a run appends it (pydantic-ai's JSON form)."""
    return ModelMessagesTypeAdapter.dump_python(
        [ModelRequest(parts=[UserPromptPart(prompt)]), ModelResponse(parts=[TextPart(answer)])], mode="json"
    )


async def thread_with_turns(database: Database, tenant_id: str, run_id: str, prompts: list[str]) -> str:
    """A thread with one turn per prompt, whose turn run ``run_id`` has."""
    thread_id = new_thread_id()
    async with session_scope(database, tenant_id) as session:
        session.add(
            Thread(
                id=thread_id,
                tenant_id=tenant_id,
                active_run_id=run_id,
                last_message_seq=len(prompts),
                admitted_runs=len(prompts) + 1,
            )
        )
        await session.flush()
        for seq, prompt in enumerate(prompts, start=1):
            session.add(
                ThreadMessage(
                    thread_id=thread_id,
                    seq=seq,
                    tenant_id=tenant_id,
                    run_id=f"run_seed_{seq}",
                    messages=turn(prompt, f"Answer {seq}."),
                )
            )
        run = await session.get(Run, run_id)
        assert run is not None
        run.thread_id = thread_id
        session.add(run)
    return thread_id


async def next_turn(database: Database, tenant_id: str, thread_id: str, text: str) -> str:
    """A new run that has the (idle) thread's turn."""
    run_id = await new_run(database, tenant_id, text)
    async with session_scope(database, tenant_id) as session:
        thread = await session.get(Thread, thread_id)
        run = await session.get(Run, run_id)
        assert thread is not None and run is not None and thread.active_run_id is None
        thread.active_run_id, run.thread_id = run_id, thread_id
        session.add_all([thread, run])
    return run_id


async def execute(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    tenant_id: str,
    run_id: str,
    thread_id: str,
    text: str,
    *,
    model: str,
    context: ContextConfig,
) -> tuple[AgentRunResult, Run, list[RunEvent]]:
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input=text,
        thread_id=thread_id,
        agent=AgentConfig(
            agent_id="agt_ctx",
            agent_name="ctx",
            version=1,
            model=model,
            instructions="Be brief.",
            memory=MemoryConfig(context=context),
        ),
    )
    async with build_worker(temporal_env.client, settings, database, task_queue=settings.temporal_task_queue):
        result = await temporal_env.client.execute_workflow(
            AGENT_RUN_WORKFLOW,
            run_input,
            id=f"run-{run_id}-{uuid.uuid4().hex[:4]}",
            task_queue=settings.temporal_task_queue,
            result_type=AgentRunResult,
        )
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
    assert run is not None
    return result, run, list(events)


def test_the_planner_keeps_recent_turns_within_half_the_limit_and_converges() -> None:
    turns = [(seq, 100) for seq in range(1, 11)]
    assert plan_summary(summary_tokens=0, summarized_through=0, turns=turns, max_context_tokens=1000) is None
    # Over the limit: the last 4 turns fit in half of it (400 <= 499), turns 1-6 are summarized.
    assert plan_summary(summary_tokens=0, summarized_through=0, turns=turns, max_context_tokens=999) == 6
    # After summarizing through 6, the same turns ask for nothing more, even with a long summary.
    after = turns[6:]
    assert plan_summary(summary_tokens=900, summarized_through=6, turns=after, max_context_tokens=999) is None
    # The last turn alone is over half the limit: everything is summarized.
    big = [(1, 500), (2, 600)]
    assert plan_summary(summary_tokens=0, summarized_through=0, turns=big, max_context_tokens=999) == 2
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2


async def test_summarization_kicks_in_at_the_limit_and_the_next_request_carries_the_summary(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
) -> None:
    prompts = ["Hello, my name is Ada."] + [f"Note {seq}: {FILLER}" for seq in range(2, 11)]
    run_id = await new_run(database, tenant_id, "What is my name?")
    thread_id = await thread_with_turns(database, tenant_id, run_id, prompts)
    full_history = [
        message for seq, prompt in enumerate(prompts, 1) for message in turn(prompt, f"Answer {seq}.")
    ]
    limit = estimate_tokens(full_history) // 2  # ~10 turns of ~110 tokens: over the limit
    fake_llm.script(
        "local-llm",
        Answer("Ada introduced herself, then left nine notes.", input_tokens=500, output_tokens=12),
        Answer("Your name is Ada."),
    )
    settings = provider_settings(worker_settings, fake_llm)
    context = ContextConfig(strategy="summarize", max_context_tokens=limit)

    result, run, events = await execute(
        temporal_env,
        settings,
        database,
        tenant_id,
        run_id,
        thread_id,
        "What is my name?",
        model="openai-compatible:local-llm",
        context=context,
    )
    assert result.status == "succeeded", result
    assert result.output == "Your name is Ada."

    summary_request, agent_request = fake_llm.requests
    # The summary request: not streamed, the summary instructions, the oldest turns' transcript.
    assert summary_request.stream is False
    assert summary_request.body["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    transcript = summary_request.body["messages"][1]["content"]
    [summarized] = [event.data for event in events if event.type == "thread.summarized"]
    through = summarized["through_seq"]
    assert 1 <= through < len(prompts)
    assert "user: Hello, my name is Ada." in transcript and f"Turn {through}:" in transcript
    assert f"Turn {through + 1}:" not in transcript
    assert summarized == {
        "thread_id": thread_id,
        "from_seq": 1,
        "through_seq": through,
        "previous_summary_through_seq": None,
        "model": "openai-compatible:local-llm",
        "summary": "Ada introduced herself, then left nine notes.",
        "input_tokens": 500,
        "output_tokens": 12,
    }

    # The agent's request: the summary as a system message, then only the turns after it.
    messages = agent_request.body["messages"]
    systems = [m["content"] for m in messages if m["role"] == "system"]
    assert any(
        s.startswith(f"Summary of the earlier conversation (turns 1-{through})")
        and "Ada introduced herself" in s
        for s in systems
    ), systems
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users == [*prompts[through:], "What is my name?"]
    assert len(json.dumps(messages)) < len(json.dumps(full_history))
    # The summary request counts in the run's usage (the ledger, under the run).
    assert (run.usage_requests, run.usage_input_tokens) == (2, 511)

    async with session_scope(database, tenant_id) as session:
        [stored] = (
            await session.exec(select(ThreadSummary).where(ThreadSummary.thread_id == thread_id))
        ).all()
        turns = (await session.exec(select(ThreadMessage).where(ThreadMessage.thread_id == thread_id))).all()
    assert (stored.through_seq, stored.run_id, stored.summary) == (through, run_id, summarized["summary"])
    assert len(turns) == len(prompts) + 1  # the history itself is untouched, the new turn appended

    # The next turn fits with the stored summary: no new summary request.
    second = await next_turn(database, tenant_id, thread_id, "Thanks.")
    fake_llm.script("local-llm", Answer("You're welcome."))
    result, _, events = await execute(
        temporal_env,
        settings,
        database,
        tenant_id,
        second,
        thread_id,
        "Thanks.",
        model="openai-compatible:local-llm",
        context=context,
    )
    assert result.status == "succeeded", result
    assert [r.stream for r in fake_llm.requests] == [False, True, True]
    assert not [event for event in events if event.type == "thread.summarized"]
    assert [m["content"] for m in fake_llm.requests[-1].body["messages"] if m["role"] == "user"] == (
        [*prompts[through:], "What is my name?", "Thanks."]
    )


async def test_last_n_turns_are_all_the_model_sees(
    fake_llm: FakeLLM,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
) -> None:
    prompts = [f"Prompt {seq}." for seq in range(1, 8)]
    run_id = await new_run(database, tenant_id, "And now?")
    thread_id = await thread_with_turns(database, tenant_id, run_id, prompts)
    fake_llm.script("local-llm", Answer("ok"))
    result, _, _ = await execute(
        temporal_env,
        provider_settings(worker_settings, fake_llm),
        database,
        tenant_id,
        run_id,
        thread_id,
        "And now?",
        model="openai-compatible:local-llm",
        context=ContextConfig(strategy="last_n", last_n_turns=3),
    )
    assert result.status == "succeeded", result
    [request] = fake_llm.requests
    users = [m["content"] for m in request.body["messages"] if m["role"] == "user"]
    assert users == ["Prompt 5.", "Prompt 6.", "Prompt 7.", "And now?"]
