"""Queries on the usage ledger, usage counters, tenant budgets and model price overrides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Executable, Result, String, cast, func, literal, text
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.budgets import BudgetLimits, Period, PeriodUsage, period_start
from agent_runtime_core.models import ModelPrice, ModelRequestRecord, TenantBudget, UsageCounter
from agent_runtime_core.models.base import utcnow

UsageGroup = Literal["day", "agent", "model"]


@dataclass(frozen=True)
class OverridePrice:
    """A price override in USD per million tokens."""

    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_input_usd_per_mtok: Decimal | None


@dataclass(frozen=True)
class RequestGate:
    """What the worker needs before a model request, read in one query."""

    limits: BudgetLimits | None
    usage: dict[Period, PeriodUsage]
    override: OverridePrice | None


_GATE_SQL = text(
    """
    SELECT b.tenant_id IS NOT NULL AS has_budget,
           b.daily_tokens, b.daily_cost_usd, b.monthly_tokens, b.monthly_cost_usd, b.on_exceeded,
           d.tokens AS day_tokens, d.cost_usd AS day_cost, m.tokens AS month_tokens, m.cost_usd AS month_cost,
           p.input_usd_per_mtok, p.output_usd_per_mtok, p.cached_input_usd_per_mtok
    FROM (SELECT CAST(:tenant_id AS varchar) AS tenant_id) AS t
    LEFT JOIN tenant_budgets AS b ON b.tenant_id = t.tenant_id
    LEFT JOIN usage_counters AS d
           ON d.tenant_id = t.tenant_id AND d.period = 'day' AND d.period_start = :day
    LEFT JOIN usage_counters AS m
           ON m.tenant_id = t.tenant_id AND m.period = 'month' AND m.period_start = :month
    LEFT JOIN LATERAL (
        SELECT input_usd_per_mtok, output_usd_per_mtok, cached_input_usd_per_mtok
        FROM model_prices
        WHERE provider = :provider AND model = :model
          AND (tenant_id = t.tenant_id OR tenant_id IS NULL)
        ORDER BY tenant_id NULLS LAST
        LIMIT 1
    ) AS p ON true
    """
)

# One statement: the ledger row, and only if it is new (a retried activity inserts nothing), the
# usage added to the day's and the month's counters. The run's agent and version are read from
# the run row in the same statement (the worker does not look them up before the request). Rows
# are always locked day then month, so concurrent writers cannot deadlock.
_RECORD_SQL = text(
    """
    WITH ledger AS (
        INSERT INTO model_requests (tenant_id, run_id, request_key, agent_id, agent_version, provider,
                                    model, input_tokens, output_tokens, cache_read_tokens, cost_usd,
                                    price_source, at)
        VALUES (CAST(:tenant_id AS varchar), CAST(:run_id AS varchar), :request_key,
                (SELECT agent_id FROM runs
                 WHERE id = CAST(:run_id AS varchar) AND tenant_id = CAST(:tenant_id AS varchar)),
                (SELECT agent_version FROM runs
                 WHERE id = CAST(:run_id AS varchar) AND tenant_id = CAST(:tenant_id AS varchar)),
                :provider, :model,
                :input_tokens, :output_tokens, :cache_read_tokens, :cost_usd, :price_source, :at)
        ON CONFLICT (run_id, request_key) DO NOTHING
        RETURNING input_tokens + output_tokens AS tokens, COALESCE(cost_usd, 0) AS cost_usd
    )
    INSERT INTO usage_counters AS c (tenant_id, period, period_start, requests, tokens, cost_usd)
    SELECT CAST(:tenant_id AS varchar), p.period, p.period_start, 1, ledger.tokens, ledger.cost_usd
    FROM ledger CROSS JOIN (VALUES ('day', CAST(:day AS date)), ('month', CAST(:month AS date)))
         AS p(period, period_start)
    ORDER BY p.period
    ON CONFLICT (tenant_id, period, period_start) DO UPDATE
       SET requests = c.requests + 1, tokens = c.tokens + EXCLUDED.tokens,
           cost_usd = c.cost_usd + EXCLUDED.cost_usd
    RETURNING 1
    """
)


Executor = AsyncSession | AsyncConnection


async def _execute(
    executor: Executor, statement: Executable, params: dict[str, Any] | None = None
) -> Result[Any]:
    """Run a Core statement on a connection, or in a session's transaction."""
    connection = executor if isinstance(executor, AsyncConnection) else await executor.connection()
    return await connection.execute(statement, params)


