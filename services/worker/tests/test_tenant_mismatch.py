"""Workers refuse work whose tenant does not match the run's: activities (row-level security makes
the run invisible → ``TenantMismatch``, non-retryable) and the workflow (input tenant vs its
``TenantId`` search attribute), on the real Temporal dev server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import ActivityEnvironment

from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models import HumanRequestKind, Run, RunEvent, RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput, tenant_id_key
from agent_runtime_worker.activities.human_requests import HumanRequestActivities
from agent_runtime_worker.activities.runs import RunActivities
from agent_runtime_worker.contracts import FinishRunInput, HumanRequestSpec, OpenHumanRequestsInput, RunRef

from .support import new_run, worker_dependencies


async def untouched(database: Database, run_id: str) -> None:
    """The run is still as it was written: queued, one event."""
    async with system_session_scope(database) as session:
        run = await session.get(Run, run_id)
        events = (await session.exec(RunEvent.__table__.select().where(RunEvent.run_id == run_id))).all()  # type: ignore[attr-defined]
    assert run is not None and run.status == RunStatus.QUEUED and run.started_at is None
    assert len(events) == 1


async def test_activities_refuse_a_run_of_another_tenant_for_good(
    database: Database, tenant_id: str, other_tenant_id: str
) -> None:
    run_id = await new_run(database, tenant_id)
    env = ActivityEnvironment()
    runs = RunActivities(worker_dependencies(database))
    humans = HumanRequestActivities(worker_dependencies(database))
    spec = HumanRequestSpec(
        id="apr_x",
        kind=HumanRequestKind.APPROVAL,
        tool_call_id="c",
        tool="calculator",
        requested_at=utcnow(),
        expires_at=utcnow(),
    )
    attempts: list[Any] = [
        (runs.mark_run_started, RunRef(run_id=run_id, tenant_id=other_tenant_id)),
        (runs.finish_run, FinishRunInput(run_id=run_id, tenant_id=other_tenant_id, status="succeeded")),
        (
            humans.open_human_requests,
            OpenHumanRequestsInput(run_id=run_id, tenant_id=other_tenant_id, requests=[spec]),
        ),
    ]
    for activity_fn, argument in attempts:
        with pytest.raises(ApplicationError) as caught:
            await env.run(activity_fn, argument)
        assert caught.value.type == "TenantMismatch"
        assert caught.value.non_retryable
        assert f"does not belong to tenant {other_tenant_id}" in caught.value.message
    await untouched(database, run_id)

    with pytest.raises(ApplicationError) as missing:
        await env.run(runs.mark_run_started, RunRef(run_id="run_missing", tenant_id=tenant_id))
    assert missing.value.type == "RunNotFound" and missing.value.non_retryable
    # The right tenant is served as before.
    assert await env.run(runs.mark_run_started, RunRef(run_id=run_id, tenant_id=tenant_id)) is True


def run_input(run_id: str, tenant_id: str) -> AgentRunInput:
    return AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input="hello",
        agent=AgentConfig(agent_id="agt_x", agent_name="x", version=1, model="builtin:scripted"),
    )


async def failure_of(
    temporal_client: Client, task_queue: str, start_input: AgentRunInput, attributed: str
) -> BaseException:
    handle = await temporal_client.start_workflow(
        AGENT_RUN_WORKFLOW,
        start_input,
        id=f"run-{start_input.run_id}-{attributed}",
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes([SearchAttributePair(tenant_id_key, attributed)]),
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=30)
    assert failed.value.cause is not None
    return failed.value.cause


@pytest.mark.usefixtures("running_worker")
async def test_workflow_whose_input_tenant_differs_from_its_search_attribute_fails_at_once(
    database: Database, temporal_client: Client, task_queue: str, tenant_id: str, other_tenant_id: str
) -> None:
    run_id = await new_run(database, tenant_id)
    cause = await failure_of(temporal_client, task_queue, run_input(run_id, other_tenant_id), tenant_id)
    assert isinstance(cause, ApplicationError)
    assert cause.type == "TenantMismatch"
    assert "does not match the workflow's TenantId" in cause.message
    await untouched(database, run_id)


@pytest.mark.usefixtures("running_worker")
async def test_workflow_for_another_tenants_run_fails_in_its_first_activity_without_retrying(
    database: Database, temporal_client: Client, task_queue: str, tenant_id: str, other_tenant_id: str
) -> None:
    run_id = await new_run(database, tenant_id)
    # Input and search attribute agree, but the run belongs to someone else. The bookkeeping retry
    # policy retries forever: the workflow failing within the timeout shows it was not retried.
    cause = await failure_of(temporal_client, task_queue, run_input(run_id, other_tenant_id), other_tenant_id)
    chain: list[BaseException] = []
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    assert any(
        isinstance(c, ActivityError | ApplicationError) and "TenantMismatch" in str(c) for c in chain
    ), chain
    assert f"does not belong to tenant {other_tenant_id}" in str(chain)
    await untouched(database, run_id)
