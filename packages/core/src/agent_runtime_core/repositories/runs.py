"""Queries on runs and run events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import Run, RunEvent, RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.models.run import ACTIVE_STATUSES

RUN_CREATION_LOCK_CLASS = 7_343_002
"""First key of the per-tenant advisory lock around run creation (the second: hash of the tenant)."""


async def count_active_runs_by_status(session: AsyncSession) -> dict[str, int]:
    """Unfinished runs of ALL tenants by status, for operators' metrics (never shown to a tenant).

    One grouped query over the partial index ``ix_runs_active_status``: its size is the number
    of unfinished runs, not of all runs ever.
    """
    statement = (
        select(Run.status, func.count())
        .where(col(Run.status).in_([status.value for status in ACTIVE_STATUSES]))
        .group_by(Run.status)
    )
    rows = (await session.exec(statement)).all()
    return {RunStatus(status).value: int(count) for status, count in rows}


class RunRepository:
    """Runs of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self, run_id: str, *, for_update: bool = False) -> Run | None:
        """Return run ``run_id`` of this tenant, or ``None``."""
        statement = select(Run).where(Run.id == run_id, Run.tenant_id == self.tenant_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def get_by_idempotency_key(self, key: str) -> Run | None:
        """Return the run created with ``Idempotency-Key: key``, or ``None``."""
        statement = select(Run).where(Run.tenant_id == self.tenant_id, Run.idempotency_key == key)
        return (await self.session.exec(statement)).first()

    async def list(
        self,
        *,
        limit: int,
        before_id: str | None = None,
        agent_id: str | None = None,
        statuses: Sequence[RunStatus] = (),
    ) -> Sequence[Run]:
        """Return up to ``limit`` runs, newest first, optionally filtered."""
        statement = select(Run).where(Run.tenant_id == self.tenant_id)
        if agent_id is not None:
            statement = statement.where(Run.agent_id == agent_id)
        if statuses:
            statement = statement.where(col(Run.status).in_(list(statuses)))
        if before_id is not None:
            statement = statement.where(col(Run.id) < before_id)
        statement = statement.order_by(col(Run.id).desc()).limit(limit)
        return (await self.session.exec(statement)).all()

    async def count_active_for_agent(self, agent_id: str) -> int:
        """Number of runs of ``agent_id`` that have not reached a terminal status."""
        statement = (
            select(func.count())
            .select_from(Run)
            .where(
                Run.tenant_id == self.tenant_id,
                Run.agent_id == agent_id,
                col(Run.status).in_(list(ACTIVE_STATUSES)),
            )
        )
        return (await self.session.exec(statement)).one()

    async def count_active(self) -> int:
        """Number of this tenant's runs that are queued, running or waiting."""
        statement = (
            select(func.count())
            .select_from(Run)
            .where(Run.tenant_id == self.tenant_id, col(Run.status).in_(list(ACTIVE_STATUSES)))
        )
        return (await self.session.exec(statement)).one()

    async def lock_tenant_run_creation(self) -> None:
        """Serialize run creation of this tenant until the transaction ends (advisory lock)."""
        await self.session.exec(
            select(func.pg_advisory_xact_lock(RUN_CREATION_LOCK_CLASS, func.hashtext(self.tenant_id)))
        )

    async def add(self, run: Run) -> Run:
        """Insert ``run`` (flushed, so constraint violations surface here)."""
        self.session.add(run)
        await self.session.flush()
        return run


class RunEventRepository:
    """Events of the runs of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def append(
        self,
        run: Run,
        event_type: str,
        data: dict[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
    ) -> RunEvent | None:
        """Append an event with the run's next ``seq``; return ``None`` if it was written before.

        The caller must hold the run's row lock (``RunRepository.get(..., for_update=True)``)
        so that ``seq`` stays gap-free and ordered under concurrent writers. ``dedupe_key``
        (default: the event type) makes the write idempotent: retried activities write once.
        """
        key = dedupe_key or event_type
        existing = await self.session.exec(
            select(RunEvent.seq).where(RunEvent.run_id == run.id, RunEvent.dedupe_key == key)
        )
        if existing.first() is not None:
            return None
        run.last_event_seq += 1
        event = RunEvent(
            run_id=run.id,
            seq=run.last_event_seq,
            tenant_id=self.tenant_id,
            type=event_type,
            at=utcnow(),
            data=data or {},
            dedupe_key=key,
        )
        self.session.add(run)
        self.session.add(event)
        await self.session.flush()
        return event

    async def append_many(
        self, run: Run, events: Sequence[tuple[str, dict[str, Any], str]]
    ) -> list[RunEvent]:
        """Append ``(event_type, data, dedupe_key)`` events in order, in one round of statements;
        return those written now (keys written before, or repeated in ``events``, are skipped).

        Same contract as :meth:`append`: the caller holds the run's row lock.
        """
        keys = [key for _, _, key in events]
        if not keys:
            return []
        existing = await self.session.exec(
            select(RunEvent.dedupe_key).where(RunEvent.run_id == run.id, col(RunEvent.dedupe_key).in_(keys))
        )
        seen = set(existing.all())
        written: list[RunEvent] = []
        for event_type, data, key in events:
            if key in seen:
                continue
            seen.add(key)
            run.last_event_seq += 1
            written.append(
                RunEvent(
                    run_id=run.id,
                    seq=run.last_event_seq,
                    tenant_id=self.tenant_id,
                    type=event_type,
                    at=utcnow(),
                    data=data,
                    dedupe_key=key,
                )
            )
        if written:
            self.session.add(run)
            self.session.add_all(written)
            await self.session.flush()
        return written

    async def list(self, run_id: str, *, after_seq: int = 0, limit: int = 100) -> Sequence[RunEvent]:
        """Return up to ``limit`` events of ``run_id`` with ``seq > after_seq``, in order."""
        statement = (
            select(RunEvent)
            .where(
                RunEvent.tenant_id == self.tenant_id,
                RunEvent.run_id == run_id,
                col(RunEvent.seq) > after_seq,
            )
            .order_by(col(RunEvent.seq))
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()
