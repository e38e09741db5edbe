"""The run lifecycle, owned in one place: statuses, the transition table, event types, dedupe keys.

A run's status is written by the API (created, failed to start, cancelled before it started) and
by the worker (started, waiting for a human or a budget, resumed, finished). Before this module
each writer carried its own copy of the rules and its own string literals, and only one of eight
writers checked the transition table. Now:

* :class:`RunStatus` and :data:`ALLOWED_TRANSITIONS` say where a run may go (nothing leaves a
  terminal status);
* :class:`EventType` names every event a run can carry (the OpenAPI document lists them);
* :class:`DedupeKey` builds every idempotency key an event is written under, so a retried activity
  or request writes each event once, and a run has at most one terminal event
  (:meth:`DedupeKey.run_finished`, whichever writer ends it);
* ``RunRepository.transition`` (``agent_runtime_core.repositories.runs``) is the one method that
  changes a run's status: under the run's row lock it checks this table, writes the status and
  its timestamps, and appends the transition's events through the single SQL append path.

Pure and deterministic: workflow code may import it. Every string here is stored in event rows
and workflow histories: treat them as frozen once released.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "ACTIVE_STATUSES",
    "ALLOWED_TRANSITIONS",
    "TERMINAL_EVENT_TYPES",
    "TERMINAL_STATUSES",
    "DedupeKey",
    "EventSpec",
    "EventType",
    "RunStatus",
    "can_transition",
    "human_request_event",
    "terminal_event",
]


class RunStatus(StrEnum):
    """Lifecycle: ``queued → running ⇄ waiting → succeeded | failed | cancelled | timed_out``."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        """Whether nothing may follow this status."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: Final = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)
ACTIVE_STATUSES: Final = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING})

ALLOWED_TRANSITIONS: Final[dict[RunStatus, frozenset[RunStatus]]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING} | TERMINAL_STATUSES),
    RunStatus.RUNNING: frozenset({RunStatus.WAITING} | TERMINAL_STATUSES),
    RunStatus.WAITING: frozenset({RunStatus.RUNNING} | TERMINAL_STATUSES),
    **{status: frozenset[RunStatus]() for status in TERMINAL_STATUSES},
}
"""Where a run may go from each status (staying put is not a transition)."""


def can_transition(current: RunStatus, target: RunStatus) -> bool:
    """Whether a run in ``current`` may be written as ``target``.

    Staying put is allowed for an active status (a retried activity re-records it), never for a
    terminal one: a finished run is not written again.
    """
    if current.is_terminal:
        return False
    return current == target or target in ALLOWED_TRANSITIONS[current]


class EventType(StrEnum):
    """Every type of run event (what each one's ``data`` holds: docs/architecture.md, "Run events")."""

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

    @property
    def is_terminal(self) -> bool:
        """Whether this event ends the run (and closes its stream)."""
        return self in TERMINAL_EVENT_TYPES


class EventSpec(NamedTuple):
    """One event to append to a run: its type, data and idempotency key (:class:`DedupeKey`)."""

    type: str
    data: dict[str, Any]
    dedupe_key: str


_TERMINAL_EVENTS: Final[dict[RunStatus, EventType]] = {
    RunStatus.SUCCEEDED: EventType.RUN_SUCCEEDED,
    RunStatus.FAILED: EventType.RUN_FAILED,
    RunStatus.CANCELLED: EventType.RUN_CANCELLED,
    RunStatus.TIMED_OUT: EventType.RUN_TIMED_OUT,
}
TERMINAL_EVENT_TYPES: Final = frozenset(_TERMINAL_EVENTS.values())


def terminal_event(status: RunStatus) -> EventType:
    """The event that records a run ending in ``status`` (a terminal status)."""
    try:
        return _TERMINAL_EVENTS[status]
    except KeyError:
        raise ValueError(f"{status.value!r} is not a terminal status") from None


