"""Retention: each tenant's retention periods (``tenant_retention``) and the deletion of what
outlived them, a batch at a time, in the tenant's own session (row-level security applies).

What expires (the cutoffs are computed by the caller from the effective periods):

* runs in a terminal status that finished before the cutoff, with their events and human
  requests (approvals, questions) — in one transaction, so a batch is deleted whole or not at all;
* threads last changed before the cutoff that nobody has the turn of, none queued for and no
  unfinished run names, with their messages and summaries; runs kept longer than their thread
  are detached from it (``thread_id`` set to null) in the same transaction;
* artifacts created before the cutoff, and pending uploads whose URL expired before the pending
  cutoff. Their objects are in object storage, outside any transaction: a batch is first marked
  deleted (invisible to the API from then on), then its objects are deleted, then its rows. Each
  step is safe to repeat, and a batch that stopped half-way still matches the expiry condition,
  so the next call finishes it.

Never touched: the audit log, the usage ledger (``model_requests``, ``usage_counters``: billing),
store items (they expire by their own ``ttl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, union, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql.expression import Executable
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.cache import THREAD, invalidate_after_commit
from agent_runtime_core.lifecycle import TERMINAL_STATUSES
from agent_runtime_core.models import (
    Artifact,
    ArtifactStatus,
    HumanRequest,
    Run,
    RunEvent,
    TenantRetention,
    Thread,
    ThreadMessage,
    ThreadSummary,
)
from agent_runtime_core.models.base import utcnow

__all__ = ["ExpiredObject", "RetentionRepository", "TenantRetentionRepository", "retention_tenant_ids"]


class TenantRetentionRepository:
    """The retention row of one tenant. Tenants read their own row; operators write any tenant's
    (through ``system_session_scope``, as row-level security confines a tenant session)."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self) -> TenantRetention | None:
        """This tenant's row, or ``None`` (every period is the deployment default)."""
        return await self.session.get(TenantRetention, self.tenant_id, populate_existing=True)

    async def put(self, values: dict[str, Any], *, updated_by: str) -> TenantRetention:
        """Replace this tenant's periods with ``values`` (every field; ``None``: the default)."""
        row = {**values, "tenant_id": self.tenant_id, "updated_at": utcnow(), "updated_by": updated_by}
        statement = insert(TenantRetention).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={key: statement.excluded[key] for key in row if key != "tenant_id"},
        )
        connection = await self.session.connection()
        await connection.execute(statement)
        retention = await self.get()
        assert retention is not None
        return retention

    async def delete(self) -> bool:
        """Back to the deployment defaults; ``False`` if nothing was set."""
        retention = await self.get()
        if retention is None:
            return False
        await self.session.delete(retention)
        await self.session.flush()
        return True


async def retention_tenant_ids(session: AsyncSession) -> list[str]:
    """Every tenant that has runs, threads or artifacts, or its own retention periods, in order.

    A system (cross-tenant) read: the cleanup then works on each tenant in its own session.
    """
    tenants = union(
        select(col(Run.tenant_id)),
        select(col(Thread.tenant_id)),
        select(col(Artifact.tenant_id)),
        select(col(TenantRetention.tenant_id)),
    ).subquery()
    connection = await session.connection()
    result = await connection.execute(select(tenants.c.tenant_id).order_by(tenants.c.tenant_id))
    return [str(tenant_id) for tenant_id in result.scalars()]


@dataclass(frozen=True)
class ExpiredObject:
    """An expired artifact marked deleted, whose object is to be deleted before its row."""

    artifact_id: str
    object_key: str


_TERMINAL = [status.value for status in TERMINAL_STATUSES]


