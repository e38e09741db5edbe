"""Per-tenant limits: request rate limits and the cap on active runs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agent_runtime_core.schemas.common import StrictInput


class TenantLimitsUpdate(StrictInput):
    """A tenant's own limits. Each is optional: null (or left out) means the deployment default."""

    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Requests per minute (sliding window)."
    )
    rate_limit_burst: int | None = Field(
        default=None, ge=1, le=100_000, description="Requests in any one second."
    )
    max_active_runs: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="Queued, running and waiting runs at once (0: no cap).",
    )


class EffectiveLimit(BaseModel):
    """One limit as it applies now."""

    value: int = Field(description="The limit in force (`max_active_runs` 0: no cap).")
    source: Literal["tenant", "default"] = Field(
        description="`tenant`: set for this tenant by the operators; `default`: the deployment's."
    )


class TenantLimitsPublic(BaseModel):
    """The limits that apply to a tenant, and who set them."""

    tenant_id: str
    rate_limit_per_minute: EffectiveLimit
    rate_limit_burst: EffectiveLimit
    max_active_runs: EffectiveLimit
    rate_limits_enforced: bool = Field(
        description="False when this deployment does not enforce rate limits (disabled, or no Redis)."
    )
    updated_at: datetime | None = Field(default=None, description="When the operators last set them.")
    updated_by: str | None = None
