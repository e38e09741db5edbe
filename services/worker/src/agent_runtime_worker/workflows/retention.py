"""``RetentionWorkflow``: the daily cleanup of what outlived its tenant's retention periods.

Deterministic: the plan (every tenant's periods) comes from an activity, the cutoffs are counted
back from ``workflow.now()`` of the first run, and every deletion is an activity safe to run twice
(see ``agent_runtime_core.repositories.retention``). Long cleanups continue as new between
tenants, carrying the plan, the start time and the totals.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from agent_runtime_core.temporal.retention import (
        RETENTION_WORKFLOW,
        PlanRetentionInput,
        PurgeBatchInput,
        RetentionInput,
        RetentionKind,
        RetentionResult,
        TenantRetentionPlan,
    )
    from agent_runtime_worker.contracts import RetentionActivityContract

RETENTION_ACTIVITY_TIMEOUT = timedelta(minutes=5)
RETENTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=10,
)
"""A batch still failing after ~6 minutes of retries is left for tomorrow; the others go on."""
KINDS: tuple[RetentionKind, ...] = ("runs", "threads", "artifacts")


def _cutoff(now: datetime, days: int) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def _days(tenant: TenantRetentionPlan, kind: RetentionKind) -> int:
    if kind == "runs":
        return tenant.runs_days
    if kind == "threads":
        return tenant.threads_days
    return tenant.artifacts_days


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionWorkflow:
    """Deletes, tenant by tenant and batch by batch, the runs, threads and artifacts that expired."""

    @workflow.run
    async def run(self, data: RetentionInput) -> RetentionResult:
        """Clean up every tenant once; the totals deleted per kind."""
        now = data.now or workflow.now()
        plan = data.plan or await workflow.execute_activity_method(
            RetentionActivityContract.plan_retention,
            PlanRetentionInput(),
            start_to_close_timeout=RETENTION_ACTIVITY_TIMEOUT,
            retry_policy=RETENTION_RETRY,
        )
        deleted = dict(data.deleted)
        failed = list(data.failed)
        pending_cutoff = now - timedelta(hours=plan.pending_upload_hours)
        for index in range(data.next_tenant, len(plan.tenants)):
            tenant = plan.tenants[index]
            for kind in KINDS:
                cutoff = _cutoff(now, _days(tenant, kind))
                if cutoff is None and kind != "artifacts":
                    continue  # kept forever (abandoned uploads expire whatever the period)
                batch = PurgeBatchInput(
                    tenant_id=tenant.tenant_id,
                    kind=kind,
                    cutoff=cutoff,
                    pending_cutoff=pending_cutoff if kind == "artifacts" else None,
                    limit=plan.batch_size,
                )
                try:
                    deleted[kind] = deleted.get(kind, 0) + await self._purge(batch)
                except ActivityError:
                    # One tenant's failing storage or rows must not stop the others' cleanup.
                    workflow.logger.exception("retention of %s of %s failed", kind, tenant.tenant_id)
                    failed.append(f"{tenant.tenant_id}/{kind}")
            if index + 1 < len(plan.tenants) and workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    RetentionInput(plan=plan, now=now, next_tenant=index + 1, deleted=deleted, failed=failed)
                )
        return RetentionResult(tenants=len(plan.tenants), deleted=deleted, failed=failed)

    async def _purge(self, batch: PurgeBatchInput) -> int:
        """Batches of one tenant's kind until one comes back short; the rows deleted."""
        deleted = 0
        while True:
            result = await workflow.execute_activity_method(
                RetentionActivityContract.purge_expired,
                batch,
                start_to_close_timeout=RETENTION_ACTIVITY_TIMEOUT,
                retry_policy=RETENTION_RETRY,
            )
            deleted += result.deleted
            if result.examined < batch.limit:
                return deleted
