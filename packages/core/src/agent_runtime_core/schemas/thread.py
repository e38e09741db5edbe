"""Threads (conversations) and their messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import Thread, ThreadSummary


class ThreadCreate(StrictInput):
    """Start a conversation."""

    metadata: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="Your own JSON object (who, what about); searchable with `GET /v1/threads?metadata=`.",
        examples=[{"user": "u_42", "topic": "billing"}],
    )


class ThreadUpdate(StrictInput):
    """Change a thread's metadata: the given keys are set (merged into the existing object)."""

    metadata: dict[str, Any] = Field(examples=[{"topic": "refund"}])


class ThreadStatus(StrEnum):
    """What a thread is doing."""

    IDLE = "idle"
    """No run has the turn: a new run starts at once."""
    BUSY = "busy"
    """A run has the turn (queued to start or running)."""
    INTERRUPTED = "interrupted"
    """The run that has the turn is `waiting` for a human (an approval or an answer)."""


class ThreadSummaryPublic(BaseModel):
    """The latest summary of the thread's oldest turns (the `summarize` context strategy): what a
    run's model sees in place of turns 1 to `through_seq`. The turns themselves stay readable."""

    through_seq: int = Field(description="The summary stands for turns 1 to this one.")
    from_seq: int = Field(
        description="The first turn its request read (earlier ones came through the previous summary)."
    )
    text: str
    model: str = Field(description="The model that wrote it.")
    run_id: str = Field(description="The run whose turn needed it (its `thread.summarized` event).")
    created_at: datetime


class ThreadPublic(BaseModel):
    """A thread and its state."""

    id: str = Field(examples=["thr_01jd3x8a0b1c2d3e4f5g6h7j8k"])
    metadata: dict[str, Any]
    status: ThreadStatus
    active_run_id: str | None = Field(description="The run that has the turn (one at a time).")
    queued_run_ids: list[str] = Field(description="Runs waiting for the turn, in the order they get it.")
    created_at: datetime
    updated_at: datetime
    summary: ThreadSummaryPublic | None = Field(
        default=None,
        description=(
            "The latest summary of the thread's oldest turns, when the agent version's `summarize` "
            "context strategy wrote one (null otherwise)."
        ),
    )

    @classmethod
    def from_row(
        cls, thread: Thread, *, active_run_status: str | None, summary: ThreadSummary | None = None
    ) -> ThreadPublic:
        """The thread as the API shows it, given the status of its active run and its summary."""
        status = ThreadStatus.IDLE
        if thread.active_run_id is not None:
            status = ThreadStatus.INTERRUPTED if active_run_status == "waiting" else ThreadStatus.BUSY
        return cls(
            id=thread.id,
            metadata=thread.thread_metadata,
            status=status,
            active_run_id=thread.active_run_id,
            queued_run_ids=list(thread.queued_run_ids),
            created_at=thread.created_at,
            updated_at=thread.updated_at,
            summary=ThreadSummaryPublic(
                through_seq=summary.through_seq,
                from_seq=summary.from_seq,
                text=summary.summary,
                model=summary.model,
                run_id=summary.run_id,
                created_at=summary.created_at,
            )
            if summary is not None
            else None,
        )


class ThreadMessagePublic(BaseModel):
    """One message of a thread's history, as the model saw it.

    ``parts`` are pydantic-ai's message parts in their JSON form, each with a ``part_kind``:
    ``user-prompt`` (``content``), ``system-prompt``, ``text`` (the assistant's answer, ``content``),
    ``tool-call`` (``tool_name``, ``args``, ``tool_call_id``), ``tool-return`` (``tool_name``,
    ``content``, ``tool_call_id``), ``retry-prompt``, ``thinking``. Readers should skip kinds
    they do not know.
    """

    id: str = Field(description="`<seq>.<index>`: the turn and the message's place in it.", examples=["2.0"])
    seq: int = Field(description="The turn (gap-free per thread, from 1).")
    index: int = Field(description="The message's place in its turn (from 0).")
    run_id: str = Field(description="The run whose turn it is.")
    kind: Literal["request", "response"] | str = Field(
        description="`request`: sent to the model (user prompt, tool results); `response`: the model's."
    )
    role: Literal["user", "assistant"] = Field(
        description="`assistant` for the model's responses, `user` for what was sent to it."
    )
    parts: list[dict[str, Any]]
    created_at: datetime = Field(description="When the turn was appended.")
