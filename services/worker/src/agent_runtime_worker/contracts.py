"""What the workflow and the worker's own activities exchange: activity names, inputs, signatures.

The workflow half of the worker imports this module; the activity half implements it. It holds
data and declarations only (no database, no Redis, no settings), so importing it into workflow
code is safe, and the import rule in ``pyproject.toml`` (``lint-imports``) keeps it that way.

Activity names appear in workflow histories: they are frozen. The workflow calls activities by
typed reference to the declarations below (``workflow.execute_local_activity_method(
RunActivityContract.finish_run, ...)``); :class:`~agent_runtime_worker.activities.runs.RunActivities`
and :class:`~agent_runtime_worker.activities.human_requests.HumanRequestActivities` implement them
under the same names.
"""

from __future__ import annotations

from temporalio import activity

from agent_runtime_core.temporal.activities import (
    ACQUIRE_THREAD_TURN,
    CLOSE_HUMAN_WAIT,
    FINISH_RUN,
    FINISH_THREAD_RUN,
    MARK_RUN_STARTED,
    OPEN_HUMAN_REQUESTS,
    RECORD_BUDGET_WAIT,
    RESOLVE_HUMAN_REQUEST,
    SUMMARIZE_THREAD,
    BudgetWaitInput,
    CloseHumanWaitInput,
    FinishRunInput,
    HumanRequestSpec,
    OpenHumanRequestsInput,
    ResolveHumanRequestInput,
    RunRef,
    RunUsageTotals,
    SummarizeThreadInput,
    ThreadRunFinished,
    ThreadSummarized,
    ThreadTurn,
    ThreadTurnInput,
)
from agent_runtime_core.temporal.contracts import HUMAN_DECISION_NOT_RECORDED
from agent_runtime_core.temporal.reconcile import (
    FIND_CLOSED_RUNS,
    FINISH_CLOSED_RUN,
    ClosedRun,
    ClosedRunsBatch,
    FindClosedRunsInput,
    FinishClosedRunResult,
)
from agent_runtime_core.temporal.retention import (
    PLAN_RETENTION,
    PURGE_EXPIRED,
    PlanRetentionInput,
    PurgeBatchInput,
    PurgeBatchResult,
    RetentionPlan,
)

__all__ = [
    "ACQUIRE_THREAD_TURN",
    "CLOSE_HUMAN_WAIT",
    "FINISH_RUN",
    "FINISH_THREAD_RUN",
    "HUMAN_DECISION_NOT_RECORDED",
    "MARK_RUN_STARTED",
    "OPEN_HUMAN_REQUESTS",
    "RECORD_BUDGET_WAIT",
    "RESOLVE_HUMAN_REQUEST",
    "SUMMARIZE_THREAD",
    "BudgetWaitInput",
    "CloseHumanWaitInput",
    "FinishRunInput",
    "HumanRequestActivityContract",
    "HumanRequestSpec",
    "OpenHumanRequestsInput",
    "ResolveHumanRequestInput",
    "RunActivityContract",
    "RunRef",
    "RunUsageTotals",
    "SummarizeThreadInput",
    "ThreadActivityContract",
    "ThreadRunFinished",
    "ThreadSummarized",
    "ThreadTurn",
    "ThreadTurnInput",
]


class RunActivityContract:
    """The run lifecycle activities as the workflow sees them (implemented by ``RunActivities``)."""

    @activity.defn(name=MARK_RUN_STARTED)
    async def mark_run_started(self, ref: RunRef) -> bool:
        """``queued → running``; ``False`` when the run already finished."""
        raise NotImplementedError

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, result: FinishRunInput) -> str:
        """Write the terminal status; returns the status the run has afterwards."""
        raise NotImplementedError

    @activity.defn(name=RECORD_BUDGET_WAIT)
    async def record_budget_wait(self, wait: BudgetWaitInput) -> str:
        """``running ↔ waiting`` for a budget reset; returns the run's status afterwards."""
        raise NotImplementedError


class HumanRequestActivityContract:
    """The human-request activities as the workflow sees them (``HumanRequestActivities``)."""

    @activity.defn(name=OPEN_HUMAN_REQUESTS)
    async def open_human_requests(self, data: OpenHumanRequestsInput) -> int:
        """Write the requests; the run becomes ``waiting``. Returns the events written."""
        raise NotImplementedError

    @activity.defn(name=RESOLVE_HUMAN_REQUEST)
    async def resolve_human_request(self, data: ResolveHumanRequestInput) -> int:
        """Record a human's decision or answer. Returns the events written."""
        raise NotImplementedError

    @activity.defn(name=CLOSE_HUMAN_WAIT)
    async def close_human_wait(self, data: CloseHumanWaitInput) -> int:
        """Expire or cancel what is still pending; optionally resume. Returns the events written."""
        raise NotImplementedError


class ThreadActivityContract:
    """Turn-taking on threads, as the workflow sees it (implemented by ``ThreadActivities``)."""

    @activity.defn(name=ACQUIRE_THREAD_TURN)
    async def acquire_thread_turn(self, data: ThreadTurnInput) -> ThreadTurn:
        """Whether the run has its thread's turn (then with the thread's earlier messages)."""
        raise NotImplementedError

    @activity.defn(name=FINISH_THREAD_RUN)
    async def finish_thread_run(self, result: FinishRunInput) -> ThreadRunFinished:
        """``finish_run`` for a thread run: also appends its turn (succeeded runs) and hands the
        thread to the next queued run, in the same transaction; returns that run."""
        raise NotImplementedError

    @activity.defn(name=SUMMARIZE_THREAD)
    async def summarize_thread(self, data: SummarizeThreadInput) -> ThreadSummarized:
        """Summarize the thread's turns up to ``data.through_seq`` with the model and store the
        summary (once per thread and seq), with a ``thread.summarized`` event of the run. A regular
        activity (a model request), not a local one."""
        raise NotImplementedError


class RetentionActivityContract:
    """The retention cleanup's activities (implemented by ``RetentionActivities``)."""

    @activity.defn(name=PLAN_RETENTION)
    async def plan_retention(self, data: PlanRetentionInput) -> RetentionPlan:
        """Every tenant's effective retention periods, the batch size and the upload grace."""
        raise NotImplementedError

    @activity.defn(name=PURGE_EXPIRED)
    async def purge_expired(self, batch: PurgeBatchInput) -> PurgeBatchResult:
        """Delete one batch of one tenant's expired rows of one kind (and their objects)."""
        raise NotImplementedError


class ReconcileActivityContract:
    """The run reconciliation's activities (implemented by ``ReconcileActivities``)."""

    @activity.defn(name=FIND_CLOSED_RUNS)
    async def find_closed_runs(self, data: FindClosedRunsInput) -> ClosedRunsBatch:
        """One batch of active runs old enough, oldest first, and those whose workflow is closed."""
        raise NotImplementedError

    @activity.defn(name=FINISH_CLOSED_RUN)
    async def finish_closed_run(self, data: ClosedRun) -> FinishClosedRunResult:
        """Finish a run whose workflow closed without doing so (and hand its thread's turn on)."""
        raise NotImplementedError