def human_request_event(kind: str, status: str) -> EventType:
    """The event for a human request of ``kind`` (``approval``/``input``) reaching ``status``.

    ``pending`` is the request being opened (``*.requested``); a decision or an answer is
    ``approval.decided`` / ``input.answered``; ``expired`` and ``cancelled`` have their own.
    """
    prefix = "approval" if kind == "approval" else "input"
    if status == "pending":
        what = "requested"
    elif status in ("expired", "cancelled"):
        what = status
    else:
        what = "decided" if prefix == "approval" else "answered"
    return EventType(f"{prefix}.{what}")


class DedupeKey:
    """Builders of the idempotency keys run events are written under (unique per run).

    A key names *what happened*, not when: the same activity retried, or the same request sent
    twice, builds the same key and the second write is skipped. Attempt 1 of a model request or
    tool call keeps the short key; a retry writes its own ``…:a<attempt>:…`` events.
    """

    RUN_QUEUED: Final = "run.queued"
    RUN_STARTED: Final = "run.started"
    RUN_FINISHED: Final = "run.finished"
    """Every terminal event of a run, whoever writes it: a run has at most one."""

    @staticmethod
    def _attempt(attempt: int) -> str:
        return "" if attempt == 1 else f":a{attempt}"

    @staticmethod
    def model_started(step: int, attempt: int) -> str:
        """``model.request.started`` of one attempt of one step's model request."""
        return f"model:{step}{DedupeKey._attempt(attempt)}:started"

    @staticmethod
    def model_finished(step: int, attempt: int) -> str:
        """``model.request.finished`` of one attempt of one step's model request."""
        return f"model:{step}{DedupeKey._attempt(attempt)}:finished"

    @staticmethod
    def model_delta(step: int, attempt: int, index: int) -> str:
        """The ``index``-th ``model.text.delta`` of one attempt (always names the attempt)."""
        return f"model:{step}:a{attempt}:delta:{index}"

    @staticmethod
    def model_fallback(step: int, to_model: str) -> str:
        """``model.fallback`` of a step to ``to_model``."""
        return f"model:{step}:fallback:{to_model}"

    @staticmethod
    def tool_started(tool_call_id: str, attempt: int) -> str:
        """``tool.call.started`` of one attempt of a tool call."""
        return f"tool:{tool_call_id}{DedupeKey._attempt(attempt)}:started"

    @staticmethod
    def tool_finished(tool_call_id: str) -> str:
        """``tool.call.finished`` of a tool call (one, whichever attempt finished it)."""
        return f"tool:{tool_call_id}:finished"

    @staticmethod
    def human_requested(request_id: str) -> str:
        """``approval.requested`` / ``input.requested``."""
        return f"human:{request_id}:requested"

    @staticmethod
    def human_resolved(request_id: str) -> str:
        """The one event that resolves a human request (decided, answered, expired, cancelled)."""
        return f"human:{request_id}:resolved"

    @staticmethod
    def waiting_for_humans(first_request_id: str) -> str:
        """``run.waiting`` for a batch of human requests (named by its first request)."""
        return f"run.waiting:{first_request_id}"

    @staticmethod
    def resumed_after(last_event_seq: int) -> str:
        """``run.resumed`` after a human wait: unique per wait, stable across retries of the
        transaction that closes it (the wait's events precede it)."""
        return f"run.resumed:{last_event_seq}"

    @staticmethod
    def budget_waiting(wait_key: str) -> str:
        """``run.waiting`` for a budget to reset (``wait_key``: step and attempt)."""
        return f"budget:{wait_key}:waiting"

    @staticmethod
    def budget_resumed(wait_key: str) -> str:
        """``run.resumed`` after a budget reset."""
        return f"budget:{wait_key}:resumed"

    @staticmethod
    def artifact_created(artifact_id: str) -> str:
        """``artifact.created`` of an artifact a tool wrote (its id is stable across retries)."""
        return f"artifact:{artifact_id}:created"

    @staticmethod
    def thread_summarized(thread_id: str, through_seq: int) -> str:
        """``thread.summarized`` of the summary of a thread's turns up to ``through_seq``."""
        return f"thread:{thread_id}:summary:{through_seq}"
