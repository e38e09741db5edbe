"""Human requests (approvals and questions): open them, record answers, close the wait.

Each activity is one transaction and idempotent: rows are keyed by (run, tool call), events by
dedupe keys, and status changes only move forward. Their inputs live in
:mod:`agent_runtime_worker.contracts` (the workflow builds them).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import session_scope
from agent_runtime_core.models import (
    HumanRequest,
    HumanRequestKind,
    HumanRequestStatus,
    RunEvent,
    RunStatus,
)
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import HumanRequestRepository, RunEventRepository
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.activities.tenancy import locked_run
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


def _event_type(kind: HumanRequestKind, what: str) -> str:
    return f"{'approval' if kind == HumanRequestKind.APPROVAL else 'input'}.{what}"


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
        written: list[RunEvent] = []
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
            events = RunEventRepository(session, data.tenant_id)
            requests = HumanRequestRepository(session, data.tenant_id)
            for spec in data.requests:
                request = await requests.get(data.run_id, spec.id)
                if request is None:
                    request = HumanRequest(tenant_id=data.tenant_id, run_id=data.run_id, **spec.model_dump())
                    session.add(request)
                    await session.flush()
                event = await events.append(
                    run,
                    _event_type(spec.kind, "requested"),
                    _public(request),
                    dedupe_key=f"human:{spec.id}:requested",
                )
                written += [event] if event else []
            if run.status == RunStatus.RUNNING:
                run.status = RunStatus.WAITING
            if run.status == RunStatus.WAITING:
                event = await events.append(
                    run,
                    "run.waiting",
                    {"request_ids": [spec.id for spec in data.requests]},
                    dedupe_key=f"run.waiting:{data.requests[0].id}",
                )
                written += [event] if event else []
        await self.events.publish_committed(written)
        return len(written)

    @activity.defn(name=RESOLVE_HUMAN_REQUEST)
    @classify_database_errors
    async def resolve_human_request(self, data: ResolveHumanRequestInput) -> int:
        """Record who decided what, when; ``approval.decided`` / ``input.answered``."""
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
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
            what = "decided" if request.kind == HumanRequestKind.APPROVAL else "answered"
            event = await RunEventRepository(session, data.tenant_id).append(
                run,
                _event_type(request.kind, what),
                _public(request),
                dedupe_key=f"human:{request.id}:resolved",
            )
        await self.events.publish_committed([event] if event else [])
        return 1 if event else 0

    @activity.defn(name=CLOSE_HUMAN_WAIT)
    @classify_database_errors
    async def close_human_wait(self, data: CloseHumanWaitInput) -> int:
        """Expire or cancel still-pending requests; with ``resume``, ``waiting → running``."""
        written: list[RunEvent] = []
        async with session_scope(self.database, data.tenant_id) as session:
            run = await locked_run(session, self.database, data.tenant_id, data.run_id)
            events = RunEventRepository(session, data.tenant_id)
            if data.request_ids:
                for request in await HumanRequestRepository(session, data.tenant_id).get_by_ids(
                    data.run_id, data.request_ids
                ):
                    if request.status == HumanRequestStatus.PENDING:
                        request.status = data.status
                        request.decided_at = utcnow()
                        session.add(request)
                    event = await events.append(
                        run,
                        _event_type(request.kind, request.status.value),
                        _public(request),
                        dedupe_key=f"human:{request.id}:resolved",
                    )
                    written += [event] if event else []
            if data.resume and run.status == RunStatus.WAITING:
                run.status = RunStatus.RUNNING
                event = await events.append(
                    run, "run.resumed", {}, dedupe_key=f"run.resumed:{run.last_event_seq}"
                )
                written += [event] if event else []
        await self.events.publish_committed(written)
        return len(written)
