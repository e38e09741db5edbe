"""Artifacts: files kept for a tenant (bytes in object storage, this row in Postgres)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, text
from sqlalchemy import Enum as SqlEnum
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import timestamp_column, utcnow

__all__ = ["Artifact", "ArtifactStatus"]


class ArtifactStatus(StrEnum):
    """Whether an artifact's bytes are there."""

    PENDING = "pending"
    """A presigned upload was handed out; the bytes are not verified yet."""
    READY = "ready"
    """The bytes are stored and checked (size, SHA-256): readable."""


def _status_values(statuses: type[ArtifactStatus]) -> list[str]:
    return [status.value for status in statuses]


class Artifact(SQLModel, table=True):
    """A file of a tenant, optionally tied to a run or a thread.

    ``object_key`` (``tenants/<tenant_id>/artifacts/<id>/<random>``) never leaves the API: clients
    get the bytes through the API or a presigned URL for that key alone. While ``pending``,
    ``size`` and ``sha256`` are what the client declared (``sha256`` may be unknown); once
    ``ready`` they are the stored object's. A deleted artifact keeps its row (``deleted_at``);
    its object is deleted.
    """

    __tablename__ = "artifacts"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_artifacts_tenant_id", "tenant_id", "id"),
        Index(
            "ix_artifacts_run_id", "tenant_id", "run_id", "id", postgresql_where=text("run_id IS NOT NULL")
        ),
        Index(
            "ix_artifacts_thread_id",
            "tenant_id",
            "thread_id",
            "id",
            postgresql_where=text("thread_id IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=40)
    name: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    sha256: str | None = Field(default=None, max_length=64)
    status: ArtifactStatus = Field(
        sa_type=SqlEnum(
            ArtifactStatus,
            native_enum=False,
            length=20,
            values_callable=_status_values,
            validate_strings=True,
        ),
    )
    run_id: str | None = Field(default=None, max_length=40)
    thread_id: str | None = Field(default=None, max_length=40)
    created_by: str = Field(max_length=200)
    object_key: str = Field(max_length=300)
    upload_expires_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    """Until when the presigned upload URL of a pending artifact works."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
