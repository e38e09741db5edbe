"""Run lifecycle writes: started, finished. Idempotent: a retry changes nothing twice.

Each writes its event in the same transaction as the status change and publishes it to live
readers after the commit.
"""

from __future__ import annotations

import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import session_scope
from agent_runtime_core.metrics import record_run_finished
from agent_runtime_core.models import RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.models.run import can_transition
from agent_runtime_core.repositories import RunEventRepository, UsageRepository
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.activities.tenancy import locked_run
from agent_runtime_worker.contracts import (
    FINISH_RUN,
    MARK_RUN_STARTED,
    RECORD_BUDGET_WAIT,
    BudgetWaitInput,
    FinishRunInput,
    RunActivityContract,
    RunRef,
)
from agent_runtime_worker.dependencies import WorkerDependencies

logger = logging.getLogger(__name__)


class RunActivities(RunActivityContract):
    """The run lifecycle activities (:class:`~agent_runtime_worker.contracts.RunActivityContract`),
    with the worker's database and event writer."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Write through the worker's database; publish events through its event writer."""
        self.database = dependencies.database
        self.events = dependencies.events

    @activity.defn(name=MARK_RUN_STARTED)
    @classify_database_errors
    async def mark_run_started(self, ref: RunRef) -> bool:
        """``queued → running`` with ``started_at`` and a ``run.started`` event.

        Returns ``False`` when the run already finished (e.g. cancelled before it started),
        in which case the workflow must not run the agent.
        """
        async with session_scope(self.database, ref.tenant_id) as session:
            run = await locked_run(session, self.database, ref.tenant_id, ref.run_id)
            if run.status.is_terminal:
                return False
            if run.status == RunStatus.QUEUED:
                run.status = RunStatus.RUNNING
                run.started_at = utcnow()
            event = await RunEventRepository(session, ref.tenant_id).append(
                run, "run.started", {"attempt": activity.info().attempt}
            )
        await self.events.publish_committed([event])
        return True

    @activity.defn(name=FINISH_RUN)
    @classify_database_errors
    async def finish_run(self, result: FinishRunInput) -> str:
        """Write the terminal status, output, error and usage, and the ``run.<status>`` event.

        Returns the status the run has afterwards (an earlier terminal status wins: nothing
        leaves a terminal state).
        """
        target = RunStatus(result.status)
        if not target.is_terminal:
            raise ApplicationError(f"{target} is not terminal", type="InvalidStatus", non_retryable=True)
        async with session_scope(self.database, result.tenant_id) as session:
            run = await locked_run(session, self.database, result.tenant_id, result.run_id)
            if not can_transition(run.status, target):
                logger.info("run %s already %s; not moving to %s", run.id, run.status, target)
                return run.status.value
            run.status = target
            run.finished_at = run.finished_at or utcnow()
            run.output = result.output
            run.error = (
                {"code": result.error_code, "message": result.error_message or result.error_code}
                if result.error_code
                else None
            )
            run.usage_requests = result.usage.requests
            run.usage_input_tokens = result.usage.input_tokens
            run.usage_output_tokens = result.usage.output_tokens
            # The ledger knows every model request that was made, also when the run failed before
            # the agent could report its usage; cost is only known there.
            requests, input_tokens, output_tokens, cost, unpriced = await UsageRepository(
                session, result.tenant_id
            ).run_totals(run.id)
            if requests > run.usage_requests:
                run.usage_requests, run.usage_input_tokens, run.usage_output_tokens = (
                    requests,
                    input_tokens,
                    output_tokens,
                )
            run.cost_usd = cost if requests and not unpriced else None
            usage = {
                "requests": run.usage_requests,
                "input_tokens": run.usage_input_tokens,
                "output_tokens": run.usage_output_tokens,
                "cost_usd": str(run.cost_usd) if run.cost_usd is not None else None,
                "unpriced_requests": unpriced,
            }
            data: dict[str, object] = {"usage": usage}
            if run.error:
                data["error"] = run.error
            event = await RunEventRepository(session, result.tenant_id).append(
                run, f"run.{target.value}", data, dedupe_key="run.finished"
            )
        await self.events.publish_committed([event])
        record_run_finished(target.value)
        return target.value

    @activity.defn(name=RECORD_BUDGET_WAIT)
    @classify_database_errors
    async def record_budget_wait(self, wait: BudgetWaitInput) -> str:
        """``running → waiting`` with ``run.waiting`` (why, until when), or back with ``run.resumed``.

        Returns the run's status afterwards; a finished run is left alone.
        """
        async with session_scope(self.database, wait.tenant_id) as session:
            run = await locked_run(session, self.database, wait.tenant_id, wait.run_id)
            if run.status.is_terminal:
                return run.status.value
            reason = {
                "reason": "budget_exceeded",
                "budget": wait.budget,
                "limit": wait.limit,
                "used": wait.used,
                "until": wait.resets_at.isoformat(),
                "message": wait.message,
            }
            if wait.waiting:
                run.status = RunStatus.WAITING
                event = await RunEventRepository(session, wait.tenant_id).append(
                    run, "run.waiting", reason, dedupe_key=f"budget:{wait.wait_key}:waiting"
                )
            else:
                run.status = RunStatus.RUNNING
                event = await RunEventRepository(session, wait.tenant_id).append(
                    run,
                    "run.resumed",
                    {"reason": "budget_reset", "budget": wait.budget},
                    dedupe_key=f"budget:{wait.wait_key}:resumed",
                )
            status = run.status.value
        await self.events.publish_committed([event])
        return status
