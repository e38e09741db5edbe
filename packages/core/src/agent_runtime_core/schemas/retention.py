"""Retention periods: how long finished runs, idle threads and artifacts are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent_runtime_core.schemas.common import StrictInput

MAX_RETENTION_DAYS = 36_500


class TenantRetentionUpdate(StrictInput):
    """A tenant's own retention periods in days. Each is optional: null (or left out) means the
    deployment default; 0 means keep forever."""

    runs_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days a finished run (with its events, approvals and questions) is kept after it "
        "finished (0: forever).",
    )
    threads_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days an idle thread (with its messages and summaries) is kept after its last "
        "change (0: forever).",
    )
    artifacts_days: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days an artifact (its row and its bytes) is kept after its creation (0: forever).",
    )


class EffectiveRetention(BaseModel):
    """One retention period as it applies now."""

    days: int = Field(description="Days kept (0: forever).")
    source: Literal["tenant", "default"] = Field(
        description="`tenant`: set for this tenant by the operators; `default`: the deployment's."
    )


class TenantRetentionPublic(BaseModel):
    """The retention periods that apply to a tenant, and who set them."""

    tenant_id: str
    runs_days: EffectiveRetention
    threads_days: EffectiveRetention
    artifacts_days: EffectiveRetention
    pending_upload_hours: int = Field(
        description="Hours after its upload URL expired that an upload never completed is deleted."
    )
    updated_at: datetime | None = Field(default=None, description="When the operators last set them.")
    updated_by: str | None = None
