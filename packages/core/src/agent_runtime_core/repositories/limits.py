"""Per-tenant limits (``tenant_limits``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.models import TenantLimits
from agent_runtime_core.models.base import utcnow


class TenantLimitsRepository:
    """The limits row of one tenant. Tenants read their own row; operators write any tenant's
    (through ``system_session_scope``, as row-level security confines a tenant session)."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self) -> TenantLimits | None:
        """This tenant's row, or ``None`` (every limit is the deployment default)."""
        return await self.session.get(TenantLimits, self.tenant_id, populate_existing=True)

    async def put(self, values: dict[str, Any], *, updated_by: str) -> TenantLimits:
        """Replace this tenant's limits with ``values`` (every field; ``None``: the default)."""
        row = {**values, "tenant_id": self.tenant_id, "updated_at": utcnow(), "updated_by": updated_by}
        statement = insert(TenantLimits).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={key: statement.excluded[key] for key in row if key != "tenant_id"},
        )
        connection = await self.session.connection()
        await connection.execute(statement)
        limits = await self.get()
        assert limits is not None
        return limits

    async def delete(self) -> bool:
        """Back to the deployment defaults; ``False`` if nothing was set."""
        limits = await self.get()
        if limits is None:
            return False
        await self.session.delete(limits)
        await self.session.flush()
        return True
