"""Approvals and questions: list them, and deliver decisions/answers as workflow updates.

The database answers the common mistakes fast (unknown id → 404, decided → 409); the workflow's
update validator is the authority and refuses anything that slipped through (a race with another
decider or with the timeout) before it reaches the workflow history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from agent_runtime_api.services.pages import Window, window
from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_core.db import UnitOfWork
from agent_runtime_core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ServiceUnavailableError,
)
from agent_runtime_core.models import HumanRequest, HumanRequestKind, HumanRequestStatus, Run
from agent_runtime_core.repositories import HumanRequestRepository, RunRepository
from agent_runtime_core.schemas import ApprovalDecision, InputAnswer
from agent_runtime_core.temporal import (
    ANSWER_INPUT_UPDATE,
    DECIDE_APPROVAL_UPDATE,
    HUMAN_DECISION_NOT_RECORDED,
    REQUEST_ALREADY_RESOLVED,
    REQUEST_AMBIGUOUS,
    REQUEST_NOT_FOUND,
    ApprovalDecisionUpdate,
    HumanRequestResolution,
    InputAnswerUpdate,
)

UPDATE_WAIT_S = 20.0
"""How long a decision waits for the run's worker before the API answers 503."""

_LABEL = {HumanRequestKind.APPROVAL: "Approval", HumanRequestKind.INPUT: "Input request"}


