"""Queries on approvals and questions (human requests)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus
from agent_runtime_core.repositories.base import TenantRepository


class HumanRequestRepository(TenantRepository[HumanRequest]):
    """Human requests of the runs of one tenant."""

    model = HumanRequest

    async def get(self, run_id: str, request_id: str, *, for_update: bool = False) -> HumanRequest | None:
        """Return one request of ``run_id``, or ``None``."""
        statement = self.scoped().where(HumanRequest.run_id == run_id, HumanRequest.id == request_id)
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
        statement = self.scoped().where(HumanRequest.run_id == run_id, HumanRequest.kind == kind)
        if status is not None:
            statement = statement.where(HumanRequest.status == status)
        return await self.page(statement, limit=limit, cursor_id=after_id, order="oldest_first")

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
