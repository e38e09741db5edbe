"""Tenant budgets: UTC periods and the rule that decides whether a model request may start.

The rule (checked before every model request, in the model-request activity): a request may
start while every limit's *committed* usage is below the limit. Usage is committed after the
request, atomically (one ``UPDATE … SET tokens = tokens + n`` per period). So the spend of a
period never exceeds ``limit + C * m``, where ``C`` is how many model requests can be in flight
at once (workers times activity slots) and ``m`` the largest single request. Proof: take the last
request of the period to pass the check, at time ``t``; it saw committed usage ``< limit``.
Every other request of the period passed its check before ``t``, so at ``t`` it had either
committed (counted in what that check saw) or was in flight (at most ``C`` of them, itself
included), each adding at most ``m``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Final, Literal

Period = Literal["day", "month"]
PERIODS: Final[tuple[Period, ...]] = ("day", "month")

BUDGET_EXCEEDED_ERROR_TYPE: Final = "BudgetExceeded"
"""``ApplicationError.type`` of a model request refused by a budget (non-retryable)."""


def period_start(period: Period, at: datetime) -> date:
    """First day of the UTC period that contains ``at``."""
    day = at.astimezone(UTC).date()
    return day if period == "day" else day.replace(day=1)


def period_end(period: Period, at: datetime) -> datetime:
    """When the UTC period that contains ``at`` ends (the next one starts)."""
    start = period_start(period, at)
    if period == "day":
        following = start + timedelta(days=1)
    else:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return datetime.combine(following, time(), tzinfo=UTC)


@dataclass(frozen=True)
class BudgetLimits:
    """A tenant's limits (``None``: unlimited) and what to do when one is reached."""

    daily_tokens: int | None = None
    daily_cost_usd: Decimal | None = None
    monthly_tokens: int | None = None
    monthly_cost_usd: Decimal | None = None
    on_exceeded: str = "fail"


@dataclass(frozen=True)
class PeriodUsage:
    """Committed usage of one period."""

    tokens: int = 0
    cost_usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class LimitStatus:
    """One limit: how much of it is used and when it resets."""

    name: str
    """``daily_tokens``, ``daily_cost_usd``, ``monthly_tokens`` or ``monthly_cost_usd``."""
    limit: int | Decimal
    used: int | Decimal
    resets_at: datetime

    @property
    def exhausted(self) -> bool:
        """Whether a new request must not start."""
        return self.used >= self.limit

    def describe(self) -> str:
        """A sentence for people: which budget, how much is used, when it resets."""
        unit = "tokens" if self.name.endswith("tokens") else "USD"
        return (
            f"The tenant's {self.name} budget is used up ({self.used} of {self.limit} {unit}); "
            f"it resets at {self.resets_at.isoformat()}."
        )


def limit_statuses(limits: BudgetLimits, usage: dict[Period, PeriodUsage], at: datetime) -> list[LimitStatus]:
    """The status of every limit that is set (daily first)."""
    statuses: list[LimitStatus] = []
    periods: tuple[tuple[Period, str], ...] = (("day", "daily"), ("month", "monthly"))
    for period, prefix in periods:
        used = usage.get(period, PeriodUsage())
        resets_at = period_end(period, at)
        tokens_limit: int | None = getattr(limits, f"{prefix}_tokens")
        cost_limit: Decimal | None = getattr(limits, f"{prefix}_cost_usd")
        if tokens_limit is not None:
            statuses.append(LimitStatus(f"{prefix}_tokens", tokens_limit, used.tokens, resets_at))
        if cost_limit is not None:
            statuses.append(LimitStatus(f"{prefix}_cost_usd", cost_limit, used.cost_usd, resets_at))
    return statuses


def first_exhausted(statuses: list[LimitStatus]) -> LimitStatus | None:
    """The exhausted limit that resets last (waiting for it waits for all), or ``None``."""
    exhausted = [status for status in statuses if status.exhausted]
    return max(exhausted, key=lambda status: status.resets_at) if exhausted else None