class HumanRequestService:
    """Human requests of the runs of one tenant. Reads commit (through the unit of work) before a
    decision goes to the workflow: no transaction stays open while Temporal is waited on."""

    def __init__(self, unit_of_work: UnitOfWork, temporal: TemporalConnection) -> None:
        self.unit_of_work = unit_of_work
        self.temporal = temporal
        self.tenant_id = unit_of_work.tenant_id

    async def list(
        self, run_id: str, kind: HumanRequestKind, *, limit: int, after: str | None
    ) -> Window[HumanRequest]:
        """Requests of one kind of a run, oldest first, after the request ``after``."""
        async with self.unit_of_work.begin() as session:
            await self._run(RunRepository(session, self.tenant_id), run_id)
            rows = await HumanRequestRepository(session, self.tenant_id).list(
                run_id, kind, limit=limit + 1, after_id=after
            )
        return window(rows, limit, key=lambda request: request.id)

    async def inbox(
        self,
        kind: HumanRequestKind,
        *,
        limit: int,
        before: str | None,
        statuses: Collection[HumanRequestStatus] = (),
        agent_id: str | None = None,
        run_id: str | None = None,
    ) -> Window[tuple[HumanRequest, str]]:
        """Requests of one kind across the tenant's runs (each with its run's agent), newest
        first, before the request ``before``. Filters that match nothing give an empty page."""
        async with self.unit_of_work.begin() as session:
            rows = await HumanRequestRepository(session, self.tenant_id).list_for_tenant(
                kind,
                limit=limit + 1,
                before_id=before,
                statuses=statuses,
                agent_id=agent_id,
                run_id=run_id,
            )
        return window(rows, limit, key=lambda row: row[0].id)

    async def get(self, run_id: str, request_id: str, kind: HumanRequestKind) -> HumanRequest:
        """One request, or 404."""
        return (await self._load(run_id, request_id, kind))[1]

    async def _load(self, run_id: str, request_id: str, kind: HumanRequestKind) -> tuple[Run, HumanRequest]:
        """The run and one of its requests, read together; 404 for either."""
        async with self.unit_of_work.begin() as session:
            run = await self._run(RunRepository(session, self.tenant_id), run_id)
            request = await HumanRequestRepository(session, self.tenant_id).get(run_id, request_id)
        if request is None or request.kind != kind:
            raise NotFoundError(_LABEL[kind], request_id)
        return run, request

    async def decide(
        self, run_id: str, approval_id: str, body: ApprovalDecision, decided_by: str
    ) -> HumanRequest:
        """Approve or reject a pending approval."""
        run, request = await self._load(run_id, approval_id, HumanRequestKind.APPROVAL)
        _check_open(run, request)
        update = ApprovalDecisionUpdate(
            request_id=approval_id,
            approve=body.decision == "approve",
            reason=body.reason,
            decided_by=decided_by,
        )
        await self._update(run, DECIDE_APPROVAL_UPDATE, update, HumanRequestKind.APPROVAL, approval_id)
        return await self.get(run_id, approval_id, HumanRequestKind.APPROVAL)

    async def answer(self, run_id: str, body: InputAnswer, decided_by: str) -> HumanRequest:
        """Answer the run's pending question (the one named, or the only one)."""
        if body.request_id is not None:
            run, request = await self._load(run_id, body.request_id, HumanRequestKind.INPUT)
        else:
            run, pending = await self._pending_inputs(run_id)
            if len(pending) != 1:
                raise InvalidRequestError(
                    f"{len(pending)} questions are pending on this run; name one with request_id.",
                    loc=["body", "request_id"],
                    code="input_request_ambiguous" if pending else "no_pending_input",
                )
            request = pending[0]
        _check_open(run, request)
        update = InputAnswerUpdate(request_id=request.id, answer=body.answer, decided_by=decided_by)
        await self._update(run, ANSWER_INPUT_UPDATE, update, HumanRequestKind.INPUT, request.id)
        return await self.get(run_id, request.id, HumanRequestKind.INPUT)

    async def _pending_inputs(self, run_id: str) -> tuple[Run, list[HumanRequest]]:
        async with self.unit_of_work.begin() as session:
            run = await self._run(RunRepository(session, self.tenant_id), run_id)
            rows = await HumanRequestRepository(session, self.tenant_id).list(
                run_id, HumanRequestKind.INPUT, status=HumanRequestStatus.PENDING
            )
        return run, list(rows)

    @staticmethod
    async def _run(runs: RunRepository, run_id: str) -> Run:
        run = await runs.get(run_id)
        if run is None:
            raise NotFoundError("Run", run_id)
        return run

    async def _update(
        self,
        run: Run,
        update_name: str,
        update: ApprovalDecisionUpdate | InputAnswerUpdate,
        kind: HumanRequestKind,
        request_id: str,
    ) -> HumanRequestResolution:
        client = await self.temporal.client()
        handle = client.get_workflow_handle(run.workflow_id)
        try:
            async with asyncio.timeout(UPDATE_WAIT_S):
                return await handle.execute_update(  # pyright: ignore[reportUnknownMemberType]
                    update_name, update, result_type=HumanRequestResolution
                )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
            # No worker picked the run up in time (all down or restarting). Temporal keeps the
            # update and the run applies it when a worker is back; retrying is safe (409 then).
            raise ServiceUnavailableError(
                f"The {kind.value} was submitted but no worker has processed it yet; check "
                f"GET /v1/runs/{run.id} later, or retry (a repeat is refused once it applied).",
                retry_after_s=5,
            ) from exc
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            message = cause.message if isinstance(cause, ApplicationError) else str(exc)
            if error_type == REQUEST_NOT_FOUND:
                raise NotFoundError(_LABEL[kind], request_id) from exc
            if error_type == REQUEST_ALREADY_RESOLVED:
                raise _already_resolved(kind, request_id, None, message) from exc
            if error_type == REQUEST_AMBIGUOUS:
                raise InvalidRequestError(message, loc=["body", "request_id"]) from exc
            if error_type == HUMAN_DECISION_NOT_RECORDED:
                raise InvalidRequestError(message, loc=["body"], code="decision_not_recorded") from exc
            raise
        except RPCError as exc:
            # NOT_FOUND: the workflow has already completed (or never existed), so nothing waits.
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ConflictError(
                    f"Run '{run.id}' is no longer waiting for this {kind.value}.", code="run_already_finished"
                ) from exc
            raise ServiceUnavailableError(f"Temporal refused the update: {exc.message}") from exc


def _check_open(run: Run, request: HumanRequest) -> None:
    """409 unless the request is pending and its run still going."""
    if request.status != HumanRequestStatus.PENDING:
        raise _already_resolved(request.kind, request.id, request.status.value)
    if run.status.is_terminal:
        raise ConflictError(
            f"Run '{run.id}' already finished with status '{run.status.value}'.",
            code="run_already_finished",
        )


def _already_resolved(
    kind: HumanRequestKind, request_id: str, status: str | None, detail: str | None = None
) -> ConflictError:
    code = "approval_already_decided" if kind == HumanRequestKind.APPROVAL else "input_already_answered"
    return ConflictError(
        detail or f"{_LABEL[kind]} '{request_id}' is already {status}.",
        code=code,
    )
