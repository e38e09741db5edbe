"""Runs and their events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Index, Numeric, UniqueConstraint, text
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from agent_runtime_core.lifecycle import RunStatus
from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow

__all__ = ["Run", "RunEvent", "RunStatus"]


def _status_values(statuses: type[RunStatus]) -> list[str]:
    return [status.value for status in statuses]


class Run(SQLModel, table=True):
    """One execution of a pinned agent version: one Temporal workflow ``run-<id>``."""

    __tablename__ = "runs"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        ForeignKeyConstraint(
            ["agent_id", "agent_version"], ["agent_versions.agent_id", "agent_versions.version"]
        ),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_runs_tenant_idempotency_key"),
        Index("ix_runs_tenant_agent_id", "tenant_id", "agent_id", "id"),
        Index("ix_runs_tenant_status_id", "tenant_id", "status", "id"),
        Index("ix_runs_tenant_id", "tenant_id", "id"),
        Index("ix_runs_thread_id", "thread_id", postgresql_where=text("thread_id IS NOT NULL")),
        Index(
            "ix_runs_active_status",
            "status",
            postgresql_where=text("status IN ('queued', 'running', 'waiting')"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    agent_id: str = Field(max_length=40)
    agent_version: int
    status: RunStatus = Field(
        default=RunStatus.QUEUED,
        sa_type=SqlEnum(
            RunStatus,
            native_enum=False,
            length=20,
            values_callable=_status_values,
            validate_strings=True,
        ),
    )
    input: str
    output: Any | None = Field(default=None, sa_column=jsonb_column(nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=jsonb_column(nullable=True))
    usage_requests: int = 0
    usage_input_tokens: int = 0
    usage_output_tokens: int = 0
    cost_usd: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 8), nullable=True))
    workflow_id: str = Field(max_length=60)
    idempotency_key: str | None = Field(default=None, max_length=255)
    request_fingerprint: str | None = Field(default=None, max_length=64)
    trace_id: str | None = Field(default=None, max_length=32)
    thread_id: str | None = Field(default=None, foreign_key="threads.id", max_length=40)
    """The thread (conversation) the run is a turn of, if any."""
    multitask_strategy: str | None = Field(default=None, max_length=20)
    """What the run asked for when its thread was busy (``reject``/``enqueue``/``interrupt``/
    ``rollback``); ``None`` for runs without a thread."""
    rolled_back_by: str | None = Field(default=None, max_length=40)
    """The run whose ``rollback`` cancelled this one: its turn is never appended to the thread."""
    # `metadata` is SQLAlchemy's name for a table's schema: the attribute is `run_metadata`.
    run_metadata: dict[str, Any] | None = Field(
        default=None, sa_column=Column("metadata", JSONB, nullable=True)
    )
    """The caller's JSON object (``POST /v1/runs`` ``metadata``); the ``user`` memory scope reads a
    key of it. ``None``: none given (and every run created before it existed)."""
    input_artifact_ids: list[str] | None = Field(default=None, sa_column=jsonb_column(nullable=True))
    """The artifacts the run was given (``POST /v1/runs`` ``artifact_ids``), in order; its tools
    may read them. ``None``: none (and every run created before the field existed)."""
    last_event_seq: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    started_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class RunEvent(SQLModel, table=True):
    """One event of a run. ``seq`` is gap-free per run (allocated under the run's row lock).

    ``dedupe_key`` makes writes idempotent: an activity that runs twice writes its events once.
    """

    __tablename__ = "run_events"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (UniqueConstraint("run_id", "dedupe_key", name="uq_run_events_dedupe"),)

    run_id: str = Field(primary_key=True, foreign_key="runs.id", max_length=40)
    seq: int = Field(primary_key=True)
    tenant_id: str = Field(index=True, max_length=40)
    type: str = Field(max_length=60)
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    data: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    dedupe_key: str = Field(max_length=200)