async def _gate(
    executor: Executor,
    tenant_id: str,
    provider: str,
    model: str,
    at: datetime,
) -> RequestGate:
    row = (
        await _execute(
            executor,
            _GATE_SQL,
            {
                "tenant_id": tenant_id,
                "day": period_start("day", at),
                "month": period_start("month", at),
                "provider": provider,
                "model": model,
            },
        )
    ).one()
    limits = None
    if row.has_budget:
        limits = BudgetLimits(
            daily_tokens=row.daily_tokens,
            daily_cost_usd=row.daily_cost_usd,
            monthly_tokens=row.monthly_tokens,
            monthly_cost_usd=row.monthly_cost_usd,
            on_exceeded=row.on_exceeded,
        )
    usage: dict[Period, PeriodUsage] = {
        "day": PeriodUsage(row.day_tokens or 0, row.day_cost or Decimal(0)),
        "month": PeriodUsage(row.month_tokens or 0, row.month_cost or Decimal(0)),
    }
    override = None
    if row.input_usd_per_mtok is not None:
        override = OverridePrice(
            row.input_usd_per_mtok, row.output_usd_per_mtok, row.cached_input_usd_per_mtok
        )
    return RequestGate(limits, usage, override)


async def _record(executor: Executor, tenant_id: str, entry: ModelRequestRecord) -> bool:
    result = await _execute(
        executor,
        _RECORD_SQL,
        {
            "tenant_id": tenant_id,
            "run_id": entry.run_id,
            "request_key": entry.request_key,
            "provider": entry.provider,
            "model": entry.model,
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "cache_read_tokens": entry.cache_read_tokens,
            "cost_usd": entry.cost_usd,
            "price_source": entry.price_source,
            "at": entry.at,
            "day": period_start("day", entry.at),
            "month": period_start("month", entry.at),
        },
    )
    return len(result.all()) > 0


class UsageLedger:
    """The worker's hot path: the gate read and the ledger write on an autocommit connection
    (each is one statement, atomic by itself, so it costs one round trip)."""

    def __init__(self, connection: AsyncConnection, tenant_id: str) -> None:
        self.connection = connection
        self.tenant_id = tenant_id

    async def gate(self, provider: str, model: str, at: datetime) -> RequestGate:
        """See :meth:`UsageRepository.gate`."""
        return await _gate(self.connection, self.tenant_id, provider, model, at)

    async def record(self, entry: ModelRequestRecord) -> bool:
        """See :meth:`UsageRepository.record`."""
        return await _record(self.connection, self.tenant_id, entry)


class UsageRepository:
    """Usage of one tenant: the ledger and the period counters."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def gate(self, provider: str, model: str, at: datetime) -> RequestGate:
        """Budget, committed usage of the day and month of ``at`` and the price override, in one query."""
        return await _gate(self.session, self.tenant_id, provider, model, at)

    async def record(self, entry: ModelRequestRecord) -> bool:
        """Add ``entry`` to the ledger and its usage to the counters of its period, once.

        Returns ``False`` when ``(run_id, request_key)`` was recorded before (nothing changes).
        """
        return await _record(self.session, self.tenant_id, entry)

    async def period_usage(self, at: datetime) -> dict[Period, PeriodUsage]:
        """Committed usage of the day and the month that contain ``at``."""
        starts = {"day": period_start("day", at), "month": period_start("month", at)}
        rows = (
            await self.session.exec(
                select(UsageCounter).where(
                    UsageCounter.tenant_id == self.tenant_id,
                    or_(
                        (col(UsageCounter.period) == "day")
                        & (col(UsageCounter.period_start) == starts["day"]),
                        (col(UsageCounter.period) == "month")
                        & (col(UsageCounter.period_start) == starts["month"]),
                    ),
                )
            )
        ).all()
        usage: dict[Period, PeriodUsage] = {"day": PeriodUsage(), "month": PeriodUsage()}
        for row in rows:
            period: Period = "day" if row.period == "day" else "month"
            usage[period] = PeriodUsage(row.tokens, row.cost_usd)
        return usage

    async def run_totals(self, run_id: str) -> tuple[int, int, int, Decimal | None, int]:
        """``(requests, input tokens, output tokens, cost, unpriced requests)`` of a run's ledger rows."""
        row = (
            await _execute(
                self.session,
                sa_select(
                    func.count(),
                    func.coalesce(func.sum(ModelRequestRecord.input_tokens), 0),
                    func.coalesce(func.sum(ModelRequestRecord.output_tokens), 0),
                    func.sum(ModelRequestRecord.cost_usd),
                    func.count().filter(col(ModelRequestRecord.cost_usd).is_(None)),
                ).where(
                    col(ModelRequestRecord.tenant_id) == self.tenant_id,
                    col(ModelRequestRecord.run_id) == run_id,
                ),
            )
        ).one()
        values: tuple[Any, ...] = tuple(row)
        return int(values[0]), int(values[1]), int(values[2]), values[3], int(values[4])

    async def list_for_run(self, run_id: str) -> Sequence[ModelRequestRecord]:
        """Ledger rows of one run, oldest first."""
        statement = (
            select(ModelRequestRecord)
            .where(ModelRequestRecord.tenant_id == self.tenant_id, ModelRequestRecord.run_id == run_id)
            .order_by(col(ModelRequestRecord.id))
        )
        return (await self.session.exec(statement)).all()

    async def aggregate(
        self, *, since: datetime, until: datetime, group_by: Sequence[UsageGroup]
    ) -> list[dict[str, Any]]:
        """Totals of ledger rows with ``since <= at < until``, one row per group.

        Each row has the group keys (``day`` as a date, ``agent_id``, ``model`` as
        ``provider:model``) and ``requests``, ``input_tokens``, ``output_tokens``, ``cost_usd``
        (priced requests only) and ``unpriced_requests``.
        """
        record = ModelRequestRecord
        keys: list[Any] = []
        if "day" in group_by:
            keys.append(cast(func.date_trunc("day", func.timezone("UTC", record.at)), String).label("day"))
        if "agent" in group_by:
            keys.append(col(record.agent_id).label("agent_id"))
        if "model" in group_by:
            keys.append((col(record.provider) + literal(":") + col(record.model)).label("model"))
        statement = (
            sa_select(
                *keys,
                func.count().label("requests"),
                func.coalesce(func.sum(record.input_tokens), 0).label("input_tokens"),
                func.coalesce(func.sum(record.output_tokens), 0).label("output_tokens"),
                func.sum(record.cost_usd).label("cost_usd"),
                func.count().filter(col(record.cost_usd).is_(None)).label("unpriced_requests"),
            )
            .where(col(record.tenant_id) == self.tenant_id, col(record.at) >= since, col(record.at) < until)
            .group_by(*keys)
            .order_by(*keys)
        )
        rows = (await _execute(self.session, statement)).mappings().all()
        result: list[dict[str, Any]] = []
        for row in rows:
            item = dict(row)
            if "day" in item and item["day"] is not None:
                item["day"] = date.fromisoformat(str(item["day"])[:10])
            result.append(item)
        return result


