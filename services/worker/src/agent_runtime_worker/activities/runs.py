"""Run lifecycle writes: started, finished. Idempotent: a retry changes nothing twice.

Each writes its event in the same transaction as the status change and publishes it to live
readers after the commit.
"""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.lifecycle import DedupeKey, EventSpec, EventType, terminal_event
from agent_runtime_core.metrics import record_run_finished
from agent_runtime_core.models import ArtifactStatus, Run, RunStatus
from agent_runtime_core.repositories import ArtifactRepository, ThreadRepository, UsageRepository
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.activities.tenancy import locked_run, transition_run
from agent_runtime_worker.activities.thread_context import ThreadSummarizer, thread_context
from agent_runtime_worker.contracts import (
    ACQUIRE_THREAD_TURN,
    FINISH_RUN,
    FINISH_THREAD_RUN,
    MARK_RUN_STARTED,
    RECORD_BUDGET_WAIT,
    SUMMARIZE_THREAD,
    BudgetWaitInput,
    FinishRunInput,
    RunActivityContract,
    RunRef,
    SummarizeThreadInput,
    ThreadActivityContract,
    ThreadRunFinished,
    ThreadSummarized,
    ThreadTurn,
    ThreadTurnInput,
)
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.events import RunEventWriter

logger = logging.getLogger(__name__)

MAX_LISTED_OUTPUT_ARTIFACTS = 100
"""``run.succeeded`` lists at most this many of the run's output artifacts (oldest first)."""


async def run_output_artifacts(session: AsyncSession, tenant_id: str, run_id: str) -> list[dict[str, object]]:
    """The run's ready output artifacts (``artifact.run_id`` is the run), oldest first."""
    rows = await ArtifactRepository(session, tenant_id).list(
        limit=MAX_LISTED_OUTPUT_ARTIFACTS, run_id=run_id, status=ArtifactStatus.READY
    )
    return [
        {"id": row.id, "name": row.name, "content_type": row.content_type, "size": row.size}
        for row in reversed(rows)
    ]


async def finish_run_row(
    database: Database, events: RunEventWriter, result: FinishRunInput
) -> tuple[str, str | None]:
    """The terminal transition of ``finish_run`` / ``finish_thread_run`` (and of the
    reconciliation of runs whose workflow closed without it): returns the run's status afterwards
    and, for a thread run, the run that has the thread's turn now. Safe to run twice: an earlier
    terminal status wins and the ``run.<status>`` event has one dedupe key."""
    target = RunStatus(result.status)
    if not target.is_terminal:
        raise ApplicationError(f"{target} is not terminal", type="InvalidStatus", non_retryable=True)
    unpriced = 0
    outputs: list[dict[str, object]] = []

    async def record_outcome(run: Run) -> None:
        nonlocal unpriced
        if target == RunStatus.SUCCEEDED:
            outputs.extend(await run_output_artifacts(session, result.tenant_id, run.id))
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

    def finished_event(run: Run) -> list[EventSpec]:
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
        if target == RunStatus.SUCCEEDED:
            data["artifacts"] = outputs
        return [EventSpec(terminal_event(target), data, DedupeKey.RUN_FINISHED)]

    async with session_scope(database, result.tenant_id) as session:
        moved = await transition_run(
            session,
            database,
            result.tenant_id,
            result.run_id,
            target,
            apply=record_outcome,
            events=finished_event,
            turn_messages=result.turn_messages,
        )
    if not moved.applied:
        logger.info("run %s already %s; not moving to %s", result.run_id, moved.run.status, target)
        return moved.run.status.value, moved.next_thread_run_id
    await events.publish_committed(moved.events)
    record_run_finished(target.value)
    return target.value, moved.next_thread_run_id


