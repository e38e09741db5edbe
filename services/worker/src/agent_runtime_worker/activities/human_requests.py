"""Human requests (approvals and questions): open them, record answers, close the wait.

Each activity is one transaction and idempotent: rows are keyed by (run, tool call), events by
dedupe keys, and status changes only move forward. Their inputs live in
:mod:`agent_runtime_worker.contracts` (the workflow builds them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import session_scope
from agent_runtime_core.lifecycle import DedupeKey, EventSpec, EventType, human_request_event
from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus, RunStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import HumanRequestRepository, RunEventRepository
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.activities.tenancy import locked_run, transition_run
from agent_runtime_worker.contracts import (
    CLOSE_HUMAN_WAIT,
    OPEN_HUMAN_REQUESTS,
    RESOLVE_HUMAN_REQUEST,
    CloseHumanWaitInput,
    HumanRequestActivityContract,
    OpenHumanRequestsInput,
    ResolveHumanRequestInput,
)
from agent_runtime_worker.dependencies import WorkerDependencies


def _public(request: HumanRequest) -> dict[str, Any]:
    data: dict[str, Any] = {
        "request_id": request.id,
        "tool": request.tool,
        "tool_call_id": request.tool_call_id,
        "status": request.status.value,
        "expires_at": request.expires_at.isoformat(),
    }
    if request.kind == HumanRequestKind.APPROVAL:
        data["args"] = request.args
    else:
        data["question"] = request.question
    if request.decided_by:
        data["decided_by"] = request.decided_by
    if request.reason:
        data["reason"] = request.reason
    if request.answer is not None:
        data["answer"] = request.answer
    return data


async def close_requests(
    session: AsyncSession,
    tenant_id: str,
    run_id: str,
    request_ids: Sequence[str],
    status: HumanRequestStatus,
) -> list[EventSpec]:
    """Move the still-pending ones of ``request_ids`` to ``status`` (expired, cancelled); the
    resolution events of all of them to append (once each: a dedupe key per request)."""
    specs: list[EventSpec] = []
    if not request_ids:
        return specs
    for request in await HumanRequestRepository(session, tenant_id).get_by_ids(run_id, request_ids):
        if request.status == HumanRequestStatus.PENDING:
            request.status = status
            request.decided_at = utcnow()
            session.add(request)
        specs.append(
            EventSpec(
                human_request_event(request.kind.value, request.status.value),
                _public(request),
                DedupeKey.human_resolved(request.id),
            )
        )
    return specs


async def pending_request_ids(session: AsyncSession, tenant_id: str, run_id: str) -> list[str]:
    """The ids of ``run_id``'s pending approvals and questions."""
    repository = HumanRequestRepository(session, tenant_id)
    ids: list[str] = []
    for kind in HumanRequestKind:
        ids.extend(
            request.id
            for request in await repository.list(
                run_id, kind, limit=10_000, status=HumanRequestStatus.PENDING
            )
        )
    return ids


class HumanRequestActivities(HumanRequestActivityContract):
    """The human-request activities (:class:`~agent_runtime_worker.contracts.HumanRequestActivityContract`),
    with the worker's database and event writer."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Write through the worker's database; publish events through its event writer."""
        self.database = dependencies.database
        self.events = dependencies.events

    @activity.defn(name=OPEN_HUMAN_REQUESTS)
    @classify_database_errors
    async def open_human_requests(self, data: OpenHumanRequestsInput) -> int:
        """Write the requests and ``*.requested`` events; ``running → waiting`` (``run.waiting``)."""
        async with session_scope(self.database, data.tenant_id) as session:
            await locked_run(session, self.database, data.tenant_id, data.run_id)
            requests = HumanRequestRepository(session, data.tenant_id)
            specs: list[EventSpec] = []
            for spec in data.requests:
                request = await requests.get(data.run_id, spec.id)
                if request is None:
                    request = HumanRequest(tenant_id=data.tenant_id, run_id=data.run_id, **spec.model_dump())
                    session.add(request)
                    await session.flush()
                specs.append(
                    EventSpec(
                        human_request_event(spec.kind.value, HumanRequestStatus.PENDING.value),
                        _public(request),
                        DedupeKey.human_requested(spec.id),
                    )
                )
            written = (
                await RunEventRepository(session, data.tenant_id).append_to_run(data.run_id, specs) or []
            )
            waiting = EventSpec(
                EventType.RUN_WAITING,
                {"request_ids": [spec.id for spec in data.requests]},
                DedupeKey.waiting_for_humans(data.requests[0].id),
            )
            moved = await transition_run(
                session,
                self.database,
                data.tenant_id,
                data.run_id,
                RunStatus.WAITING,
                only_from=(RunStatus.RUNNING, RunStatus.WAITING),
                events=[waiting],
            )
            written += moved.events
        await self.events.publish_committed(written)
        return len(written)

    @activity.defn(name=RESOLVE_HUMAN_REQUEST)
    @classify_database_errors
    async def resolve_human_request(self, data: ResolveHumanRequestInput) -> int:
        """Record who decided what, when; ``approval.decided`` / ``input.answered``."""
        async with session_scope(self.database, data.tenant_id) as session:
            await locked_run(session, self.database, data.tenant_id, data.run_id)
            request = await HumanRequestRepository(session, data.tenant_id).get(
                data.run_id, data.request_id, for_update=True
            )
            if request is None:
                raise ApplicationError(
                    f"request {data.request_id} does not exist",
                    type="HumanRequestNotFound",
                    non_retryable=True,
                )
            if request.status == HumanRequestStatus.PENDING:
                request.status = data.status
                request.reason = data.reason
                request.answer = data.answer
                request.decided_by = data.decided_by
                request.decided_at = utcnow()
                session.add(request)
            resolved = EventSpec(
                human_request_event(request.kind.value, request.status.value),
                _public(request),
                DedupeKey.human_resolved(request.id),
            )
            written = await RunEventRepository(session, data.tenant_id).append_to_run(data.run_id, [resolved])
        await self.events.publish_committed(written or [])
        return len(written or [])

    @activity.defn(name=CLOSE_HUMAN_WAIT)
    @classify_database_errors
    async def close_human_wait(self, data: CloseHumanWaitInput) -> int:
        """Expire or cancel still-pending requests; with ``resume``, ``waiting → running``."""
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
            specs = await close_requests(session, data.tenant_id, data.run_id, data.request_ids, data.status)
            written = await RunEventRepository(session, data.tenant_id).append_to_run(run.id, specs) or []
            if data.resume:
                moved = await transition_run(
                    session,
                    self.database,
                    data.tenant_id,
                    data.run_id,
                    RunStatus.RUNNING,
                    only_from=(RunStatus.WAITING,),
                    events=lambda run: [
                        EventSpec(EventType.RUN_RESUMED, {}, DedupeKey.resumed_after(run.last_event_seq))
                    ],
                )
                written += moved.events
        await self.events.publish_committed(written)
        return len(written)
