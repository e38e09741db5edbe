"""Inputs and outputs of the worker's own activities (run bookkeeping and human requests).

Like the workflow's input (:mod:`agent_runtime_core.temporal.contracts`), they are stored in
workflow histories and read again on replay by whatever build is deployed then: frozen, unknown
fields ignored, a field added later has a default, none is renamed. The names are the activities'
names in histories: frozen too. The worker declares and implements the activities
(``agent_runtime_worker.contracts``, ``agent_runtime_worker.activities``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import Field

from agent_runtime_core.models.approval import HumanRequestKind, HumanRequestStatus
from agent_runtime_core.temporal.contracts import ContextConfig, DurableModel

__all__ = [
    "ACQUIRE_THREAD_TURN",
    "CLOSE_HUMAN_WAIT",
    "FINISH_RUN",
    "FINISH_THREAD_RUN",
    "MARK_RUN_STARTED",
    "OPEN_HUMAN_REQUESTS",
    "RECORD_BUDGET_WAIT",
    "RESOLVE_HUMAN_REQUEST",
    "SUMMARIZE_THREAD",
    "BudgetWaitInput",
    "CloseHumanWaitInput",
    "FinishRunInput",
    "HumanRequestSpec",
    "OpenHumanRequestsInput",
    "ResolveHumanRequestInput",
    "RunRef",
    "RunUsageTotals",
    "SummarizeThreadInput",
    "ThreadRunFinished",
    "ThreadSummarized",
    "ThreadTurn",
    "ThreadTurnInput",
]

MARK_RUN_STARTED: Final = "mark_run_started"
FINISH_RUN: Final = "finish_run"
RECORD_BUDGET_WAIT: Final = "record_budget_wait"
OPEN_HUMAN_REQUESTS: Final = "open_human_requests"
RESOLVE_HUMAN_REQUEST: Final = "resolve_human_request"
CLOSE_HUMAN_WAIT: Final = "close_human_wait"
ACQUIRE_THREAD_TURN: Final = "acquire_thread_turn"
FINISH_THREAD_RUN: Final = "finish_thread_run"
SUMMARIZE_THREAD: Final = "summarize_thread"


class RunRef(DurableModel):
    """Which run (and whose)."""

    run_id: str
    tenant_id: str


class RunUsageTotals(DurableModel):
    """Usage of a run, as counted by the agent."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class FinishRunInput(DurableModel):
    """The terminal state a run reached."""

    run_id: str
    tenant_id: str
    status: str = Field(description="succeeded | failed | cancelled | timed_out")
    output: Any | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: RunUsageTotals = Field(default_factory=RunUsageTotals)
    turn_messages: list[dict[str, Any]] | None = None
    """A thread run's new messages (pydantic-ai's JSON form), appended to its thread when it
    succeeded (``finish_thread_run``)."""


class ThreadRunFinished(DurableModel):
    """Result of ``finish_thread_run``."""

    status: str
    """The status the run has afterwards (an earlier terminal status wins)."""
    next_run_id: str | None = None
    """The run that has the thread's turn now: the workflow signals it (``thread_turn``)."""


class ThreadTurnInput(DurableModel):
    """Does run ``run_id`` have its thread's turn?"""

    run_id: str
    tenant_id: str
    thread_id: str
    context: ContextConfig | None = None
    """The version's context management (``None``: every earlier turn, as before it existed)."""


class ThreadTurn(DurableModel):
    """Result of ``acquire_thread_turn``."""

    status: str = Field(description="active (the run has the turn) | waiting | finished (the run ended)")
    messages: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """When ``active``: what the model sees of the thread's earlier turns, in order (pydantic-ai's
    JSON form): every turn, the last N, or a summary (a request with one system prompt part) and
    the turns after it, per ``ThreadTurnInput.context``."""
    summarize_through_seq: int | None = None
    """When ``active`` and the ``summarize`` strategy's limit is exceeded: summarize the turns up to
    this seq (``summarize_thread``), then ask again. ``messages`` is empty then."""
    summarized_through_seq: int = 0
    """The turns up to this seq are replaced by a summary in ``messages`` (0: none)."""
    estimated_tokens: int = 0
    """The estimated tokens of ``messages`` (characters / 4 of their JSON)."""


class SummarizeThreadInput(DurableModel):
    """Summarize a thread's turns up to ``through_seq`` with ``model``: the latest earlier summary
    and the turns after it (the activity reads them; only this reference travels)."""

    run_id: str
    tenant_id: str
    thread_id: str
    through_seq: int
    model: str
    max_tokens: int | None = None


class ThreadSummarized(DurableModel):
    """Result of ``summarize_thread``: the summary stored for ``(thread, through_seq)``."""

    through_seq: int
    chars: int
    created: bool = False
    """Whether this attempt wrote it (``False``: an earlier attempt or run had)."""


class BudgetWaitInput(DurableModel):
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


class HumanRequestSpec(DurableModel):
    """One request as the workflow created it (ids and times are the workflow's)."""

    id: str
    kind: HumanRequestKind
    tool_call_id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    question: str | None = None
    requested_at: datetime
    expires_at: datetime


class OpenHumanRequestsInput(DurableModel):
    """Requests to open; the run becomes ``waiting``."""

    run_id: str
    tenant_id: str
    requests: list[HumanRequestSpec]


class ResolveHumanRequestInput(DurableModel):
    """A human's decision or answer, accepted by the workflow's update validator."""

    run_id: str
    tenant_id: str
    request_id: str
    status: HumanRequestStatus
    reason: str | None = None
    answer: str | None = None
    decided_by: str


class CloseHumanWaitInput(DurableModel):
    """Expire (timeout) or cancel what is still pending; optionally resume the run."""

    run_id: str
    tenant_id: str
    request_ids: list[str] = Field(default_factory=list[str])
    status: HumanRequestStatus = HumanRequestStatus.EXPIRED
    resume: bool = True
