"""Deterministic database failures end the work instead of retrying forever; a human's decision
is taken into account only once it is written.

A decision or answer the database refuses (here: a NUL character, which Postgres text cannot
hold) fails its update with ``HumanDecisionNotRecorded`` at once (the write is not retried), the
request stays pending, and a later valid answer is accepted and lets the run finish.
"""

from __future__ import annotations

import asyncio
import os

import psycopg
import pytest
from pydantic_ai.durable_exec.temporal import PydanticAIPlugin
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus, RunStatus
from agent_runtime_core.repositories import HumanRequestRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    ANSWER_INPUT_UPDATE,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    HumanRequestResolution,
    InputAnswerUpdate,
    ToolConfig,
)
from agent_runtime_worker.activities.errors import database_rejected_write
from agent_runtime_worker.activities.human_requests import HumanRequestActivities
from agent_runtime_worker.activities.runs import RunActivities
from agent_runtime_worker.agents.activities import AgentActivities
from agent_runtime_worker.agents.runtime_agent import activity_side
from agent_runtime_worker.contracts import (
    HUMAN_DECISION_NOT_RECORDED,
    OPEN_HUMAN_REQUESTS,
    OpenHumanRequestsInput,
)
from agent_runtime_worker.main import bookkeeping_activities
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow

from .support import HISTORIES, new_run, worker_dependencies

RECORDED_HISTORY = HISTORIES / "question_answer_refused_then_answered.json"
REFUSED_BOOKKEEPING_HISTORY = HISTORIES / "open_human_requests_refused.json"


def asking_run(run_id: str, tenant_id: str, text: str) -> AgentRunInput:
    """A run of the scripted model that asks a human about ``text`` (``ask_human``)."""
    agent = AgentConfig(
        agent_id="agt_decisions",
        agent_name="decisions",
        version=1,
        model="builtin:scripted",
        tools=[ToolConfig(name="ask_human")],
    )
    return AgentRunInput(run_id=run_id, tenant_id=tenant_id, input=text, agent=agent)


async def pending_question(database: Database, tenant_id: str, run_id: str) -> HumanRequest:
    for _ in range(400):
        async with session_scope(database, tenant_id) as session:
            questions = await HumanRequestRepository(session, tenant_id).list(
                run_id, HumanRequestKind.INPUT, status=HumanRequestStatus.PENDING
            )
        if questions:
            return questions[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the run never asked its question")


@pytest.mark.usefixtures("running_worker")
async def test_an_answer_the_database_refuses_fails_the_update_and_leaves_the_question_pending(
    temporal_client: Client, task_queue: str, database: Database, tenant_id: str
) -> None:
    text = "Plan my trip"
    run_id = await new_run(database, tenant_id, text)
    handle = await temporal_client.start_workflow(
        AGENT_RUN_WORKFLOW,
        asking_run(run_id, tenant_id, text),
        id=f"run-{run_id}",
        task_queue=task_queue,
        result_type=AgentRunResult,
    )
    question = await pending_question(database, tenant_id, run_id)

    refused = InputAnswerUpdate(request_id=question.id, answer="By\x00train.", decided_by="tester")
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await asyncio.wait_for(
            handle.execute_update(ANSWER_INPUT_UPDATE, refused, result_type=HumanRequestResolution),
            timeout=30,  # not retried: the bookkeeping policy would retry a retryable error forever
        )
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == HUMAN_DECISION_NOT_RECORDED
    assert "still pending" in cause.message and "the database refused the write" in cause.message
    assert (await pending_question(database, tenant_id, run_id)).id == question.id

    answer = InputAnswerUpdate(request_id=question.id, answer="By train.", decided_by="tester")
    resolution = await handle.execute_update(ANSWER_INPUT_UPDATE, answer, result_type=HumanRequestResolution)
    assert resolution.status == HumanRequestStatus.ANSWERED.value
    result = await asyncio.wait_for(handle.result(), timeout=30)
    assert result.status == "succeeded"
    async with session_scope(database, tenant_id) as session:
        stored = await HumanRequestRepository(session, tenant_id).get(run_id, question.id)
    assert stored is not None and stored.answer == "By train." and stored.decided_by == "tester"

    if os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):  # replayed by test_replay.py
        RECORDED_HISTORY.write_text((await handle.fetch_history()).to_json())


def test_histories_with_refused_writes_are_saved_for_replay() -> None:
    assert RECORDED_HISTORY.exists()
    assert REFUSED_BOOKKEEPING_HISTORY.exists()


@pytest.mark.usefixtures("running_worker")
async def test_a_model_answer_the_database_refuses_ends_the_run_with_a_readable_error(
    temporal_client: Client, task_queue: str, database: Database, tenant_id: str
) -> None:
    # The scripted model asks about the prompt: its tool call carries the NUL into the events of
    # the model request, which Postgres (jsonb) refuses every time. Retried, it would never end.
    run_id = await new_run(database, tenant_id, "Plan my trip")
    handle = await temporal_client.start_workflow(
        AGENT_RUN_WORKFLOW,
        asking_run(run_id, tenant_id, "Plan my trip\x00"),
        id=f"run-{run_id}",
        task_queue=task_queue,
        result_type=AgentRunResult,
    )
    result = await asyncio.wait_for(handle.result(), timeout=30)
    assert result.status == "failed"
    assert result.error_message is not None and "the database refused the write" in result.error_message


class RefusingHumanRequestActivities(HumanRequestActivities):
    """Human-request activities whose database refuses to open requests (as for a NUL)."""

    @activity.defn(name=OPEN_HUMAN_REQUESTS)
    async def open_human_requests(self, data: OpenHumanRequestsInput) -> int:
        raise database_rejected_write(
            psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        )


async def test_a_bookkeeping_write_refused_during_the_run_ends_the_run_failed(
    temporal_env: WorkflowEnvironment,
    worker_settings: Settings,
    task_queue: str,
    database: Database,
    tenant_id: str,
) -> None:
    dependencies = worker_dependencies(database, worker_settings)
    activity_side.bind(AgentActivities(dependencies))
    runs, humans = RunActivities(dependencies), RefusingHumanRequestActivities(dependencies)
    worker = Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[AgentRunWorkflow],
        activities=bookkeeping_activities(runs, humans),
        plugins=[PydanticAIPlugin()],
    )
    text = "Plan my trip"
    run_id = await new_run(database, tenant_id, text)
    async with worker:
        result = await asyncio.wait_for(
            temporal_env.client.execute_workflow(
                AGENT_RUN_WORKFLOW,
                asking_run(run_id, tenant_id, text),
                id=f"run-{run_id}",
                task_queue=task_queue,
                result_type=AgentRunResult,
            ),
            timeout=30,
        )
        if os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):  # replayed by test_replay.py
            history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
            REFUSED_BOOKKEEPING_HISTORY.write_text(history.to_json())
    assert result.status == "failed" and result.error_code == "activity_failed"
    assert result.error_message is not None and "cannot contain NUL" in result.error_message
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
    assert run is not None and run.status == RunStatus.FAILED
