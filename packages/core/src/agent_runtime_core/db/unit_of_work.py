"""An explicit unit of work, for services that must commit before they call another system."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.db.session import Database, session_scope


class UnitOfWork:
    """Opens the transactions of one tenant, each committed when its block succeeds.

    Most services take the request's session (one transaction per request, committed when the
    route returns). Services that talk to Temporal cannot: a run's row must be committed before its
    workflow starts (the worker reads it), and no transaction should stay open while the API waits
    on a workflow update. They get a ``UnitOfWork`` and open short transactions themselves.
    """

    def __init__(self, database: Database, tenant_id: str) -> None:
        self.database = database
        self.tenant_id = tenant_id

    @asynccontextmanager
    async def begin(self) -> AsyncGenerator[AsyncSession]:
        """One transaction as the tenant (row-level security applies): committed if the block
        succeeds, rolled back if it raises."""
        async with session_scope(self.database, self.tenant_id) as session:
            yield session
