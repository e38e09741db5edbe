"""Write run events from activities, idempotently, and publish them to live readers.

Every event is appended in Postgres under the run's row lock (gap-free ``seq``, ``dedupe_key``
idempotency: a retried activity writes each event once), committed, and only then published to
Redis (:class:`~agent_runtime_core.event_bus.EventBus`). Publishing never fails an activity:
Postgres is the record, and stream readers recover from it whatever Redis missed.

One :class:`RunEventWriter` per worker (built with the worker's dependencies, see
:mod:`agent_runtime_worker.dependencies`). Code that appends events inside a larger transaction
of its own calls :meth:`RunEventWriter.publish_committed` after that transaction commits::

    async with session_scope(database, tenant_id) as session:
        written = await RunEventRepository(session, tenant_id).append_to_run(run_id, specs)
    await events.publish_committed(written or [])  # after the commit; duplicates are not in it
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.lifecycle import EventSpec
from agent_runtime_core.models import RunEvent
from agent_runtime_core.repositories import RunEventRepository
from agent_runtime_worker.activities.tenancy import missing_run_error, run_exists_for_another_tenant


class RunEventWriter:
    """Appends run events in Postgres and publishes the committed ones to Redis."""

    def __init__(self, database: Database, bus: EventBus | None) -> None:
        """Write through ``database``; publish to ``bus`` (``None``: no Redis, nothing published).

        The bus connects on its first publish, so it belongs to the event loop the worker runs
        in (Redis connections cannot move between loops).
        """
        self.database = database
        self.bus = bus

    async def aclose(self) -> None:
        """Publish what is queued and close the bus (worker shutdown)."""
        if self.bus is not None:
            await self.bus.aclose()

    async def publish_committed(self, events: Iterable[RunEvent | None]) -> None:
        """Publish events whose transaction has committed to live readers (Redis streams).

        Call it right after the ``session_scope`` that appended the events has exited, with what
        ``RunEventRepository.append_to_run`` returned (duplicates are not in it; ``None`` items
        are skipped). Returns at once: a background task publishes (in order, batched), so Redis
        is off the activity's critical path; it never raises for Redis problems.
        """
        batch = [event for event in events if event is not None]
        if batch and self.bus is not None:
            self.bus.publish_soon(batch)

    async def record_many(
        self,
        tenant_id: str,
        run_id: str,
        specs: Sequence[EventSpec],
        *,
        also: Callable[[AsyncSession], Awaitable[object]] | None = None,
    ) -> list[RunEvent]:
        """Append several events in ONE transaction (one row lock, one commit), then publish them.

        ``also`` runs in the same transaction, after the events (e.g. the model request's ledger
        row); it is not called when the run does not exist.

        Returns the events written now (those whose ``dedupe_key`` was written before are left out);
        nothing when the run does not exist. Raises ``TenantMismatch`` (non-retryable) when the run
        belongs to another tenant.
        """
        if not specs:
            return []
        async with session_scope(self.database, tenant_id) as session:
            written = await RunEventRepository(session, tenant_id).append_to_run(run_id, specs)
            if written is not None and also is not None:
                await also(session)
        if written is None:
            if await run_exists_for_another_tenant(self.database, tenant_id, run_id):
                raise await missing_run_error(self.database, tenant_id, run_id)
            return []
        await self.publish_committed(written)
        return written

    async def record(
        self,
        tenant_id: str,
        run_id: str,
        event_type: str,
        data: dict[str, Any],
        *,
        dedupe_key: str,
    ) -> RunEvent | None:
        """Append an event under the run's row lock, commit, publish; ``None`` if ``dedupe_key`` was
        written before (or the run does not exist)."""
        written = await self.record_many(tenant_id, run_id, [EventSpec(event_type, data, dedupe_key)])
        return written[0] if written else None
