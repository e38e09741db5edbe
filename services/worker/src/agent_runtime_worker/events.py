"""Write run events from activities, idempotently, and publish them to live readers.

Every event is appended in Postgres under the run's row lock (gap-free ``seq``, ``dedupe_key``
idempotency: a retried activity writes each event once), committed, and only then published to
Redis (:class:`~agent_runtime_core.event_bus.EventBus`). Publishing never fails an activity:
Postgres is the record, and stream readers recover from it whatever Redis missed.

Code that appends events inside a larger transaction of its own calls
:func:`publish_committed` after that transaction commits::

    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id, for_update=True)
        event = await RunEventRepository(session, tenant_id).append(run, "approval.decided", data)
    await publish_committed([event])  # after the commit; `None` (a duplicate) is skipped
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.db import session_scope
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.models import RunEvent
from agent_runtime_core.repositories import RunEventRepository
from agent_runtime_worker.activities.tenancy import missing_run_error, run_exists_for_another_tenant
from agent_runtime_worker.runtime import resources

_buses: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], EventBus]] = (
    weakref.WeakKeyDictionary()
)


class EventSpec(NamedTuple):
    """One event to append: its type, data and idempotency key."""

    type: str
    data: dict[str, Any]
    dedupe_key: str


def event_bus() -> EventBus | None:
    """This worker's event bus (``None`` when ``redis_url`` is empty or no worker runs here).

    One per Redis URL and event loop (Redis connections belong to the loop that opened them);
    nothing connects until the first publish.
    """
    try:
        settings = resources().settings
    except RuntimeError:  # activities run outside a worker (unit tests): nothing to publish to
        return None
    if not settings.redis_url:
        return None
    per_loop = _buses.setdefault(asyncio.get_running_loop(), {})
    key = (settings.redis_url, settings.event_stream_maxlen)
    bus = per_loop.get(key)
    if bus is None:
        bus = per_loop[key] = EventBus(settings.redis_url, maxlen=settings.event_stream_maxlen)
    return bus


async def close_event_buses() -> None:
    """Publish what is queued and close the event buses of the running loop (worker shutdown)."""
    for bus in _buses.pop(asyncio.get_running_loop(), {}).values():
        await bus.aclose()


async def publish_committed(events: Iterable[RunEvent | None]) -> None:
    """Publish events whose transaction has committed to live readers (Redis streams).

    Call it right after the ``session_scope`` that appended the events has exited, with what
    ``RunEventRepository.append`` returned (``None`` items, duplicates, are skipped). Returns at
    once: a background task publishes (in order, batched), so Redis is off the activity's
    critical path; it never raises for Redis problems.
    """
    batch = [event for event in events if event is not None]
    bus = event_bus() if batch else None
    if bus is not None:
        bus.publish_soon(batch)


async def record_run_events(
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
    database = resources().database
    async with session_scope(database, tenant_id) as session:
        written = await RunEventRepository(session, tenant_id).append_to_run(run_id, specs)
        if written is not None and also is not None:
            await also(session)
    if written is None:
        if await run_exists_for_another_tenant(database, tenant_id, run_id):
            raise await missing_run_error(database, tenant_id, run_id)
        return []
    await publish_committed(written)
    return written


async def record_run_event(
    tenant_id: str,
    run_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    dedupe_key: str,
) -> RunEvent | None:
    """Append an event under the run's row lock, commit, publish; ``None`` if ``dedupe_key`` was
    written before (or the run does not exist)."""
    written = await record_run_events(tenant_id, run_id, [EventSpec(event_type, data, dedupe_key)])
    return written[0] if written else None
