"""Humans in the loop through the SDK: approvals seen in the stream and decided, questions
answered, waiting with a timeout, cancelling a waiting run."""

from __future__ import annotations

import asyncio
import time

import pytest

from agent_runtime_client import (
    AgentRuntime,
    AsyncAgentRuntime,
    ConflictError,
    EventType,
    HumanRequestStatus,
    Run,
    RunEvent,
    RunStatus,
    WaitTimeoutError,
)

from .support import QUESTION

pytestmark = pytest.mark.timeout(60)


async def test_an_approval_requested_in_the_stream_is_approved_and_the_run_succeeds(
    aclient: AsyncAgentRuntime, approval_agent: str
) -> None:
    handle = await aclient.runs.create(approval_agent, QUESTION)
    events: list[RunEvent] = []
    approval_id = None
    async for event in handle.stream():
        events.append(event)
        if (request := event.approval_request) is not None:
            assert (request.tool, request.args) == ("calculator", {"expression": "6*7"})
            assert [a.id for a in await aclient.approvals.pending(handle.id)] == [request.request_id]
            approval = await handle.approve(request.request_id)
            assert approval.status == HumanRequestStatus.APPROVED and approval.decided_by
            approval_id = approval.id

    assert approval_id is not None
    types = [event.type for event in events]
    assert types.index(EventType.APPROVAL_REQUESTED) < types.index(EventType.RUN_WAITING)
    assert types.index(EventType.APPROVAL_DECIDED) < types.index(EventType.TOOL_CALL_FINISHED)
    assert types[-1] == EventType.RUN_SUCCEEDED
    run = await handle.refresh()
    assert run.status == RunStatus.SUCCEEDED and "42" in str(run.output)
    assert (await aclient.approvals.get(handle.id, approval_id)).status == HumanRequestStatus.APPROVED
    with pytest.raises(ConflictError) as decided_twice:
        await aclient.approvals.approve(handle.id, approval_id)
    assert decided_twice.value.code == "approval_already_decided"


async def test_sync_wait_times_out_while_a_human_is_needed_then_a_rejection_lets_the_run_finish(
    client: AgentRuntime, approval_agent: str
) -> None:
    def scenario() -> tuple[WaitTimeoutError, Run, str]:
        handle = client.runs.create(approval_agent, QUESTION)
        with handle.stream() as events:
            next(event for event in events if event.type == EventType.RUN_WAITING)
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError) as timed_out:
            handle.wait(timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 5
        [approval] = client.approvals.pending(handle.id)
        rejected = client.approvals.reject(handle.id, approval.id, reason="not today")
        assert rejected.status == HumanRequestStatus.REJECTED and rejected.reason == "not today"
        return timed_out.value, handle.wait(timeout=30), approval.id

    timed_out, run, approval_id = await asyncio.to_thread(scenario)

    assert isinstance(timed_out.run, Run) and timed_out.run.status == RunStatus.WAITING
    assert run.status == RunStatus.SUCCEEDED
    assert "calculator was not run: Rejected by " in str(run.output) and "not today" in str(run.output)
    assert approval_id.startswith("apr_")


async def test_a_run_waiting_for_approval_is_cancelled(
    aclient: AsyncAgentRuntime, approval_agent: str
) -> None:
    handle = await aclient.runs.create(approval_agent, QUESTION)
    async with handle.stream() as events:
        async for event in events:
            if event.type == EventType.RUN_WAITING:
                break
    await handle.cancel()
    run = await handle.wait(timeout=30)
    assert run.status == RunStatus.CANCELLED
    last = [event async for event in handle.events()][-1]
    assert last.type == EventType.RUN_CANCELLED and last.run_status == RunStatus.CANCELLED
    with pytest.raises(ConflictError):
        await handle.cancel()


async def test_a_question_is_answered_through_the_sdk(aclient: AsyncAgentRuntime) -> None:
    agent = await aclient.agents.create(
        "sdk-asker", version={"model": "builtin:scripted", "tools": [{"name": "ask_human"}]}
    )
    handle = await aclient.runs.create(agent.id, "Plan my trip")
    async for event in handle.stream():
        if (question := event.question) is not None:
            assert "Plan my trip" in (question.question or "")
            [pending] = await aclient.questions.pending(handle.id)
            assert pending.id == question.request_id
            answered = await handle.answer("I travel by train.")
            assert answered.status == HumanRequestStatus.ANSWERED
    run = await handle.wait(timeout=30)
    assert "ask_human: I travel by train." in str(run.output)
    assert [q.answer async for q in aclient.questions.list(handle.id)] == ["I travel by train."]


async def test_the_inbox_lists_what_waits_for_a_human_across_runs_sync_and_async(
    aclient: AsyncAgentRuntime, client: AgentRuntime
) -> None:
    # The scripted model calls the calculator (approval needed) and ask_human at once.
    agent = await aclient.agents.create(
        "sdk-inbox",
        version={
            "model": "builtin:scripted",
            "tools": [{"name": "calculator", "requires_approval": True}, {"name": "ask_human"}],
        },
    )
    handle = await aclient.runs.create(agent.id, QUESTION)
    waiting_for: set[str] = set()
    async with handle.stream() as events:
        async for event in events:
            if event.approval_request or event.question:
                waiting_for.add(str(event.type))
            if len(waiting_for) == 2:
                break

    [approval] = await aclient.approvals.inbox(agent_id=agent.id).to_list()
    assert (approval.run_id, approval.agent_id, approval.tool) == (handle.id, agent.id, "calculator")
    assert approval.status == HumanRequestStatus.PENDING and approval.args == {"expression": "6*7"}
    [question] = await aclient.questions.inbox(run_id=handle.id).to_list()
    assert (question.run_id, question.agent_id) == (handle.id, agent.id) and "6*7" in question.question

    def sync_side() -> tuple[list[str], list[str]]:
        pending = [item.id for item in client.approvals.inbox(run_id=handle.id, limit=1)]
        questions = [item.id for item in client.questions.inbox(agent_id=agent.id, status=["pending"])]
        client.approvals.approve(handle.id, pending[0])
        client.questions.answer(handle.id, "Yes.", request_id=questions[0])
        return pending, questions

    pending, questions = await asyncio.to_thread(sync_side)
    assert (pending, questions) == ([approval.id], [question.id])
    assert (await handle.wait(timeout=30)).status == RunStatus.SUCCEEDED
    assert await aclient.approvals.inbox(agent_id=agent.id).to_list() == []
    assert await aclient.questions.inbox(agent_id=agent.id).to_list() == []
    [decided] = await aclient.approvals.inbox(agent_id=agent.id, status=None).to_list()
    assert decided.status == HumanRequestStatus.APPROVED
    [answered] = await aclient.questions.inbox(agent_id=agent.id, status="answered").to_list()
    assert answered.answer == "Yes."
