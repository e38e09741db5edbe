"""Per-tenant overrides of the deployment's request rate limits and active-run cap."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import timestamp_column, utcnow


class TenantLimits(SQLModel, table=True):
    """A tenant's own limits, set by the platform's operators; ``None``: the deployment default
    (``AGENT_RUNTIME_RATE_LIMIT_*``, ``AGENT_RUNTIME_MAX_ACTIVE_RUNS_PER_TENANT``)."""

    __tablename__ = "tenant_limits"  # pyright: ignore[reportAssignmentType]

    tenant_id: str = Field(primary_key=True, max_length=40)
    rate_limit_per_minute: int | None = Field(default=None)
    rate_limit_burst: int | None = Field(default=None)
    max_active_runs: int | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_by: str | None = Field(default=None, max_length=200)
