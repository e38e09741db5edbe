"""Queries on approvals and questions (human requests)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlmodel import col, select

from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus, Run
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

    async def list_for_tenant(
        self,
        kind: HumanRequestKind,
        *,
        limit: int,
        before_id: str | None = None,
        statuses: Collection[HumanRequestStatus] = (),
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Sequence[tuple[HumanRequest, str]]:
        """Requests of one kind across the tenant's runs, newest first, each with its run's agent.

        Pending ones are served by ``ix_human_requests_tenant_kind_status``, the others by
        ``ix_human_requests_tenant_kind``; the join reaches each run by its primary key.
        """
        statement = (
            select(HumanRequest, Run.agent_id)
            .join(Run, col(Run.id) == col(HumanRequest.run_id))
            .where(
                HumanRequest.tenant_id == self.tenant_id,
                Run.tenant_id == self.tenant_id,
                HumanRequest.kind == kind,
            )
        )
        if statuses:
            statement = statement.where(col(HumanRequest.status).in_(list(statuses)))
        if agent_id is not None:
            statement = statement.where(Run.agent_id == agent_id)
        if run_id is not None:
            statement = statement.where(HumanRequest.run_id == run_id)
        if before_id is not None:
            statement = statement.where(col(HumanRequest.id) < before_id)
        statement = statement.order_by(col(HumanRequest.id).desc()).limit(limit)
        return [(request, agent) for request, agent in (await self.session.exec(statement)).all()]

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
