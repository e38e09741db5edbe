"""Human requests of a run: tool approvals and questions for a human (``ask_human``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum as SqlEnum
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import jsonb_column, timestamp_column, utcnow


class HumanRequestKind(StrEnum):
    """What the run waits for."""

    APPROVAL = "approval"
    INPUT = "input"


class HumanRequestStatus(StrEnum):
    """``pending`` until decided, answered, expired (timeout) or cancelled (the run ended)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


class HumanRequest(SQLModel, table=True):
    """One approval (``apr_…``) or question (``inp_…``) of a run."""

    __tablename__ = "human_requests"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        UniqueConstraint("run_id", "tool_call_id", name="uq_human_requests_run_call"),
        Index("ix_human_requests_tenant_run", "tenant_id", "run_id", "kind", "id"),
        # The tenant-wide inbox (GET /v1/approvals, /v1/questions): by status, and all of them.
        Index("ix_human_requests_tenant_kind_status", "tenant_id", "kind", "status", "id"),
        Index("ix_human_requests_tenant_kind", "tenant_id", "kind", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    run_id: str = Field(foreign_key="runs.id", max_length=40)
    kind: HumanRequestKind = Field(
        sa_type=SqlEnum(HumanRequestKind, native_enum=False, length=20, values_callable=_values)
    )
    status: HumanRequestStatus = Field(
        default=HumanRequestStatus.PENDING,
        sa_type=SqlEnum(HumanRequestStatus, native_enum=False, length=20, values_callable=_values),
    )
    tool_call_id: str = Field(max_length=200)
    tool: str = Field(max_length=100)
    args: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb_column())
    question: str | None = None
    answer: str | None = None
    reason: str | None = None
    decided_by: str | None = Field(default=None, max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    expires_at: datetime = Field(sa_column=timestamp_column())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
