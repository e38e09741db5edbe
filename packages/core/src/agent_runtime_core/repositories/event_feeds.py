"""Reads behind the live event streams: a run's events by ``seq``, a tenant's events by time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import tuple_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import Run, RunEvent


class FeedPosition(NamedTuple):
    """A point in a tenant's events, ordered by ``(at, run_id, seq)``."""

    at: datetime
    run_id: str = ""
    seq: int = 0


class RunEventFeedRepository:
    """Events of one tenant, read the way streams need them."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self, run_id: str, seq: int) -> RunEvent | None:
        """Event ``seq`` of run ``run_id``, or ``None`` (also for another tenant's run)."""
        statement = select(RunEvent).where(
            RunEvent.tenant_id == self.tenant_id, RunEvent.run_id == run_id, RunEvent.seq == seq
        )
        return (await self.session.exec(statement)).first()

    async def list_for_run(
        self,
        run_id: str,
        *,
        after_seq: int,
        before_seq: int | None = None,
        since: datetime | None = None,
        limit: int,
    ) -> Sequence[RunEvent]:
        """Events of ``run_id`` with ``after_seq < seq < before_seq`` and ``at > since``, in order."""
        statement = select(RunEvent).where(
            RunEvent.tenant_id == self.tenant_id,
            RunEvent.run_id == run_id,
            col(RunEvent.seq) > after_seq,
        )
        if before_seq is not None:
            statement = statement.where(col(RunEvent.seq) < before_seq)
        if since is not None:
            statement = statement.where(col(RunEvent.at) > since)
        statement = statement.order_by(col(RunEvent.seq)).limit(limit)
        return (await self.session.exec(statement)).all()

    async def list_after(
        self,
        position: FeedPosition,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        limit: int,
    ) -> Sequence[RunEvent]:
        """The tenant's events after ``position`` in ``(at, run_id, seq)`` order, optionally of
        one run or of one agent's runs."""
        statement = select(RunEvent).where(
            RunEvent.tenant_id == self.tenant_id,
            tuple_(col(RunEvent.at), col(RunEvent.run_id), col(RunEvent.seq)) > tuple_(*position),
        )
        if run_id is not None:
            statement = statement.where(RunEvent.run_id == run_id)
        if agent_id is not None:
            statement = statement.join(Run, col(Run.id) == col(RunEvent.run_id)).where(
                Run.tenant_id == self.tenant_id, Run.agent_id == agent_id
            )
        statement = statement.order_by(col(RunEvent.at), col(RunEvent.run_id), col(RunEvent.seq)).limit(limit)
        return (await self.session.exec(statement)).all()

    async def agent_ids(self, run_ids: Collection[str]) -> dict[str, str]:
        """``{run_id: agent_id}`` for those of ``run_ids`` that are this tenant's runs."""
        if not run_ids:
            return {}
        statement = select(Run.id, Run.agent_id).where(
            Run.tenant_id == self.tenant_id, col(Run.id).in_(list(run_ids))
        )
        return {run_id: agent_id for run_id, agent_id in (await self.session.exec(statement)).all()}
