"""``/v1/runs``: start, read, list, cancel runs and read their events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from agent_runtime_api.body_limit import RUN_INPUT_BODY, body_limit
from agent_runtime_api.deps import AppStateDep, RunReader, RunServiceDep, require
from agent_runtime_api.routers.common import (
    AUTH_RESPONSES,
    AgentIdFilter,
    IdCursor,
    Limit,
    NumberCursor,
    RunId,
    problems,
)
from agent_runtime_api.services.streams import MAX_SEQ
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.models import Run, RunStatus
from agent_runtime_core.schemas import Page, RunCreate, RunEventPublic, RunPublic, Timestamp
from agent_runtime_core.tracing import langfuse_trace_url

router = APIRouter(prefix="/v1/runs", tags=["runs"], responses=AUTH_RESPONSES)

RunCreator = Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]
RunCanceller = Annotated[Principal, Depends(require(Permission.RUNS_CANCEL))]


def _ui_url(state: AppStateDep, workflow_id: str) -> str | None:
    base = state.settings.temporal_ui_url
    if not base:
        return None
    namespace = state.settings.temporal_namespace
    return f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


def _present(state: AppStateDep, run: Run) -> RunPublic:
    return RunPublic.from_row(
        run,
        temporal_ui_url=_ui_url(state, run.workflow_id),
        trace_url=langfuse_trace_url(state.settings, run.trace_id),
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a run",
    responses=problems(404, 409, 429, 503),
    # Inputs may be as long as a model's context: see `run_request_max_bytes`.
    openapi_extra=body_limit(RUN_INPUT_BODY),
)
async def create_run(
    body: RunCreate,
    service: RunServiceDep,
    state: AppStateDep,
    _: RunCreator,
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
    created = await service.create(body, idempotency_key)
    run = created.run
    response.headers["Location"] = f"/v1/runs/{run.id}"
    if not created.created:
        response.headers["Idempotent-Replayed"] = "true"
    return _present(state, run)


@router.get("", summary="List runs", responses=problems())
async def list_runs(
    service: RunServiceDep,
    state: AppStateDep,
    _: RunReader,
    agent_id: AgentIdFilter = None,
    run_status: Annotated[
        list[RunStatus] | None,
        Query(alias="status", description="Only runs in these statuses (repeatable)."),
    ] = None,
    since: Annotated[
        Timestamp | None,
        Query(description="Only runs created at or after this time (no offset: UTC)."),
    ] = None,
    until: Annotated[
        Timestamp | None,
        Query(description="Only runs created before this time (no offset: UTC); after `since`."),
    ] = None,
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[RunPublic]:
    """Runs of your tenant, newest first."""
    page = await service.list(
        limit=limit,
        before=cursor,
        agent_id=agent_id,
        statuses=run_status or (),
        since=since,
        until=until,
    )
    return Page[RunPublic](
        data=[_present(state, r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/{run_id}", summary="Get a run", responses=problems(404))
async def get_run(run_id: RunId, service: RunServiceDep, state: AppStateDep, _: RunReader) -> RunPublic:
    """One run: status, output, error, usage."""
    return _present(state, await service.get(run_id))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Cancel a run",
    responses=problems(404, 409, 503),
)
async def cancel_run(run_id: RunId, service: RunServiceDep, state: AppStateDep, _: RunCanceller) -> RunPublic:
    """Request cancellation. The run becomes `cancelled` once its current step stops
    (a running tool or model call notices within its heartbeat interval). 409 if it already
    finished."""
    return _present(state, await service.cancel(run_id))


@router.get("/{run_id}/events", summary="List a run's events", responses=problems(404))
async def list_run_events(
    run_id: RunId,
    service: RunServiceDep,
    _: RunReader,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Only events with `seq` greater than this.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1-1000).")] = 100,
    cursor: NumberCursor = None,
) -> Page[RunEventPublic]:
    """Events in order of `seq` (gap-free from 1)."""
    start = max(after or 0, cursor or 0)
    page = await service.events(run_id, after=start, limit=limit)
    return Page[RunEventPublic](
        data=[RunEventPublic.from_row(e) for e in page.items], next_cursor=page.next_cursor
    )