class BudgetRepository:
    """The budget of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def get(self) -> TenantBudget | None:
        """This tenant's budget, or ``None`` (unlimited)."""
        return await self.session.get(TenantBudget, self.tenant_id)

    async def put(self, values: dict[str, Any], *, updated_by: str) -> TenantBudget:
        """Replace this tenant's budget with ``values`` (every limit field; ``None``: unlimited)."""
        row = {**values, "tenant_id": self.tenant_id, "updated_at": utcnow(), "updated_by": updated_by}
        statement = insert(TenantBudget).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={key: statement.excluded[key] for key in row if key != "tenant_id"},
        )
        await _execute(self.session, statement)
        budget = await self.session.get(TenantBudget, self.tenant_id, populate_existing=True)
        assert budget is not None
        return budget


class ModelPriceRepository:
    """Price overrides a tenant sees: its own and the global ones."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def list(self) -> Sequence[ModelPrice]:
        """This tenant's overrides and the global ones, by provider and model (tenant's first)."""
        statement = (
            select(ModelPrice)
            .where(or_(col(ModelPrice.tenant_id) == self.tenant_id, col(ModelPrice.tenant_id).is_(None)))
            .order_by(col(ModelPrice.provider), col(ModelPrice.model), col(ModelPrice.tenant_id).is_(None))
        )
        return (await self.session.exec(statement)).all()

    async def get(self, provider: str, model: str, *, global_scope: bool) -> ModelPrice | None:
        """The tenant's (or, with ``global_scope``, the global) override of ``provider:model``."""
        tenant_filter = (
            col(ModelPrice.tenant_id).is_(None)
            if global_scope
            else col(ModelPrice.tenant_id) == self.tenant_id
        )
        statement = select(ModelPrice).where(
            tenant_filter, ModelPrice.provider == provider, ModelPrice.model == model
        )
        return (await self.session.exec(statement)).first()

    async def put(self, price: ModelPrice) -> ModelPrice:
        """Insert or replace the override of ``price``'s scope, provider and model."""
        existing = await self.get(price.provider, price.model, global_scope=price.tenant_id is None)
        if existing is None:
            self.session.add(price)
            await self.session.flush()
            return price
        existing.input_usd_per_mtok = price.input_usd_per_mtok
        existing.output_usd_per_mtok = price.output_usd_per_mtok
        existing.cached_input_usd_per_mtok = price.cached_input_usd_per_mtok
        existing.updated_at = utcnow()
        self.session.add(existing)
        await self.session.flush()
        return existing

    async def delete(self, price: ModelPrice) -> None:
        """Remove an override."""
        await self.session.delete(price)
        await self.session.flush()
