"""Contracts of the run reconciliation: the workflow, its activities and its schedule.

A run's row reaches a terminal status only when its workflow finishes it. A workflow that closes
without doing so (terminated by an operator, stopped by its execution timeout, failed) leaves the
row active forever; the reconciliation finds such runs and finishes them.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from pydantic import Field

from agent_runtime_core.temporal.contracts import DurableModel

RECONCILE_WORKFLOW: Final = "RunReconcileWorkflow"
RECONCILE_WORKFLOW_ID: Final = "agent-runtime-reconcile"
"""The workflow id of the scheduled reconciliations (Temporal appends the scheduled time)."""

FIND_CLOSED_RUNS: Final = "find_closed_runs"
FINISH_CLOSED_RUN: Final = "finish_closed_run"


class ClosedOutcome(NamedTuple):
    """What a closed workflow makes of its run."""

    status: str
    """The run's terminal status."""
    error_code: str
    error_message: str


_ENDED_WITHOUT_RESULT = ClosedOutcome(
    "failed", "workflow_ended_without_result", "The run's workflow ended without finishing the run."
)

CLOSED_WORKFLOW_OUTCOMES: Final[dict[str, ClosedOutcome]] = {
    "terminated": ClosedOutcome(
        "cancelled", "workflow_terminated", "The run's workflow was terminated before it finished the run."
    ),
    "timed_out": ClosedOutcome(
        "timed_out",
        "workflow_timed_out",
        "The run's workflow reached its execution timeout before it finished the run.",
    ),
    "failed": ClosedOutcome(
        "failed", "workflow_failed", "The run's workflow failed before it finished the run."
    ),
    "canceled": ClosedOutcome(
        "cancelled", "workflow_cancelled", "The run's workflow was cancelled before it finished the run."
    ),
    "completed": _ENDED_WITHOUT_RESULT,
    "continued_as_new": _ENDED_WITHOUT_RESULT,
}
"""How a closed workflow (its ``WorkflowExecutionStatus``, lower case) leaves its run: the run's
terminal status, error code and message."""


class ReconcileInput(DurableModel):
    """Input of ``RunReconcileWorkflow``; a scheduled start gives none of the fields (the
    settings' then apply). The others carry a reconciliation across ``continue_as_new``."""

    min_age_s: int | None = None
    """Only runs created longer ago than this (``None``: the ``reconcile_min_age_s`` setting)."""
    batch_size: int | None = None
    """Runs examined per batch (``None``: the ``reconcile_batch_size`` setting)."""
    tenant_ids: list[str] | None = None
    """Only these tenants' runs (``None``: every tenant's; an operator reconciling one tenant)."""
    after_run_id: str | None = None
    """Continue after this run (runs are examined in id order: oldest first)."""
    totals: dict[str, int] = Field(default_factory=dict[str, int])


class ReconcileResult(DurableModel):
    """What a reconciliation did, per outcome: ``examined`` (active runs old enough), ``running``
    (workflow still running: left alone), ``not_found`` (no workflow: left alone), and one count
    per error code of the runs finished (``workflow_terminated``, ...), plus ``already_finished``."""

    totals: dict[str, int] = Field(default_factory=dict[str, int])


class FindClosedRunsInput(DurableModel):
    """One batch of active runs, oldest first, after ``after_run_id``."""

    min_age_s: int | None = None
    limit: int | None = None
    tenant_ids: list[str] | None = None
    after_run_id: str | None = None


class ClosedRun(DurableModel):
    """An active run whose workflow is closed."""

    run_id: str
    tenant_id: str
    workflow_status: str
    """The workflow's ``WorkflowExecutionStatus`` in lower case (``terminated``, ...)."""


class ClosedRunsBatch(DurableModel):
    """Result of ``find_closed_runs``."""

    closed: list[ClosedRun] = Field(default_factory=list[ClosedRun])
    examined: int = 0
    running: int = 0
    not_found: int = 0
    limit: int = 0
    """The batch size used (fewer examined: no more runs)."""
    last_run_id: str | None = None
    """The last run examined (the next batch starts after it)."""


class FinishClosedRunResult(DurableModel):
    """Result of ``finish_closed_run``."""

    status: str
    """The status the run has afterwards."""
    finished: bool = False
    """Whether this call finished it (``False``: it already was)."""
    error_code: str | None = None
    """The error code it was finished with (``workflow_terminated``, ...)."""
    next_run_id: str | None = None
    """The run of the same thread that has the turn now (signalled)."""
