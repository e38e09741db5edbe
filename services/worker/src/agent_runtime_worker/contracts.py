"""What the workflow and the worker's own activities exchange: activity names, inputs, signatures.

The workflow half of the worker imports this module; the activity half implements it. It holds
data and declarations only (no database, no Redis, no settings), so importing it into workflow
code is safe, and the import rule in ``pyproject.toml`` (``lint-imports``) keeps it that way.

Activity names appear in workflow histories: they are frozen. The workflow calls activities by
typed reference to the declarations below (``workflow.execute_local_activity_method(
RunActivityContract.finish_run, ...)``); :class:`~agent_runtime_worker.activities.runs.RunActivities`
and :class:`~agent_runtime_worker.activities.human_requests.HumanRequestActivities` implement them
under the same names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field
from temporalio import activity

from agent_runtime_core.models.approval import HumanRequestKind, HumanRequestStatus

MARK_RUN_STARTED: Final = "mark_run_started"
FINISH_RUN: Final = "finish_run"
RECORD_BUDGET_WAIT: Final = "record_budget_wait"
OPEN_HUMAN_REQUESTS: Final = "open_human_requests"
RESOLVE_HUMAN_REQUEST: Final = "resolve_human_request"
CLOSE_HUMAN_WAIT: Final = "close_human_wait"

HUMAN_DECISION_NOT_RECORDED: Final = "HumanDecisionNotRecorded"
"""``ApplicationError.type`` of a decision or answer update whose write failed for good: the
request stays pending (the decision was not taken into account)."""


class RunRef(BaseModel):
    """Which run (and whose)."""

    run_id: str
    tenant_id: str


class RunUsageTotals(BaseModel):
    """Usage of a run, as counted by the agent."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class FinishRunInput(BaseModel):
    """The terminal state a run reached."""

    run_id: str
    tenant_id: str
    status: str = Field(description="succeeded | failed | cancelled | timed_out")
    output: Any | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: RunUsageTotals = Field(default_factory=RunUsageTotals)


class BudgetWaitInput(BaseModel):
    """A run starts (``waiting``) or ends (``resumed``) a wait for a tenant budget to reset."""

    run_id: str
    tenant_id: str
    wait_key: str = Field(description="Identifies this wait (step and attempt) in event dedupe keys.")
    waiting: bool = Field(description="True: the wait starts; False: it is over and the run goes on.")
    budget: str
    limit: str
    used: str
    resets_at: datetime
    message: str


class HumanRequestSpec(BaseModel):
    """One request as the workflow created it (ids and times are the workflow's)."""

    id: str
    kind: HumanRequestKind
    tool_call_id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    question: str | None = None
    requested_at: datetime
    expires_at: datetime


class OpenHumanRequestsInput(BaseModel):
    """Requests to open; the run becomes ``waiting``."""

    run_id: str
    tenant_id: str
    requests: list[HumanRequestSpec]


class ResolveHumanRequestInput(BaseModel):
    """A human's decision or answer, accepted by the workflow's update validator."""

    run_id: str
    tenant_id: str
    request_id: str
    status: HumanRequestStatus
    reason: str | None = None
    answer: str | None = None
    decided_by: str


class CloseHumanWaitInput(BaseModel):
    """Expire (timeout) or cancel what is still pending; optionally resume the run."""

    run_id: str
    tenant_id: str
    request_ids: list[str] = Field(default_factory=list)
    status: HumanRequestStatus = HumanRequestStatus.EXPIRED
    resume: bool = True


class RunActivityContract:
    """The run lifecycle activities as the workflow sees them (implemented by ``RunActivities``)."""

    @activity.defn(name=MARK_RUN_STARTED)
    async def mark_run_started(self, ref: RunRef) -> bool:
        """``queued → running``; ``False`` when the run already finished."""
        raise NotImplementedError

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, result: FinishRunInput) -> str:
        """Write the terminal status; returns the status the run has afterwards."""
        raise NotImplementedError

    @activity.defn(name=RECORD_BUDGET_WAIT)
    async def record_budget_wait(self, wait: BudgetWaitInput) -> str:
        """``running ↔ waiting`` for a budget reset; returns the run's status afterwards."""
        raise NotImplementedError


class HumanRequestActivityContract:
    """The human-request activities as the workflow sees them (``HumanRequestActivities``)."""

    @activity.defn(name=OPEN_HUMAN_REQUESTS)
    async def open_human_requests(self, data: OpenHumanRequestsInput) -> int:
        """Write the requests; the run becomes ``waiting``. Returns the events written."""
        raise NotImplementedError

    @activity.defn(name=RESOLVE_HUMAN_REQUEST)
    async def resolve_human_request(self, data: ResolveHumanRequestInput) -> int:
        """Record a human's decision or answer. Returns the events written."""
        raise NotImplementedError

    @activity.defn(name=CLOSE_HUMAN_WAIT)
    async def close_human_wait(self, data: CloseHumanWaitInput) -> int:
        """Expire or cancel what is still pending; optionally resume. Returns the events written."""
        raise NotImplementedError
