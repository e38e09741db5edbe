"""Model-provider endpoints and their circuit breakers, as the admin API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ProviderEndpointPublic(BaseModel):
    """One provider endpoint (a provider at a base URL) and its circuit breaker."""

    id: str = Field(
        description="Endpoint id: provider and a hash of its base URL.", examples=["openai-3f1c2a9b7d10"]
    )
    provider: str = Field(examples=["openai", "anthropic", "openai-compatible"])
    base_url: str = Field(examples=["https://api.openai.com/v1"])
    state: Literal["closed", "open", "half_open"] = Field(
        description="closed: requests go through. open: requests skip to the next fallback model "
        "without an HTTP call. half_open: one probe request is out; the others skip."
    )
    failures: int = Field(
        description="Retryable failures within the window (closed), or the failures that opened it."
    )
    opened_at: datetime | None = Field(description="When the breaker last opened (not closed since).")
    next_probe_at: datetime | None = Field(
        description="open: when the cool-down ends and the next request probes. half_open: when the "
        "running probe's time is up."
    )


class BreakerSettingsPublic(BaseModel):
    """The breaker settings of this API process (workers should share them)."""

    failure_threshold: int
    window_s: float
    cooldown_s: float


class ProviderEndpointList(BaseModel):
    """Every provider endpoint the workers have used, with its breaker."""

    data: list[ProviderEndpointPublic]
    breakers_enabled: bool = Field(
        description="False without Redis: breakers are off (requests always go through)."
    )
    settings: BreakerSettingsPublic
