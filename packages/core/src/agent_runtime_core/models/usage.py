"""Usage, cost and budgets: the per-request ledger, per-period counters, tenant budgets and
price overrides."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Date, Index, Numeric, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from agent_runtime_core.models.base import timestamp_column, utcnow

USD = Numeric(18, 8)
"""Money: 8 decimals keep the price of a single token exact."""


class OnBudgetExceeded(StrEnum):
    """What a run does when its tenant's budget is used up."""

    FAIL = "fail"
    WAIT = "wait"


class PriceSource(StrEnum):
    """Where a model request's price came from."""

    OVERRIDE = "override"
    GENAI_PRICES = "genai-prices"
    UNKNOWN = "unknown"


class TenantBudget(SQLModel, table=True):
    """A tenant's token and cost budgets (``None``: unlimited), per UTC day and month."""

    __tablename__ = "tenant_budgets"  # pyright: ignore[reportAssignmentType]

    tenant_id: str = Field(primary_key=True, max_length=40)
    daily_tokens: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    daily_cost_usd: Decimal | None = Field(default=None, sa_column=Column(USD, nullable=True))
    monthly_tokens: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    monthly_cost_usd: Decimal | None = Field(default=None, sa_column=Column(USD, nullable=True))
    on_exceeded: str = Field(default=OnBudgetExceeded.FAIL.value, max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_by: str | None = Field(default=None, max_length=200)


class ModelPrice(SQLModel, table=True):
    """A price override (USD per million tokens); ``tenant_id`` ``None`` is global.

    A tenant's row wins over a global one, and either wins over genai-prices.
    """

    __tablename__ = "model_prices"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "provider", "model", name="uq_model_prices_scope", postgresql_nulls_not_distinct=True
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str | None = Field(default=None, max_length=40)
    provider: str = Field(max_length=40)
    model: str = Field(max_length=200)
    input_usd_per_mtok: Decimal = Field(sa_column=Column(USD, nullable=False))
    output_usd_per_mtok: Decimal = Field(sa_column=Column(USD, nullable=False))
    cached_input_usd_per_mtok: Decimal | None = Field(default=None, sa_column=Column(USD, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class ModelRequestRecord(SQLModel, table=True):
    """The usage ledger: one row per model request, written once (``run_id`` + ``request_key``)."""

    __tablename__ = "model_requests"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        UniqueConstraint("run_id", "request_key", name="uq_model_requests_run_request"),
        Index("ix_model_requests_tenant_at", "tenant_id", "at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    tenant_id: str = Field(max_length=40)
    run_id: str = Field(max_length=40)
    request_key: str = Field(max_length=200)
    agent_id: str | None = Field(default=None, max_length=40)
    agent_version: int | None = None
    provider: str = Field(max_length=40)
    model: str = Field(max_length=200)
    input_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    output_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cache_read_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_usd: Decimal | None = Field(default=None, sa_column=Column(USD, nullable=True))
    price_source: str = Field(sa_column=Column(String(20), nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class UsageCounter(SQLModel, table=True):
    """A tenant's committed usage in one UTC period (``day`` or ``month``), for budget checks."""

    __tablename__ = "usage_counters"  # pyright: ignore[reportAssignmentType]

    tenant_id: str = Field(primary_key=True, max_length=40)
    period: str = Field(primary_key=True, max_length=10)
    period_start: date = Field(sa_column=Column(Date, primary_key=True))
    requests: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_usd: Decimal = Field(default=Decimal(0), sa_column=Column(USD, nullable=False))