class RunActivities(RunActivityContract, ThreadActivityContract):
    """The run lifecycle activities (:class:`~agent_runtime_worker.contracts.RunActivityContract`)
    and turn-taking on threads (:class:`~agent_runtime_worker.contracts.ThreadActivityContract`),
    with the worker's database and event writer."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Write through the worker's database; publish events through its event writer."""
        self.database = dependencies.database
        self.events = dependencies.events
        self.summarizer = ThreadSummarizer(dependencies)

    @activity.defn(name=MARK_RUN_STARTED)
    @classify_database_errors
    async def mark_run_started(self, ref: RunRef) -> bool:
        """``queued → running`` with ``started_at`` and a ``run.started`` event.

        Returns ``False`` when the run already finished (e.g. cancelled before it started),
        in which case the workflow must not run the agent.
        """
        started = EventSpec(
            EventType.RUN_STARTED, {"attempt": activity.info().attempt}, DedupeKey.RUN_STARTED
        )
        async with session_scope(self.database, ref.tenant_id) as session:
            result = await transition_run(
                session,
                self.database,
                ref.tenant_id,
                ref.run_id,
                RunStatus.RUNNING,
                only_from=(RunStatus.QUEUED, RunStatus.RUNNING),
                events=[started],
            )
        await self.events.publish_committed(result.events)
        return not result.previous.is_terminal

    @activity.defn(name=FINISH_RUN)
    @classify_database_errors
    async def finish_run(self, result: FinishRunInput) -> str:
        """Write the terminal status, output, error and usage, and the ``run.<status>`` event.

        Returns the status the run has afterwards (an earlier terminal status wins: nothing
        leaves a terminal state).
        """
        status, _ = await self._finish(result)
        return status

    @activity.defn(name=FINISH_THREAD_RUN)
    @classify_database_errors
    async def finish_thread_run(self, result: FinishRunInput) -> ThreadRunFinished:
        """:meth:`finish_run` for a run on a thread: the same transaction also appends the run's
        turn (``result.turn_messages``, when it succeeded; once per run) and hands the thread to
        the next queued run, which the workflow then signals. A retry (the first attempt
        committed) appends nothing and reports the run to signal again."""
        status, next_run_id = await self._finish(result)
        return ThreadRunFinished(status=status, next_run_id=next_run_id)

    @activity.defn(name=ACQUIRE_THREAD_TURN)
    @classify_database_errors
    async def acquire_thread_turn(self, data: ThreadTurnInput) -> ThreadTurn:
        """Whether the run has its thread's turn: ``active`` with the thread's earlier messages
        (bounded by the version's context strategy, ``data.context``: every turn, the last N, or
        a summary and the turns after it, or a request to summarize first), ``waiting`` (another
        run has it), or ``finished`` (the run already ended, e.g. it was cancelled before its
        workflow asked). Reads only: safe to run any number of times."""
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
            if run.status.is_terminal:
                return ThreadTurn(status="finished")
            if run.thread_id != data.thread_id:
                # The run's record names no such thread (an input forged, or written by a newer
                # API than the one that admitted the run): nothing to wait for, no history.
                logger.warning("run %s is not on thread %s; running it alone", run.id, data.thread_id)
                return ThreadTurn(status="active")
            threads = ThreadRepository(session, data.tenant_id)
            thread = await threads.get_for_tenant(data.thread_id, include_deleted=True)
            if thread is None or thread.active_run_id != run.id:
                return ThreadTurn(status="waiting")
            return await thread_context(threads, thread.id, data.context)

    @activity.defn(name=SUMMARIZE_THREAD)
    @classify_database_errors
    async def summarize_thread(self, data: SummarizeThreadInput) -> ThreadSummarized:
        """Summarize the thread's oldest turns (:class:`ThreadSummarizer`)."""
        return await self.summarizer.summarize(data)

    async def _finish(self, result: FinishRunInput) -> tuple[str, str | None]:
        return await finish_run_row(self.database, self.events, result)

    @activity.defn(name=RECORD_BUDGET_WAIT)
    @classify_database_errors
    async def record_budget_wait(self, wait: BudgetWaitInput) -> str:
        """``running → waiting`` with ``run.waiting`` (why, until when), or back with ``run.resumed``.

        Returns the run's status afterwards; a finished run is left alone.
        """
        if wait.waiting:
            reason = {
                "reason": "budget_exceeded",
                "budget": wait.budget,
                "limit": wait.limit,
                "used": wait.used,
                "until": wait.resets_at.isoformat(),
                "message": wait.message,
            }
            target = RunStatus.WAITING
            event = EventSpec(EventType.RUN_WAITING, reason, DedupeKey.budget_waiting(wait.wait_key))
        else:
            target = RunStatus.RUNNING
            event = EventSpec(
                EventType.RUN_RESUMED,
                {"reason": "budget_reset", "budget": wait.budget},
                DedupeKey.budget_resumed(wait.wait_key),
            )
        async with session_scope(self.database, wait.tenant_id) as session:
            moved = await transition_run(
                session,
                self.database,
                wait.tenant_id,
                wait.run_id,
                target,
                only_from=(RunStatus.RUNNING, RunStatus.WAITING),
                events=[event],
            )
            status = moved.run.status.value
        await self.events.publish_committed(moved.events)
        return status
