"""The retention cleanup's activities: the plan, and one batch of deletions per call.

Each batch works in the tenant's own session (row-level security confines it to that tenant)
and is safe to run twice: runs and threads go in one transaction each batch; artifacts are marked
deleted, their objects deleted, then their rows (see ``agent_runtime_core.repositories.retention``).
"""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.models import TenantRetention
from agent_runtime_core.repositories.retention import (
    RetentionRepository,
    TenantRetentionRepository,
    retention_tenant_ids,
)
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage
from agent_runtime_core.temporal.retention import (
    PLAN_RETENTION,
    PURGE_EXPIRED,
    PlanRetentionInput,
    PurgeBatchInput,
    PurgeBatchResult,
    RetentionPlan,
    TenantRetentionPlan,
)
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.contracts import RetentionActivityContract

logger = logging.getLogger(__name__)


def effective_plan(settings: Settings, tenant_id: str, row: TenantRetention | None) -> TenantRetentionPlan:
    """A tenant's periods: its own where set, the deployment's defaults elsewhere."""

    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    return TenantRetentionPlan(
        tenant_id=tenant_id,
        runs_days=pick(row.runs_days if row else None, settings.retention_runs_days),
        threads_days=pick(row.threads_days if row else None, settings.retention_threads_days),
        artifacts_days=pick(row.artifacts_days if row else None, settings.retention_artifacts_days),
    )


class RetentionActivities(RetentionActivityContract):
    """Implements :class:`~agent_runtime_worker.contracts.RetentionActivityContract`."""

    def __init__(self, settings: Settings, database: Database, storage: ObjectStorage | None) -> None:
        self.settings = settings
        self.database = database
        self.storage = storage

    @activity.defn(name=PLAN_RETENTION)
    @classify_database_errors
    async def plan_retention(self, data: PlanRetentionInput) -> RetentionPlan:
        """Every tenant with data, and its effective periods (a system read across tenants)."""
        del data
        async with system_session_scope(self.database) as session:
            tenant_ids = await retention_tenant_ids(session)
            tenants = [
                effective_plan(
                    self.settings, tenant_id, await TenantRetentionRepository(session, tenant_id).get()
                )
                for tenant_id in tenant_ids
            ]
        return RetentionPlan(
            tenants=tenants,
            batch_size=self.settings.retention_batch_size,
            pending_upload_hours=self.settings.retention_pending_upload_hours,
        )

    @activity.defn(name=PURGE_EXPIRED)
    @classify_database_errors
    async def purge_expired(self, batch: PurgeBatchInput) -> PurgeBatchResult:
        """Delete one batch of ``batch.tenant_id``'s expired ``batch.kind``."""
        if batch.kind == "artifacts":
            return await self._purge_artifacts(batch)
        async with session_scope(self.database, batch.tenant_id) as session:
            repository = RetentionRepository(session, batch.tenant_id)
            if batch.cutoff is None:
                deleted = 0
            elif batch.kind == "runs":
                deleted = await repository.delete_expired_runs(batch.cutoff, limit=batch.limit)
            else:
                deleted = await repository.delete_expired_threads(batch.cutoff, limit=batch.limit)
        if deleted:
            logger.info("retention deleted %d %s of tenant %s", deleted, batch.kind, batch.tenant_id)
        return PurgeBatchResult(deleted=deleted, examined=deleted)

    async def _purge_artifacts(self, batch: PurgeBatchInput) -> PurgeBatchResult:
        if self.storage is None or batch.pending_cutoff is None:
            return PurgeBatchResult()  # no object storage configured: no artifact can exist
        # 1. Marked deleted (committed): from here the API no longer serves them.
        async with session_scope(self.database, batch.tenant_id) as session:
            expired = await RetentionRepository(session, batch.tenant_id).mark_expired_artifacts(
                batch.cutoff, batch.pending_cutoff, limit=batch.limit
            )
        if not expired:
            return PurgeBatchResult()
        # 2. Objects (deleting a missing one is no error: a repeated batch passes).
        storage = self.storage
        await asyncio.gather(*(storage.delete(item.object_key) for item in expired))
        activity.heartbeat()
        # 3. Rows: only now, so a crash before leaves rows that the next call finds again.
        async with session_scope(self.database, batch.tenant_id) as session:
            deleted = await RetentionRepository(session, batch.tenant_id).delete_marked_artifacts(
                [item.artifact_id for item in expired]
            )
        logger.info("retention deleted %d artifacts of tenant %s", deleted, batch.tenant_id)
        return PurgeBatchResult(deleted=deleted, examined=len(expired))
