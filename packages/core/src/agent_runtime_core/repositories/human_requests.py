"""Queries on approvals and questions (human requests)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus


class HumanRequestRepository:
    """Human requests of the runs of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self, run_id: str, request_id: str, *, for_update: bool = False) -> HumanRequest | None:
        """Return one request of ``run_id``, or ``None``."""
        statement = select(HumanRequest).where(
            HumanRequest.tenant_id == self.tenant_id,
            HumanRequest.run_id == run_id,
            HumanRequest.id == request_id,
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.exec(statement)).first()

    async def list(
        self,
        run_id: str,
        kind: HumanRequestKind,
        *,
        limit: int = 100,
        after_id: str | None = None,
        status: HumanRequestStatus | None = None,
    ) -> Sequence[HumanRequest]:
        """Requests of ``run_id`` of one kind, oldest first."""
        statement = select(HumanRequest).where(
            HumanRequest.tenant_id == self.tenant_id,
            HumanRequest.run_id == run_id,
            HumanRequest.kind == kind,
        )
        if status is not None:
            statement = statement.where(HumanRequest.status == status)
        if after_id is not None:
            statement = statement.where(col(HumanRequest.id) > after_id)
        statement = statement.order_by(col(HumanRequest.id)).limit(limit)
        return (await self.session.exec(statement)).all()

    async def get_by_ids(self, run_id: str, request_ids: Sequence[str]) -> Sequence[HumanRequest]:
        """The requests of ``run_id`` with these ids (locked for update)."""
        statement = (
            select(HumanRequest)
            .where(
                HumanRequest.tenant_id == self.tenant_id,
                HumanRequest.run_id == run_id,
                col(HumanRequest.id).in_(list(request_ids)),
            )
            .order_by(col(HumanRequest.id))
            .with_for_update()
        )
        return (await self.session.exec(statement)).all()
