"""Budgets, model price overrides and usage reports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import ModelPrice


class BudgetUpdate(StrictInput):
    """A tenant's budgets. Every limit is optional: null (or left out) means unlimited."""

    daily_tokens: int | None = Field(default=None, ge=0, le=10**15, description="Tokens per UTC day.")
    daily_cost_usd: Decimal | None = Field(
        default=None, ge=0, le=10**9, decimal_places=8, description="USD per UTC day."
    )
    monthly_tokens: int | None = Field(default=None, ge=0, le=10**15, description="Tokens per UTC month.")
    monthly_cost_usd: Decimal | None = Field(
        default=None, ge=0, le=10**9, decimal_places=8, description="USD per UTC month."
    )
    on_exceeded: Literal["fail", "wait"] = Field(
        default="fail",
        description=(
            "`fail`: a run whose model request finds a budget used up fails with `budget_exceeded`; "
            "`wait`: it waits (`waiting`) until the period resets, then goes on."
        ),
    )


class BudgetLimitStatus(BaseModel):
    """One limit: what is used of it and when it resets."""

    name: str = Field(description="`daily_tokens`, `daily_cost_usd`, `monthly_tokens` or `monthly_cost_usd`.")
    limit: Decimal
    used: Decimal
    resets_at: datetime
    exhausted: bool = Field(description="True: new model requests are refused until `resets_at`.")


class BudgetPublic(BudgetUpdate):
    """A tenant's budgets and how much of them is used now."""

    updated_at: datetime | None = None
    updated_by: str | None = None
    status: list[BudgetLimitStatus] = Field(description="Every limit that is set.")


class ModelPriceUpdate(StrictInput):
    """Prices in USD per million tokens."""

    input_usd_per_mtok: Decimal = Field(ge=0, le=10**6, decimal_places=8)
    output_usd_per_mtok: Decimal = Field(ge=0, le=10**6, decimal_places=8)
    cached_input_usd_per_mtok: Decimal | None = Field(
        default=None,
        ge=0,
        le=10**6,
        decimal_places=8,
        description="Cached input tokens; null: the input price.",
    )


class ModelPricePublic(ModelPriceUpdate):
    """A price override: it wins over genai-prices for this provider and model."""

    provider: str
    model: str
    scope: Literal["tenant", "global"] = Field(description="`tenant` overrides win over `global` ones.")
    updated_at: datetime

    @classmethod
    def from_row(cls, price: ModelPrice) -> ModelPricePublic:
        """A price override as the API shows it (``tenant_id`` null: a global one)."""
        return cls(
            provider=price.provider,
            model=price.model,
            scope="global" if price.tenant_id is None else "tenant",
            input_usd_per_mtok=price.input_usd_per_mtok,
            output_usd_per_mtok=price.output_usd_per_mtok,
            cached_input_usd_per_mtok=price.cached_input_usd_per_mtok,
            updated_at=price.updated_at,
        )


class UsageTotals(BaseModel):
    """Usage of a group of model requests (`day`, `agent_id`, `model` when grouped by them)."""

    day: date | None = None
    agent_id: str | None = None
    model: str | None = Field(default=None, description="`provider:model`.")
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None = Field(description="Cost of the priced requests; null when none was priced.")
    unpriced_requests: int = Field(description="Requests of a model with no known price (not in `cost_usd`).")


class UsageReport(BaseModel):
    """Usage of your tenant between `since` (inclusive) and `until` (exclusive)."""

    since: datetime
    until: datetime
    group_by: list[Literal["day", "agent", "model"]]
    totals: UsageTotals
    groups: list[UsageTotals]
    budget: BudgetPublic | None = Field(description="Your budgets and their use now; null: no budget is set.")
