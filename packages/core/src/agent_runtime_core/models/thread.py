"""Threads (conversations) and their history: one row per turn a run appended."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow

__all__ = ["MultitaskStrategy", "Thread", "ThreadMessage", "ThreadSummary"]


class MultitaskStrategy(StrEnum):
    """What happens to a run whose thread is busy (another run has the turn)."""

    REJECT = "reject"
    """Refused: 409 ``thread_busy``."""
    ENQUEUE = "enqueue"
    """Waits for its turn, after the runs already waiting."""
    INTERRUPT = "interrupt"
    """The active run is cancelled; this run is next, ahead of enqueued runs."""
    ROLLBACK = "rollback"
    """Like ``interrupt``, and the cancelled run is marked rolled back: its turn is never appended."""

    @property
    def interrupts(self) -> bool:
        """Whether the run cancels the active run and jumps the queue."""
        return self in (MultitaskStrategy.INTERRUPT, MultitaskStrategy.ROLLBACK)


class Thread(SQLModel, table=True):
    """A conversation: runs that name it see its earlier turns; one run has the turn at a time.

    ``active_run_id`` is the run that has the turn (``None``: idle); ``queued_run_ids`` the runs
    waiting for it, in the order they get it. Both change only under the thread's row lock
    (admission in the API, the hand-over in the same transaction as a run's terminal status), and
    ``active_run_id`` is ``None`` only when the queue is empty.
    """

    __tablename__ = "threads"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_threads_tenant_id", "tenant_id", "id"),
        Index("ix_threads_metadata", "metadata", postgresql_using="gin"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    # `metadata` is SQLAlchemy's name for a table's schema: the attribute is `thread_metadata`.
    thread_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSONB, nullable=False)
    )
    active_run_id: str | None = Field(default=None, max_length=40)
    queued_run_ids: list[str] = Field(default_factory=list, sa_column=jsonb_column())
    last_message_seq: int = 0
    admitted_runs: int = 0
    """Runs admitted so far (rejected ones excluded): the n-th has ``admission: n`` in its
    ``run.queued`` event, which records the order concurrent requests were decided in."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class ThreadMessage(SQLModel, table=True):
    """One turn of a thread: the NEW pydantic-ai messages of one succeeded run, in order.

    ``messages`` is ``ModelMessagesTypeAdapter.dump_python(..., mode="json")`` of
    ``result.new_messages()``. ``seq`` is gap-free per thread (allocated under the thread's row
    lock); ``(thread_id, run_id)`` is unique, so a retried write appends the turn once.
    """

    __tablename__ = "thread_messages"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        UniqueConstraint("thread_id", "run_id", name="uq_thread_messages_run"),
        Index("ix_thread_messages_tenant_id", "tenant_id"),
    )

    thread_id: str = Field(primary_key=True, foreign_key="threads.id", max_length=40)
    seq: int = Field(primary_key=True)
    tenant_id: str = Field(max_length=40)
    run_id: str = Field(max_length=40)
    messages: list[dict[str, Any]] = Field(default_factory=list, sa_column=jsonb_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ThreadSummary(SQLModel, table=True):
    """A summary of a thread's turns ``1 .. through_seq``, written by the model when the version's
    ``summarize`` context strategy found the thread too long. One per ``(thread, through_seq)``:
    a retried or repeated summarization keeps the first. The turns themselves are never changed."""

    __tablename__ = "thread_summaries"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (Index("ix_thread_summaries_tenant_id", "tenant_id"),)

    thread_id: str = Field(primary_key=True, foreign_key="threads.id", max_length=40)
    through_seq: int = Field(primary_key=True)
    tenant_id: str = Field(max_length=40)
    run_id: str = Field(max_length=40)
    """The run whose turn needed it (its ``thread.summarized`` event shows it)."""
    from_seq: int = 1
    """The first turn the summary's request read (earlier ones came through the previous summary)."""
    model: str = Field(max_length=200)
    summary: str
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
