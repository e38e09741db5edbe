"""Loading a run under the tenant the work claims to be for.

Activities open their sessions with :func:`~agent_runtime_core.db.session_scope` for the tenant
in their input, so row-level security hides any other tenant's run. A run that is not visible
is then either missing or someone else's; the second means the work item's tenant does not
match the run's and the work is refused for good (``TenantMismatch``, non-retryable) instead
of being retried as "not found".
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Final

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models import Run, RunStatus
from agent_runtime_core.repositories import RunRepository
from agent_runtime_core.repositories.runs import EventsFor, TransitionResult, run_owner

logger = logging.getLogger(__name__)

TENANT_MISMATCH: Final = "TenantMismatch"
RUN_NOT_FOUND: Final = "RunNotFound"


async def run_exists_for_another_tenant(database: Database, tenant_id: str, run_id: str) -> bool:
    """Whether ``run_id`` exists under a tenant other than ``tenant_id``.

    A system (cross-tenant) read, used only on the error path to name the failure correctly.
    """
    async with system_session_scope(database) as session:
        owner = await run_owner(session, run_id)
    return owner is not None and owner != tenant_id


async def missing_run_error(database: Database, tenant_id: str, run_id: str) -> ApplicationError:
    """The non-retryable error for a run that ``tenant_id`` cannot see."""
    if await run_exists_for_another_tenant(database, tenant_id, run_id):
        logger.error("refusing work for run %s: it does not belong to tenant %s", run_id, tenant_id)
        return ApplicationError(
            f"run {run_id} does not belong to tenant {tenant_id}; the work is refused",
            type=TENANT_MISMATCH,
            non_retryable=True,
        )
    return ApplicationError(f"run {run_id} does not exist", type=RUN_NOT_FOUND, non_retryable=True)


async def locked_run(session: AsyncSession, database: Database, tenant_id: str, run_id: str) -> Run:
    """The run, locked for update, or raise ``TenantMismatch`` / ``RunNotFound`` (non-retryable)."""
    run = await RunRepository(session, tenant_id).get(run_id, for_update=True)
    if run is None:
        raise await missing_run_error(database, tenant_id, run_id)
    return run


async def transition_run(
    session: AsyncSession,
    database: Database,
    tenant_id: str,
    run_id: str,
    target: RunStatus,
    *,
    events: EventsFor = (),
    only_from: Collection[RunStatus] | None = None,
    apply: Callable[[Run], Awaitable[None]] | None = None,
    turn_messages: Sequence[dict[str, Any]] | None = None,
) -> TransitionResult:
    """:meth:`RunRepository.transition`, raising ``TenantMismatch`` / ``RunNotFound``
    (non-retryable) when the tenant cannot see the run."""
    result = await RunRepository(session, tenant_id).transition(
        run_id, target, events=events, only_from=only_from, apply=apply, turn_messages=turn_messages
    )
    if result is None:
        raise await missing_run_error(database, tenant_id, run_id)
    return result
