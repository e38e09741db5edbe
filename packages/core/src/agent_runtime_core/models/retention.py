"""Per-tenant overrides of the deployment's retention periods."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import timestamp_column, utcnow


class TenantRetention(SQLModel, table=True):
    """A tenant's own retention periods in days, set by the platform's operators; ``None``: the
    deployment default (``AGENT_RUNTIME_RETENTION_*_DAYS``); ``0``: keep forever."""

    __tablename__ = "tenant_retention"  # pyright: ignore[reportAssignmentType]

    tenant_id: str = Field(primary_key=True, max_length=40)
    runs_days: int | None = Field(default=None)
    threads_days: int | None = Field(default=None)
    artifacts_days: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_by: str | None = Field(default=None, max_length=200)
