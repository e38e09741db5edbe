"""``/v1/runs``: start, read, list, cancel runs and read their events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status

from agent_runtime_api.deps import AppStateDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, Cursor, Limit, problems
from agent_runtime_api.services.presenters import run_event_public, run_public
from agent_runtime_api.services.runs import RunService
from agent_runtime_api.services.streams import MAX_SEQ
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.models import Run, RunStatus
from agent_runtime_core.repositories import decode_cursor
from agent_runtime_core.schemas import Page, RunCreate, RunEventPublic, RunPublic
from agent_runtime_core.tracing import langfuse_trace_url

router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=AUTH_RESPONSES)

RunReader = Annotated[Principal, Depends(require(Permission.RUNS_READ))]
RunCreator = Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]
RunCanceller = Annotated[Principal, Depends(require(Permission.RUNS_CANCEL))]

RunId = Annotated[str, Path(max_length=40, description="Run id (`run_…`).")]


def _service(state: AppStateDep, principal: Principal, *, max_active_runs: int = 0) -> RunService:
    return RunService(
        state.database,
        state.temporal,
        principal.tenant_id,
        task_queue=state.settings.temporal_task_queue,
        event_bus=state.event_bus,
        max_active_runs=max_active_runs,
        active_run_retry_after_s=state.settings.active_run_limit_retry_after_s,
    )


def _ui_url(state: AppStateDep, workflow_id: str) -> str | None:
    base = state.settings.temporal_ui_url
    if not base:
        return None
    namespace = state.settings.temporal_namespace
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


def _present(state: AppStateDep, run: Run) -> RunPublic:
    return run_public(run, _ui_url(state, run.workflow_id), langfuse_trace_url(state.settings, run.trace_id))


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run",
    responses=problems(404, 409, 429, 503),
)
async def create_run(
    body: RunCreate,
    state: AppStateDep,
    principal: RunCreator,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=(
                "Makes retries safe: the same key with the same body returns the original run "
                "(header `Idempotent-Replayed: true`); with a different body, 422."
            ),
        ),
    ] = None,
) -> RunPublic:
    """Start a run of an agent (its latest version unless `agent_version` is given).

    Answers at once with the run in status `queued`; poll `GET /v1/runs/{id}` or read
    `GET /v1/runs/{id}/events` to follow it. 429 `active_run_limit` (with `Retry-After`) when
    your tenant already has its maximum of queued, running and waiting runs (`GET /v1/limits`).
    """
    limits = await state.tenant_limits.get(principal.tenant_id)
    service = _service(state, principal, max_active_runs=limits.max_active_runs)
    created = await service.create(body, idempotency_key)
    run = created.run
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if not created.created:
        response.headers["Idempotent-Replayed"] = "true"
    return _present(state, run)


@router.get("", summary="List runs", responses=problems())
async def list_runs(
    state: AppStateDep,
    principal: RunReader,
    agent_id: Annotated[str | None, Query(max_length=40, description="Only this agent's runs.")] = None,
    run_status: Annotated[
        list[RunStatus] | None,
        Query(alias="status", description="Only runs in these statuses (repeatable)."),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[RunPublic]:
    """Runs of your tenant, newest first."""
    page = await _service(state, principal).list(
        limit=limit, cursor=cursor, agent_id=agent_id, statuses=run_status or ()
    )
    return Page[RunPublic](
        data=[_present(state, r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{run_id}", summary="Get a run", responses=problems(404))
async def get_run(run_id: RunId, state: AppStateDep, principal: RunReader) -> RunPublic:
    """One run: status, output, error, usage."""
    run = await _service(state, principal).get(run_id)
    return _present(state, run)


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a run",
    responses=problems(404, 409, 503),
)
async def cancel_run(run_id: RunId, state: AppStateDep, principal: RunCanceller) -> RunPublic:
    """Request cancellation. The run becomes `cancelled` once its current step stops
    (a running tool or model call notices within its heartbeat interval). 409 if it already
    finished."""
    run = await _service(state, principal).cancel(run_id)
    return _present(state, run)


@router.get("/{run_id}/events", summary="List a run's events", responses=problems(404))
async def list_run_events(
    run_id: RunId,
    state: AppStateDep,
    principal: RunReader,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Only events with `seq` greater than this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")] = 100,
    cursor: Cursor = None,
) -> Page[RunEventPublic]:
    """Events in order of `seq` (gap-free from 1)."""
    start = after or 0
    if cursor:
        raw = decode_cursor(cursor)
        if not raw.isdigit():
            raise InvalidRequestError("cursor is not valid", loc=["query", "cursor"])
        start = max(start, min(int(raw), MAX_SEQ))
    page = await _service(state, principal).events(run_id, after=start, limit=limit)
    return Page[RunEventPublic](data=[run_event_public(e) for e in page.items], next_cursor=page.next_cursor)
