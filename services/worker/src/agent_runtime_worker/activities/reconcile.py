"""The run reconciliation's activities: find active runs whose workflow is closed, finish them.

Finding is a system read across tenants (like the retention plan) followed by one ``describe``
per run's workflow; finishing works in the run's tenant session through the path the workflow
itself takes (:func:`~agent_runtime_worker.activities.runs.finish_run_row`), after cancelling the
run's pending approvals and questions as the workflow does when a run ends. Both are safe to run
twice: a finished run is left as it is, and every event has its dedupe key.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.lifecycle import ACTIVE_STATUSES
from agent_runtime_core.models import HumanRequestStatus, Run, RunEvent
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import RunEventRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import THREAD_TURN_SIGNAL, workflow_id_for_run
from agent_runtime_core.temporal.reconcile import (
    CLOSED_WORKFLOW_OUTCOMES,
    FIND_CLOSED_RUNS,
    FINISH_CLOSED_RUN,
    ClosedRun,
    ClosedRunsBatch,
    FindClosedRunsInput,
    FinishClosedRunResult,
)
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.activities.human_requests import close_requests, pending_request_ids
from agent_runtime_worker.activities.runs import finish_run_row
from agent_runtime_worker.activities.tenancy import locked_run
from agent_runtime_worker.contracts import FinishRunInput, ReconcileActivityContract
from agent_runtime_worker.events import RunEventWriter

logger = logging.getLogger(__name__)

DESCRIBE_CONCURRENCY = 10
"""Workflows described at once while looking through a batch."""


def closed_status_name(status: WorkflowExecutionStatus | None) -> str | None:
    """``terminated``, ``timed_out``, ... for a closed workflow; ``None`` while it runs."""
    if status is None or status == WorkflowExecutionStatus.RUNNING:
        return None
    return status.name.lower()


class ReconcileActivities(ReconcileActivityContract):
    """Implements :class:`~agent_runtime_worker.contracts.ReconcileActivityContract`."""

    def __init__(
        self, settings: Settings, database: Database, events: RunEventWriter, client: Client
    ) -> None:
        """Read and write through ``database``, publish through ``events``, describe workflows and
        signal the next run of a thread through ``client``."""
        self.settings = settings
        self.database = database
        self.events = events
        self.client = client

    @activity.defn(name=FIND_CLOSED_RUNS)
    @classify_database_errors
    async def find_closed_runs(self, data: FindClosedRunsInput) -> ClosedRunsBatch:
        """One batch of active runs old enough (oldest first), and those whose workflow is closed."""
        limit = data.limit or self.settings.reconcile_batch_size
        min_age_s = self.settings.reconcile_min_age_s if data.min_age_s is None else data.min_age_s
        created_before = utcnow() - timedelta(seconds=min_age_s)
        statement = (
            select(Run.id, Run.tenant_id, Run.workflow_id)
            .where(
                col(Run.status).in_(list(ACTIVE_STATUSES)),
                col(Run.created_at) < created_before,
            )
            .order_by(col(Run.id))
            .limit(limit)
        )
        if data.after_run_id is not None:
            statement = statement.where(col(Run.id) > data.after_run_id)
        if data.tenant_ids is not None:
            statement = statement.where(col(Run.tenant_id).in_(data.tenant_ids))
        async with system_session_scope(self.database) as session:
            rows = list((await session.exec(statement)).all())
        gate = asyncio.Semaphore(DESCRIBE_CONCURRENCY)

        async def describe(workflow_id: str) -> WorkflowExecutionStatus | RPCError | None:
            async with gate:
                try:
                    return (await self.client.get_workflow_handle(workflow_id).describe()).status
                except RPCError as error:
                    if error.status == RPCStatusCode.NOT_FOUND:
                        return error
                    raise

        statuses = await asyncio.gather(*(describe(workflow_id) for _, _, workflow_id in rows))
        closed: list[ClosedRun] = []
        running = not_found = 0
        for (run_id, tenant_id, workflow_id), status in zip(rows, statuses, strict=True):
            if isinstance(status, RPCError):
                # Never guess: the namespace's retention may have removed a workflow that ended long
                # ago (its run's row is left as it is, for an operator to look at).
                logger.warning(
                    "run %s of tenant %s is active but has no workflow %s", run_id, tenant_id, workflow_id
                )
                not_found += 1
                continue
            name = closed_status_name(status)
            if name is None:
                running += 1
                continue
            closed.append(ClosedRun(run_id=run_id, tenant_id=tenant_id, workflow_status=name))
        activity.heartbeat()
        return ClosedRunsBatch(
            closed=closed,
            examined=len(rows),
            running=running,
            not_found=not_found,
            limit=limit,
            last_run_id=rows[-1][0] if rows else None,
        )

    @activity.defn(name=FINISH_CLOSED_RUN)
    @classify_database_errors
    async def finish_closed_run(self, data: ClosedRun) -> FinishClosedRunResult:
        """Finish a run whose workflow closed without doing so: its pending human requests are
        cancelled, the run moves to the status its workflow's end maps to, with its terminal event,
        and a thread's turn goes to the next queued run, whose workflow is signalled."""
        outcome = CLOSED_WORKFLOW_OUTCOMES.get(data.workflow_status)
        if outcome is None:
            raise ApplicationError(
                f"no run status for a workflow {data.workflow_status!r}",
                type="InvalidStatus",
                non_retryable=True,
            )
        status, error_code, error_message = outcome
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
            was_terminal = run.status.is_terminal
            written: list[RunEvent] = []
            if not was_terminal:
                request_ids = await pending_request_ids(session, data.tenant_id, data.run_id)
                specs = await close_requests(
                    session, data.tenant_id, data.run_id, request_ids, HumanRequestStatus.CANCELLED
                )
                written = await RunEventRepository(session, data.tenant_id).append_to_run(run.id, specs) or []
        await self.events.publish_committed(written)
        finished = FinishRunInput(
            run_id=data.run_id,
            tenant_id=data.tenant_id,
            status=status,
            error_code=error_code,
            error_message=error_message,
        )
        final_status, next_run_id = await finish_run_row(self.database, self.events, finished)
        # A retry after this call's first attempt committed finds the run terminal: not counted twice.
        applied = not was_terminal and final_status == status
        if applied:
            logger.info(
                "run %s of tenant %s: workflow %s, run %s",
                data.run_id,
                data.tenant_id,
                data.workflow_status,
                status,
            )
        if next_run_id is not None:
            await self._pass_turn(next_run_id)
        return FinishClosedRunResult(
            status=final_status,
            finished=applied,
            error_code=error_code if applied else None,
            next_run_id=next_run_id,
        )

    async def _pass_turn(self, next_run_id: str) -> None:
        """Tell the run that has the thread's turn now, as ``AgentRunWorkflow._pass_turn`` does."""
        try:
            await self.client.get_workflow_handle(workflow_id_for_run(next_run_id)).signal(THREAD_TURN_SIGNAL)
        except RPCError as error:
            logger.info("run %s was not waiting for its thread's turn: %s", next_run_id, error.message)
