"""Budgets, model price overrides and usage reports of one tenant."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, cast

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.budgets import BudgetLimits, limit_statuses
from agent_runtime_core.catalog import MODEL_PROVIDERS
from agent_runtime_core.errors import ForbiddenError, InvalidRequestError, NotFoundError
from agent_runtime_core.models import ModelPrice, TenantBudget
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import BudgetRepository, ModelPriceRepository, UsageRepository
from agent_runtime_core.repositories.usage import UsageGroup
from agent_runtime_core.schemas.usage import (
    BudgetLimitStatus,
    BudgetPublic,
    BudgetUpdate,
    ModelPricePublic,
    ModelPriceUpdate,
    UsageReport,
    UsageTotals,
)
from agent_runtime_core.settings import DEFAULT_TENANT_ID

USAGE_GROUPS: tuple[UsageGroup, ...] = ("day", "agent", "model")
DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=366)

PriceScope = Literal["tenant", "global"]


class UsageService:
    """Rules for budgets, prices and usage of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.budgets = BudgetRepository(session, tenant_id)
        self.prices = ModelPriceRepository(session, tenant_id)
        self.usage = UsageRepository(session, tenant_id)

    # ------------------------------------------------------------------ budgets

    async def _budget_public(self, budget: TenantBudget | None) -> BudgetPublic:
        now = utcnow()
        limits = BudgetLimits()
        if budget is not None:
            limits = BudgetLimits(
                daily_tokens=budget.daily_tokens,
                daily_cost_usd=budget.daily_cost_usd,
                monthly_tokens=budget.monthly_tokens,
                monthly_cost_usd=budget.monthly_cost_usd,
                on_exceeded=budget.on_exceeded,
            )
        statuses = limit_statuses(limits, await self.usage.period_usage(now), now)
        return BudgetPublic(
            daily_tokens=limits.daily_tokens,
            daily_cost_usd=limits.daily_cost_usd,
            monthly_tokens=limits.monthly_tokens,
            monthly_cost_usd=limits.monthly_cost_usd,
            on_exceeded=cast(Literal["fail", "wait"], limits.on_exceeded),
            updated_at=budget.updated_at if budget else None,
            updated_by=budget.updated_by if budget else None,
            status=[
                BudgetLimitStatus(
                    name=status.name,
                    limit=Decimal(status.limit),
                    used=Decimal(status.used),
                    resets_at=status.resets_at,
                    exhausted=status.exhausted,
                )
                for status in statuses
            ],
        )

    async def get_budget(self) -> BudgetPublic:
        """The budgets (all null when none was set) and their use now."""
        return await self._budget_public(await self.budgets.get())

    async def put_budget(self, body: BudgetUpdate, *, updated_by: str) -> BudgetPublic:
        """Replace the budgets; they apply to every run's next model request (a first budget
        within the workers' ``budget_policy_cache_s``)."""
        budget = await self.budgets.put(body.model_dump(), updated_by=updated_by)
        return await self._budget_public(budget)

    # ------------------------------------------------------------------ prices

    def _scope_tenant(self, scope: PriceScope) -> str | None:
        if scope == "tenant":
            return self.tenant_id
        if self.tenant_id != DEFAULT_TENANT_ID:
            raise ForbiddenError(
                "global model prices are managed by the platform's operators (default tenant)"
            )
        return None

    @staticmethod
    def _check_provider(provider: str) -> None:
        if provider not in MODEL_PROVIDERS:
            raise InvalidRequestError(
                f"unknown model provider '{provider}'; known providers: " + ", ".join(MODEL_PROVIDERS),
                loc=["path", "provider"],
            )

    async def list_prices(self) -> list[ModelPricePublic]:
        """Your overrides and the global ones."""
        return [ModelPricePublic.from_row(price) for price in await self.prices.list()]

    async def put_price(
        self, provider: str, model: str, body: ModelPriceUpdate, scope: PriceScope
    ) -> ModelPricePublic:
        """Set the override of ``provider:model`` in ``scope``."""
        self._check_provider(provider)
        price = ModelPrice(
            tenant_id=self._scope_tenant(scope),
            provider=provider,
            model=model,
            input_usd_per_mtok=body.input_usd_per_mtok,
            output_usd_per_mtok=body.output_usd_per_mtok,
            cached_input_usd_per_mtok=body.cached_input_usd_per_mtok,
        )
        return ModelPricePublic.from_row(await self.prices.put(price))

    async def delete_price(self, provider: str, model: str, scope: PriceScope) -> None:
        """Remove the override of ``provider:model`` in ``scope`` (genai-prices applies again)."""
        tenant = self._scope_tenant(scope)
        price = await self.prices.get(provider, model, global_scope=tenant is None)
        if price is None:
            raise NotFoundError("Model price", f"{provider}:{model}")
        await self.prices.delete(price)

    # ------------------------------------------------------------------ usage

    async def report(
        self, *, since: datetime | None, until: datetime | None, group_by: list[str]
    ) -> UsageReport:
        """Totals over ``[since, until)`` (default: the last 30 days), grouped as asked."""
        groups: list[UsageGroup] = []
        for item in group_by:
            for name in (part.strip() for part in item.split(",")):
                if not name:
                    continue
                if name not in USAGE_GROUPS:
                    raise InvalidRequestError(
                        f"cannot group by '{name}'; use any of: " + ", ".join(USAGE_GROUPS),
                        loc=["query", "group_by"],
                    )
                if name not in groups:
                    groups.append(name)
        # The route's Timestamp type already made them UTC and kept them in range.
        until = until if until is not None else utcnow()
        since = since if since is not None else until - DEFAULT_WINDOW
        if since >= until:
            raise InvalidRequestError("since must be before until", loc=["query", "since"])
        if until - since > MAX_WINDOW:
            raise InvalidRequestError("the window may span at most 366 days", loc=["query", "since"])
        rows = [
            UsageTotals.model_validate(row)
            for row in await self.usage.aggregate(since=since, until=until, group_by=groups)
        ]
        priced = [row.cost_usd for row in rows if row.cost_usd is not None]
        totals = UsageTotals(
            requests=sum(row.requests for row in rows),
            input_tokens=sum(row.input_tokens for row in rows),
            output_tokens=sum(row.output_tokens for row in rows),
            cost_usd=sum(priced, Decimal(0)) if priced else None,
            unpriced_requests=sum(row.unpriced_requests for row in rows),
        )
        budget = await self.budgets.get()
        return UsageReport(
            since=since,
            until=until,
            group_by=groups,
            totals=totals,
            groups=rows if groups else [],
            budget=await self._budget_public(budget) if budget is not None else None,
        )
