"""The run reconciliation on real servers (Postgres, Temporal, our worker): a run whose workflow
closed without finishing it (terminated here, as an operator would) is finished with the status
and code its workflow's end maps to, once; its pending approval is cancelled; on a thread, the
next queued run gets the turn and runs. Running workflows, runs without a workflow and runs too
young are left alone. The schedule exists once the worker has started."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

import pytest
from temporalio.client import (
    Client,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_thread_id
from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus, Run, Thread
from agent_runtime_core.repositories import HumanRequestRepository, RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ToolConfig,
)
from agent_runtime_core.temporal.reconcile import ClosedRun, ReconcileInput, ReconcileResult
from agent_runtime_worker.activities.reconcile import ReconcileActivities
from agent_runtime_worker.schedules import ensure_reconcile_schedule
from agent_runtime_worker.workflows.reconcile import RunReconcileWorkflow

from .support import HISTORIES, new_run, worker_dependencies

RECONCILE_HISTORIES = HISTORIES / "reconcile"
"""Saved reconciliation histories (a folder of their own: ``test_replay.py`` replays the runs')."""


def approval_run(run_id: str, tenant_id: str, *, thread_id: str | None = None) -> AgentRunInput:
    """A run of the scripted model whose calculator call waits for a human's approval."""
    agent = AgentConfig(
        agent_id="agt_reconcile",
        agent_name="reconcile",
        version=1,
        model="builtin:scripted",
        tools=[ToolConfig(name="calculator", requires_approval=True)],
    )
    return AgentRunInput(
        run_id=run_id, tenant_id=tenant_id, input="What is 6 * 7?", agent=agent, thread_id=thread_id
    )


def plain_run(run_id: str, tenant_id: str, *, thread_id: str) -> AgentRunInput:
    """A run of the scripted model without tools: it answers at once."""
    agent = AgentConfig(agent_id="agt_reconcile", agent_name="reconcile", version=1, model="builtin:scripted")
    return AgentRunInput(run_id=run_id, tenant_id=tenant_id, input="Hello", agent=agent, thread_id=thread_id)


async def start_run(
    client: Client, task_queue: str, run_input: AgentRunInput
) -> WorkflowHandle[None, AgentRunResult]:
    return await client.start_workflow(
        AGENT_RUN_WORKFLOW,
        run_input,
        id=f"run-{run_input.run_id}",
        task_queue=task_queue,
        result_type=AgentRunResult,
    )


async def pending_approval(database: Database, tenant_id: str, run_id: str) -> HumanRequest:
    for _ in range(600):
        async with session_scope(database, tenant_id) as session:
            approvals = await HumanRequestRepository(session, tenant_id).list(
                run_id, HumanRequestKind.APPROVAL, status=HumanRequestStatus.PENDING
            )
        if approvals:
            return approvals[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the run never asked for an approval")


async def stored_run(database: Database, tenant_id: str, run_id: str) -> Run:
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
    assert run is not None
    return run


async def event_types(database: Database, tenant_id: str, run_id: str) -> list[str]:
    async with session_scope(database, tenant_id) as session:
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
    return [event.type for event in events]


async def reconcile(
    client: Client, task_queue: str, tenant_id: str, *, min_age_s: int = 0, record: str | None = None
) -> dict[str, int]:
    """One reconciliation of ``tenant_id``'s runs (other tests' runs share the database), as the
    schedule starts it but for the tenant and the age; ``record``: save its history under that
    name (with ``AGENT_RUNTIME_RECORD_HISTORIES`` set) for the replay test."""
    handle = await client.start_workflow(
        RunReconcileWorkflow.run,
        ReconcileInput(min_age_s=min_age_s, tenant_ids=[tenant_id]),
        id=f"reconcile-test-{uuid.uuid4()}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=2),
    )
    result: ReconcileResult = await asyncio.wait_for(handle.result(), timeout=60)
    if record and os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        RECONCILE_HISTORIES.mkdir(exist_ok=True)
        await asyncio.to_thread((RECONCILE_HISTORIES / f"{record}.json").write_text, history.to_json())
    return result.totals


@pytest.mark.usefixtures("running_worker")
async def test_a_terminated_run_waiting_for_approval_is_cancelled_once(
    temporal_client: Client, task_queue: str, database: Database, tenant_id: str
) -> None:
    run_id = await new_run(database, tenant_id, "What is 6 * 7?")
    handle = await start_run(temporal_client, task_queue, approval_run(run_id, tenant_id))
    approval = await pending_approval(database, tenant_id, run_id)

    # Its workflow runs: the run is left alone.
    assert await reconcile(temporal_client, task_queue, tenant_id) == {"examined": 1, "running": 1}
    assert (await stored_run(database, tenant_id, run_id)).status == "waiting"

    await handle.terminate(reason="an operator's terminate")
    # Too young for a reconciliation that takes runs older than an hour: left alone too.
    assert await reconcile(temporal_client, task_queue, tenant_id, min_age_s=3600) == {}
    assert (await stored_run(database, tenant_id, run_id)).status == "waiting"

    totals = await reconcile(temporal_client, task_queue, tenant_id, record="terminated_approval")
    assert totals == {"examined": 1, "workflow_terminated": 1}
    run = await stored_run(database, tenant_id, run_id)
    assert run.status == "cancelled"
    assert run.error is not None and run.error["code"] == "workflow_terminated"
    assert run.finished_at is not None
    types = await event_types(database, tenant_id, run_id)
    assert types.count("run.cancelled") == 1
    assert types[-2:] == ["approval.cancelled", "run.cancelled"]
    async with session_scope(database, tenant_id) as session:
        stored = await HumanRequestRepository(session, tenant_id).get(run_id, approval.id)
    assert stored is not None and stored.status == HumanRequestStatus.CANCELLED

    # Again: nothing to do (the run is finished); the activity itself, run twice, changes nothing.
    assert await reconcile(temporal_client, task_queue, tenant_id) == {}
    activities = ReconcileActivities(
        Settings(redis_url=""), database, worker_dependencies(database).events, temporal_client
    )
    again = await ActivityEnvironment().run(
        activities.finish_closed_run,
        ClosedRun(run_id=run_id, tenant_id=tenant_id, workflow_status="terminated"),
    )
    assert (again.status, again.finished) == ("cancelled", False)
    assert await event_types(database, tenant_id, run_id) == types


@pytest.mark.usefixtures("running_worker")
async def test_a_run_without_a_workflow_is_left_alone(
    temporal_client: Client, task_queue: str, database: Database, tenant_id: str
) -> None:
    """No workflow (the namespace's retention may have removed one long finished): never guess."""
    run_id = await new_run(database, tenant_id)
    assert await reconcile(temporal_client, task_queue, tenant_id) == {"examined": 1, "not_found": 1}
    run = await stored_run(database, tenant_id, run_id)
    assert (run.status, run.error) == ("queued", None)
    assert await event_types(database, tenant_id, run_id) == ["run.queued"]


@pytest.mark.usefixtures("running_worker")
async def test_a_terminated_thread_run_hands_the_turn_to_the_next_queued_run(
    temporal_client: Client, task_queue: str, database: Database, tenant_id: str
) -> None:
    first = await new_run(database, tenant_id, "What is 6 * 7?")
    second = await new_run(database, tenant_id, "Hello")
    thread_id = new_thread_id()
    async with session_scope(database, tenant_id) as session:
        session.add(
            Thread(
                id=thread_id,
                tenant_id=tenant_id,
                active_run_id=first,
                queued_run_ids=[second],
                admitted_runs=2,
            )
        )
        await session.flush()
        for run_id in (first, second):
            run = await session.get(Run, run_id)
            assert run is not None
            run.thread_id, run.multitask_strategy = thread_id, "enqueue"
            session.add(run)
    holder = await start_run(temporal_client, task_queue, approval_run(first, tenant_id, thread_id=thread_id))
    await pending_approval(database, tenant_id, first)
    queued = await start_run(temporal_client, task_queue, plain_run(second, tenant_id, thread_id=thread_id))
    await holder.terminate(reason="an operator's terminate")

    totals = await reconcile(temporal_client, task_queue, tenant_id)
    assert totals.get("workflow_terminated") == 1
    assert (await stored_run(database, tenant_id, first)).status == "cancelled"
    # Signalled by the reconciliation (the workflow's own re-check would take minutes).
    result = await asyncio.wait_for(queued.result(), timeout=60)
    assert result.status == "succeeded"
    assert (await stored_run(database, tenant_id, second)).status == "succeeded"
    async with session_scope(database, tenant_id) as session:
        thread = await session.get(Thread, thread_id)
    assert thread is not None and thread.active_run_id is None and thread.queued_run_ids == []


async def describe_schedule(client: Client, schedule_id: str) -> ScheduleDescription | None:
    """The schedule, or None once it is deleted (``describe`` reads the schedule itself, unlike
    ``list_schedules``, which reads eventually consistent visibility records)."""
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def test_the_schedule_follows_the_settings(temporal_env: WorkflowEnvironment, task_queue: str) -> None:
    client = temporal_env.client
    # Its own schedule id: the Temporal server is shared with tests that start whole workers.
    settings = Settings(temporal_task_queue=task_queue, reconcile_schedule_id=f"reconcile-{task_queue}")
    try:
        await ensure_reconcile_schedule(client, settings)
        await ensure_reconcile_schedule(client, settings)  # a second worker: no error, same schedule
        described = await describe_schedule(client, settings.reconcile_schedule_id)
        assert described is not None
        assert described.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=5))]
        assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        action = described.schedule.action
        assert getattr(action, "workflow", None) == "RunReconcileWorkflow"
        assert getattr(action, "task_queue", None) == task_queue

        await ensure_reconcile_schedule(client, settings.model_copy(update={"reconcile_interval_s": 60}))
        described = await describe_schedule(client, settings.reconcile_schedule_id)
        assert described is not None
        assert described.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=1))]

        await ensure_reconcile_schedule(
            client, settings.model_copy(update={"reconcile_schedule_enabled": False})
        )
        assert await describe_schedule(client, settings.reconcile_schedule_id) is None
    finally:
        await ensure_reconcile_schedule(
            client, settings.model_copy(update={"reconcile_schedule_enabled": False})
        )


async def test_saved_reconciliation_history_replays() -> None:
    """A change to ``RunReconcileWorkflow`` that breaks determinism for reconciliations in flight
    fails here (record again with ``AGENT_RUNTIME_RECORD_HISTORIES=1`` after an intended, patched
    change)."""
    path = RECONCILE_HISTORIES / "terminated_approval.json"
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(workflows=[RunReconcileWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
