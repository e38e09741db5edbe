"""Run events as typed objects, with accessors for what a live view needs.

Every event has the same envelope (``id`` = ``<run_id>:<seq>``, ``seq`` gap-free per run from 1,
``run_id``, ``type``, ``at``, ``data``); what ``data`` holds depends on ``type``. A terminal UI or a
script wants the few common cases without digging in dicts: the text as it streams, a tool being
called and its result, a human being asked, the run ending. :class:`RunEvent` answers those with
typed, lenient views (``text_delta``, ``tool_call``, ``tool_result``, ``approval_request``,
``question``, ``is_terminal``) and leaves ``data`` for everything else. Types this SDK does not
know are passed through as plain strings, never dropped or refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from agent_runtime_client._models import APIModel, RunError, RunStatus, RunUsage

__all__ = [
    "TERMINAL_EVENT_TYPES",
    "EventType",
    "HumanRequestEvent",
    "ModelRequestFinished",
    "ModelRequestStarted",
    "RunEvent",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
]


class EventType(StrEnum):
    """Every event type the API documents (a newer server may send others: skip those)."""

    RUN_QUEUED = "run.queued"
    RUN_STARTED = "run.started"
    RUN_WAITING = "run.waiting"
    RUN_RESUMED = "run.resumed"
    RUN_SUCCEEDED = "run.succeeded"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    RUN_TIMED_OUT = "run.timed_out"
    MODEL_REQUEST_STARTED = "model.request.started"
    MODEL_TEXT_DELTA = "model.text.delta"
    MODEL_REQUEST_FINISHED = "model.request.finished"
    MODEL_FALLBACK = "model.fallback"
    TOOL_CALL_STARTED = "tool.call.started"
    TOOL_CALL_FINISHED = "tool.call.finished"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_DECIDED = "approval.decided"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_CANCELLED = "approval.cancelled"
    INPUT_REQUESTED = "input.requested"
    INPUT_ANSWERED = "input.answered"
    INPUT_EXPIRED = "input.expired"
    INPUT_CANCELLED = "input.cancelled"
    THREAD_SUMMARIZED = "thread.summarized"
    ARTIFACT_CREATED = "artifact.created"


_TERMINAL_STATUS: dict[str, RunStatus] = {
    EventType.RUN_SUCCEEDED: RunStatus.SUCCEEDED,
    EventType.RUN_FAILED: RunStatus.FAILED,
    EventType.RUN_CANCELLED: RunStatus.CANCELLED,
    EventType.RUN_TIMED_OUT: RunStatus.TIMED_OUT,
}
TERMINAL_EVENT_TYPES = frozenset(_TERMINAL_STATUS)
"""The events that end a run (and its stream)."""


class TextDelta(APIModel):
    """A chunk of the model's answer (``model.text.delta``). The chunks of one ``step`` and
    ``attempt`` add up to the ``text`` of its ``model.request.finished``; a retried request
    (a new ``attempt``) starts its text again."""

    step: int = 0
    attempt: int = 1
    index: int = 0
    delta: str = ""


class ModelRequestStarted(APIModel):
    """A model request began (``model.request.started``)."""

    step: int = 0
    model: str = ""
    attempt: int = 1


class ModelRequestFinished(APIModel):
    """A model request ended (``model.request.finished``): its text and the tool calls it asked
    for (each ``{"tool_call_id", "tool", "args"}``)."""

    step: int = 0
    model: str = ""
    attempt: int = 1
    text: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])


class ToolCallStarted(APIModel):
    """A tool call began (``tool.call.started``; one per attempt)."""

    tool_call_id: str = ""
    tool: str = ""
    args: Any = None
    attempt: int = 1
    idempotency_key: str | None = None


class ToolCallFinished(APIModel):
    """A tool call ended (``tool.call.finished``): ``result`` when ``ok``, else ``error``.

    ``result`` is cut to a preview when large (``result_truncated``; ``result_chars`` is the full
    size)."""

    tool_call_id: str = ""
    tool: str = ""
    ok: bool = False
    duration_ms: float | None = None
    result: Any = None
    error: Any = None
    result_chars: int | None = None
    result_truncated: bool = False
    truncated_for_model: bool = False


class HumanRequestEvent(APIModel):
    """An approval or a question as its events carry it (``approval.*`` and ``input.*``).

    Approvals have ``tool``, ``tool_call_id`` and ``args``; questions have ``question``. Decide an
    approval with ``client.approvals.approve(run_id, event.request_id)``; answer a question with
    ``client.questions.answer(run_id, "...", request_id=event.request_id)``."""

    request_id: str = ""
    status: str = ""
    expires_at: datetime | None = None
    tool: str | None = None
    tool_call_id: str | None = None
    args: dict[str, Any] | None = None
    question: str | None = None
    decided_by: str | None = None
    reason: str | None = None
    answer: str | None = None


class RunEvent(APIModel):
    """One event of a run, as lists and streams return it.

    Example:
        >>> for event in handle.stream():
        ...     if event.text_delta is not None:
        ...         print(event.text_delta, end="")
        ...     elif (call := event.tool_call) is not None:
        ...         print(f"\\n-> {call.tool}({call.args})")
        ...     elif (result := event.tool_result) is not None:
        ...         print(f"<- {result.result if result.ok else result.error}")
        ...     elif (approval := event.approval_request) is not None:
        ...         client.approvals.approve(event.run_id, approval.request_id)
    """

    id: str
    seq: int
    run_id: str
    type: Annotated[EventType | str, Field(union_mode="left_to_right")]
    at: datetime
    data: dict[str, Any]

    @classmethod
    def from_json(cls, text: str) -> RunEvent:
        """An event from its JSON envelope (an SSE message's ``data``)."""
        return cls.model_validate(json.loads(text))

    @property
    def is_terminal(self) -> bool:
        """Whether this event ends the run (``run.succeeded|failed|cancelled|timed_out``)."""
        return self.type in TERMINAL_EVENT_TYPES

    @property
    def run_status(self) -> RunStatus | None:
        """The status a terminal event ends the run with (``None`` for other events)."""
        return _TERMINAL_STATUS.get(self.type)

    @property
    def text_delta(self) -> str | None:
        """The new text of a ``model.text.delta`` event (``None`` for other events)."""
        if self.type != EventType.MODEL_TEXT_DELTA:
            return None
        delta = self.data.get("delta")
        return delta if isinstance(delta, str) else ""

    @property
    def text(self) -> TextDelta | None:
        """A ``model.text.delta`` event's data, with its step and attempt."""
        return TextDelta.model_validate(self.data) if self.type == EventType.MODEL_TEXT_DELTA else None

    @property
    def model_request(self) -> ModelRequestStarted | ModelRequestFinished | None:
        """A ``model.request.started`` or ``model.request.finished`` event's data."""
        if self.type == EventType.MODEL_REQUEST_STARTED:
            return ModelRequestStarted.model_validate(self.data)
        if self.type == EventType.MODEL_REQUEST_FINISHED:
            return ModelRequestFinished.model_validate(self.data)
        return None

    @property
    def tool_call(self) -> ToolCallStarted | None:
        """A ``tool.call.started`` event's data: which tool, with which arguments."""
        return ToolCallStarted.model_validate(self.data) if self.type == EventType.TOOL_CALL_STARTED else None

    @property
    def tool_result(self) -> ToolCallFinished | None:
        """A ``tool.call.finished`` event's data: the result or the error."""
        return (
            ToolCallFinished.model_validate(self.data) if self.type == EventType.TOOL_CALL_FINISHED else None
        )

    @property
    def approval_request(self) -> HumanRequestEvent | None:
        """An ``approval.requested`` event's approval (decide it by its ``request_id``)."""
        if self.type != EventType.APPROVAL_REQUESTED:
            return None
        return HumanRequestEvent.model_validate(self.data)

    @property
    def question(self) -> HumanRequestEvent | None:
        """An ``input.requested`` event's question (answer it by its ``request_id``)."""
        return HumanRequestEvent.model_validate(self.data) if self.type == EventType.INPUT_REQUESTED else None

    @property
    def human_request(self) -> HumanRequestEvent | None:
        """The approval or question of any ``approval.*`` or ``input.*`` event."""
        if self.type.startswith(("approval.", "input.")):
            return HumanRequestEvent.model_validate(self.data)
        return None

    @property
    def usage(self) -> RunUsage | None:
        """The run's usage, carried by its terminal event."""
        usage = self.data.get("usage") if self.is_terminal else None
        return RunUsage.model_validate(usage) if isinstance(usage, dict) else None

    @property
    def error(self) -> RunError | None:
        """Why the run did not succeed, carried by a failed, cancelled or timed-out event."""
        error = self.data.get("error") if self.is_terminal else None
        return RunError.model_validate(error) if isinstance(error, dict) else None
