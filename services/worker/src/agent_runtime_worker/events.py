"""Write run events from activities, idempotently (a retried activity writes each event once)."""

from __future__ import annotations

from typing import Any

from agent_runtime_core.db import session_scope
from agent_runtime_core.models import RunEvent
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_worker.runtime import resources


async def record_run_event(
    tenant_id: str,
    run_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    dedupe_key: str,
) -> RunEvent | None:
    """Append an event under the run's row lock; ``None`` if ``dedupe_key`` was written before."""
    async with session_scope(resources().database) as session:
        run = await RunRepository(session, tenant_id).get(run_id, for_update=True)
        if run is None:
            return None
        return await RunEventRepository(session, tenant_id).append(
            run, event_type, data, dedupe_key=dedupe_key
        )
