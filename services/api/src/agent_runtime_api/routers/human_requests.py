"""``/v1/runs/{run_id}/approvals`` and ``/v1/runs/{run_id}/input``: humans in the loop; and the
tenant-wide inbox of them, ``/v1/approvals`` and ``/v1/questions`` (read-only: decisions and
answers go to the run's routes, so there is one way to deliver them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from agent_runtime_api.audit import add_audit_details
from agent_runtime_api.deps import HumanRequestServiceDep, RunReader, require
from agent_runtime_api.routers.common import (
    AUTH_RESPONSES,
    AgentIdFilter,
    IdCursor,
    Limit,
    RunId,
    problems,
)
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.models import HumanRequestKind, HumanRequestStatus
from agent_runtime_core.schemas import (
    ApprovalDecision,
    ApprovalInboxItem,
    ApprovalPublic,
    ApprovalStatus,
    InputAnswer,
    InputRequestPublic,
    Page,
    QuestionInboxItem,
    QuestionStatus,
    Text,
)

router = APIRouter(prefix="/v1/runs/{run_id}", tags=["approvals"], responses=AUTH_RESPONSES)
inbox_router = APIRouter(tags=["approvals"], responses=AUTH_RESPONSES)

Decider = Annotated[Principal, Depends(require(Permission.APPROVALS_DECIDE))]

ApprovalId = Annotated[Text, Path(max_length=40, description="Approval id (`apr_…`).")]


@router.get("/approvals", summary="List a run's approvals", responses=problems(404))
async def list_approvals(
    run_id: RunId, service: HumanRequestServiceDep, _: RunReader, limit: Limit = 20, cursor: IdCursor = None
) -> Page[ApprovalPublic]:
    """Tool calls of the run that needed a human decision, oldest first (pending and decided)."""
    page = await service.list(run_id, HumanRequestKind.APPROVAL, limit=limit, after=cursor)
    return Page[ApprovalPublic](
        data=[ApprovalPublic.from_row(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/approvals/{approval_id}", summary="Get an approval", responses=problems(404))
async def get_approval(
    run_id: RunId, approval_id: ApprovalId, service: HumanRequestServiceDep, _: RunReader
) -> ApprovalPublic:
    """One approval."""
    return ApprovalPublic.from_row(await service.get(run_id, approval_id, HumanRequestKind.APPROVAL))


@router.post(
    "/approvals/{approval_id}", summary="Approve or reject a tool call", responses=problems(404, 409, 503)
)
async def decide_approval(
    run_id: RunId,
    approval_id: ApprovalId,
    body: ApprovalDecision,
    service: HumanRequestServiceDep,
    principal: Decider,
    request: Request,
) -> ApprovalPublic:
    """Deliver a decision. `approve` runs the tool; `reject` tells the model it was rejected
    (with `reason`) and the run goes on. 409 if it was already decided or expired, or the run
    ended; 404 if the approval is unknown. Returns the approval as recorded (who, when)."""
    add_audit_details(request, decision=body.decision)
    decided = await service.decide(run_id, approval_id, body, principal.subject)
    return ApprovalPublic.from_row(decided)


@router.get("/input", summary="List a run's questions to humans", responses=problems(404))
async def list_input_requests(
    run_id: RunId, service: HumanRequestServiceDep, _: RunReader, limit: Limit = 20, cursor: IdCursor = None
) -> Page[InputRequestPublic]:
    """Questions the agent asked with the `ask_human` tool, oldest first."""
    page = await service.list(run_id, HumanRequestKind.INPUT, limit=limit, after=cursor)
    return Page[InputRequestPublic](
        data=[InputRequestPublic.from_row(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post("/input", summary="Answer the agent's question", responses=problems(404, 409, 503))
async def answer_input(
    run_id: RunId, body: InputAnswer, service: HumanRequestServiceDep, principal: Decider, request: Request
) -> InputRequestPublic:
    """Answer a pending `ask_human` question; the run continues with the answer. `request_id`
    may be omitted when exactly one question is pending. 409 if already answered or expired."""
    add_audit_details(request, request_id=body.request_id)  # never the answer: it may hold secrets
    answered = await service.answer(run_id, body, principal.subject)
    add_audit_details(request, request_id=answered.id)
    return InputRequestPublic.from_row(answered)


RunIdFilter = Annotated[Text | None, Query(max_length=40, description="Only this run's (`run_…`).")]


@inbox_router.get("/v1/approvals", summary="List approvals across your runs", responses=problems())
async def list_all_approvals(
    service: HumanRequestServiceDep,
    _: RunReader,
    statuses: Annotated[
        list[ApprovalStatus] | None,
        Query(
            alias="status",
            description="Only approvals in these statuses (repeatable), e.g. `status=pending` for "
            "the ones waiting for a decision. Default: all.",
        ),
    ] = None,
    agent_id: AgentIdFilter = None,
    run_id: RunIdFilter = None,
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[ApprovalInboxItem]:
    """The approvals of all your runs, newest first: an inbox for whoever decides. Each item
    names its `run_id` (and the run's `agent_id`); decide it with
    `POST /v1/runs/{run_id}/approvals/{approval_id}`. Needs `runs:read`, as the run's list does."""
    page = await service.inbox(
        HumanRequestKind.APPROVAL,
        limit=limit,
        before=cursor,
        statuses=[HumanRequestStatus(value) for value in statuses or ()],
        agent_id=agent_id,
        run_id=run_id,
    )
    return Page[ApprovalInboxItem](
        data=[ApprovalInboxItem.from_row_and_agent(row, agent) for row, agent in page.items],
        next_cursor=page.next_cursor,
    )


@inbox_router.get("/v1/questions", summary="List questions across your runs", responses=problems())
async def list_all_questions(
    service: HumanRequestServiceDep,
    _: RunReader,
    statuses: Annotated[
        list[QuestionStatus] | None,
        Query(
            alias="status",
            description="Only questions in these statuses (repeatable), e.g. `status=pending` for "
            "the ones waiting for an answer. Default: all.",
        ),
    ] = None,
    agent_id: AgentIdFilter = None,
    run_id: RunIdFilter = None,
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[QuestionInboxItem]:
    """The questions (`ask_human`) of all your runs, newest first. Each item names its `run_id`
    (and the run's `agent_id`); answer it with `POST /v1/runs/{run_id}/input` and its `id` as
    `request_id`. Needs `runs:read`, as the run's list does."""
    page = await service.inbox(
        HumanRequestKind.INPUT,
        limit=limit,
        before=cursor,
        statuses=[HumanRequestStatus(value) for value in statuses or ()],
        agent_id=agent_id,
        run_id=run_id,
    )
    return Page[QuestionInboxItem](
        data=[QuestionInboxItem.from_row_and_agent(row, agent) for row, agent in page.items],
        next_cursor=page.next_cursor,
    )
