"""Approval timeouts on Temporal's time-skipping test server: an hour passes in an instant."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import HumanRequestKind, HumanRequestStatus, RunStatus
from agent_runtime_core.repositories import HumanRequestRepository, RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    LimitsConfig,
    ToolConfig,
)
from agent_runtime_worker.main import build_worker

from .support import new_run


async def run_with_unanswered_approval(
    env: WorkflowEnvironment, settings: Settings, database: Database, tenant_id: str, on_timeout: str
) -> tuple[str, AgentRunResult]:
    run_id = await new_run(database, tenant_id)
    task_queue = f"ts-{uuid.uuid4()}"
    run_input = AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input="What is 5 * 5?",
        agent=AgentConfig(
            agent_id="agt_x",
            agent_name="timeouts",
            version=1,
            model="builtin:scripted",
            tools=[ToolConfig(name="calculator", requires_approval=True)],
            limits=LimitsConfig(approval_timeout_s=3600, run_timeout_s=7200, on_approval_timeout=on_timeout),  # type: ignore[arg-type]
        ),
    )
    async with build_worker(env.client, settings, database, task_queue=task_queue):
        result = await env.client.execute_workflow(
            AGENT_RUN_WORKFLOW,
            run_input,
            id=f"run-{run_id}",
            task_queue=task_queue,
            result_type=AgentRunResult,
        )
    return run_id, result


async def test_unanswered_approval_is_rejected_after_the_timeout_and_the_run_goes_on(
    time_skipping_env: WorkflowEnvironment, worker_settings: Settings, database: Database, tenant_id: str
) -> None:
    run_id, result = await run_with_unanswered_approval(
        time_skipping_env, worker_settings, database, tenant_id, "reject"
    )
    assert result.status == "succeeded"
    assert "calculator was not run: Nobody approved this call within 3600 s" in str(result.output)
    async with session_scope(database, tenant_id) as session:
        [approval] = await HumanRequestRepository(session, tenant_id).list(run_id, HumanRequestKind.APPROVAL)
        types = [e.type for e in await RunEventRepository(session, tenant_id).list(run_id)]
    assert approval.status == HumanRequestStatus.EXPIRED
    assert "approval.expired" in types
    assert types.index("approval.expired") < types.index("run.resumed") < types.index("run.succeeded")


async def test_unanswered_approval_fails_the_run_when_configured(
    time_skipping_env: WorkflowEnvironment, worker_settings: Settings, database: Database, tenant_id: str
) -> None:
    run_id, result = await run_with_unanswered_approval(
        time_skipping_env, worker_settings, database, tenant_id, "fail"
    )
    assert result.status == "failed"
    assert result.error_code == "approval_timeout"
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        [approval] = await HumanRequestRepository(session, tenant_id).list(run_id, HumanRequestKind.APPROVAL)
    assert run is not None
    assert run.status == RunStatus.FAILED
    assert run.error == {
        "code": "approval_timeout",
        "message": "No human answered 1 request(s) within 3600 s.",
    }
    assert approval.status == HumanRequestStatus.EXPIRED