class RetentionRepository:
    """Deletes one tenant's expired rows, ``limit`` at a time, oldest first. Rows another
    transaction holds locked are skipped (the next batch or the next day takes them)."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def _execute(self, statement: Executable) -> CursorResult[Any]:
        connection = await self.session.connection()
        return await connection.execute(statement)

    async def delete_expired_runs(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` runs that finished before ``cutoff``, with their events and
        human requests; the number deleted."""
        expired = (
            select(col(Run.id))
            .where(
                col(Run.tenant_id) == self.tenant_id,
                col(Run.status).in_(_TERMINAL),
                col(Run.finished_at) < cutoff,
            )
            .order_by(col(Run.finished_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        run_ids = list((await self._execute(expired)).scalars())
        if not run_ids:
            return 0
        await self._execute(delete(RunEvent).where(col(RunEvent.run_id).in_(run_ids)))
        await self._execute(delete(HumanRequest).where(col(HumanRequest.run_id).in_(run_ids)))
        await self._execute(delete(Run).where(col(Run.id).in_(run_ids)))
        return len(run_ids)

    async def delete_expired_threads(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to ``limit`` idle threads last changed before ``cutoff``, with their messages
        and summaries (runs of theirs still kept lose the link); the number deleted."""
        unfinished_run = exists().where(
            col(Run.thread_id) == col(Thread.id), col(Run.status).not_in(_TERMINAL)
        )
        expired = (
            select(col(Thread.id))
            .where(
                col(Thread.tenant_id) == self.tenant_id,
                col(Thread.updated_at) < cutoff,
                col(Thread.active_run_id).is_(None),
                func.jsonb_array_length(col(Thread.queued_run_ids)) == 0,
                ~unfinished_run,
            )
            .order_by(col(Thread.updated_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        thread_ids = list((await self._execute(expired)).scalars())
        if not thread_ids:
            return 0
        await self._execute(
            update(Run)
            .where(col(Run.tenant_id) == self.tenant_id, col(Run.thread_id).in_(thread_ids))
            .values(thread_id=None)
        )
        await self._execute(delete(ThreadMessage).where(col(ThreadMessage.thread_id).in_(thread_ids)))
        await self._execute(delete(ThreadSummary).where(col(ThreadSummary.thread_id).in_(thread_ids)))
        await self._execute(delete(Thread).where(col(Thread.id).in_(thread_ids)))
        invalidate_after_commit(self.session, THREAD, self.tenant_id, *thread_ids)
        return len(thread_ids)

    def _expired_artifacts(self, cutoff: datetime | None, pending_cutoff: datetime) -> Any:
        pending = and_(
            col(Artifact.status) == ArtifactStatus.PENDING,
            col(Artifact.upload_expires_at) < pending_cutoff,
        )
        condition = pending if cutoff is None else or_(col(Artifact.created_at) < cutoff, pending)
        return and_(col(Artifact.tenant_id) == self.tenant_id, condition)

    async def mark_expired_artifacts(
        self, cutoff: datetime | None, pending_cutoff: datetime, *, limit: int
    ) -> Sequence[ExpiredObject]:
        """Mark up to ``limit`` expired artifacts deleted (the API no longer shows them) and return
        them: artifacts created before ``cutoff`` (``None``: kept forever) and pending uploads
        whose URL expired before ``pending_cutoff``. Rows already marked by an earlier, interrupted
        call are returned again, so their objects and rows get deleted."""
        expired = (
            select(col(Artifact.id), col(Artifact.object_key))
            .where(self._expired_artifacts(cutoff, pending_cutoff))
            .order_by(col(Artifact.created_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = (await self._execute(expired)).all()
        if not rows:
            return []
        now = utcnow()
        await self._execute(
            update(Artifact)
            .where(col(Artifact.id).in_([row.id for row in rows]), col(Artifact.deleted_at).is_(None))
            .values(deleted_at=now, updated_at=now)
        )
        return [ExpiredObject(artifact_id=row.id, object_key=row.object_key) for row in rows]

    async def delete_marked_artifacts(self, artifact_ids: Sequence[str]) -> int:
        """Delete the rows of ``artifact_ids`` (marked deleted, objects gone); the number deleted."""
        if not artifact_ids:
            return 0
        result = await self._execute(
            delete(Artifact).where(
                col(Artifact.tenant_id) == self.tenant_id,
                col(Artifact.id).in_(list(artifact_ids)),
                col(Artifact.deleted_at).is_not(None),
            )
        )
        return result.rowcount
