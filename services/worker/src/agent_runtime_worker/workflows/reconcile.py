"""``RunReconcileWorkflow``: the periodic finishing of runs whose workflow closed without it.

Deterministic: which runs are active and old enough, and whether their workflow is closed, come
from an activity; finishing each is an activity safe to run twice. Runs are looked through in id
order (oldest first), batch by batch; a long reconciliation continues as new between batches,
carrying where it was and the totals.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from agent_runtime_core.temporal.reconcile import (
        RECONCILE_WORKFLOW,
        FindClosedRunsInput,
        ReconcileInput,
        ReconcileResult,
    )
    from agent_runtime_worker.contracts import ReconcileActivityContract

RECONCILE_ACTIVITY_TIMEOUT = timedelta(minutes=2)
RECONCILE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)
"""A run still failing after a few retries is left for the next reconciliation."""


def _add(totals: dict[str, int], key: str, count: int = 1) -> None:
    if count:
        totals[key] = totals.get(key, 0) + count


@workflow.defn(name=RECONCILE_WORKFLOW)
class RunReconcileWorkflow:
    """Finishes, batch by batch, the active runs whose workflow is closed."""

    @workflow.run
    async def run(self, data: ReconcileInput) -> ReconcileResult:
        """Look through every active run once; the totals per outcome."""
        totals = dict(data.totals)
        after = data.after_run_id
        while True:
            batch = await workflow.execute_activity_method(
                ReconcileActivityContract.find_closed_runs,
                FindClosedRunsInput(
                    min_age_s=data.min_age_s,
                    limit=data.batch_size,
                    tenant_ids=data.tenant_ids,
                    after_run_id=after,
                ),
                start_to_close_timeout=RECONCILE_ACTIVITY_TIMEOUT,
                retry_policy=RECONCILE_RETRY,
            )
            _add(totals, "examined", batch.examined)
            _add(totals, "running", batch.running)
            _add(totals, "not_found", batch.not_found)
            for closed in batch.closed:
                try:
                    finished = await workflow.execute_activity_method(
                        ReconcileActivityContract.finish_closed_run,
                        closed,
                        start_to_close_timeout=RECONCILE_ACTIVITY_TIMEOUT,
                        retry_policy=RECONCILE_RETRY,
                    )
                except ActivityError:
                    # One run's failing rows must not stop the others' reconciliation.
                    workflow.logger.exception("reconciling run %s failed", closed.run_id)
                    _add(totals, "errors")
                    continue
                _add(
                    totals,
                    finished.error_code if finished.finished and finished.error_code else "already_finished",
                )
            if batch.last_run_id is None or batch.examined < batch.limit:
                return ReconcileResult(totals=totals)
            after = batch.last_run_id
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    ReconcileInput(
                        min_age_s=data.min_age_s,
                        batch_size=data.batch_size,
                        tenant_ids=data.tenant_ids,
                        after_run_id=after,
                        totals=totals,
                    )
                )
