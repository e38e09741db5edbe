"""The budget and usage hooks of :class:`~agent_runtime_worker.models.governed.GovernedModel`.

They run inside the model-request activity:

Both are methods of :class:`BudgetService`, built once per worker with its database and settings
(:mod:`agent_runtime_worker.dependencies`) and handed to the models it resolves.

* :meth:`BudgetService.before_request`: refuses the request with a non-retryable ``ApplicationError`` of type
  ``BudgetExceeded`` when a limit of the tenant is used up (the workflow's
  :class:`~agent_runtime_worker.governance.waiting.BudgetGuard` fails the run or waits for the
  reset). A tenant with a budget costs one indexed query (its budget, its committed usage of the
  day and month, the price override); the tenant's policy (budget limits and price override) is
  then kept for ``budget_policy_cache_s``, so a tenant WITHOUT a budget costs no query at all.
* :meth:`BudgetService.after_request` (one statement): prices the request and writes it to the ledger and the
  period counters, once per ``(run, request key)``: a retried activity does not count twice.
  When the model's events are recorded, this statement runs inside the transaction that writes
  ``model.request.finished`` (see :class:`StreamedRequest`), so it costs no round trip
  of its own.

The period a request counts in is taken from the Temporal server's clock (when the activity
attempt was scheduled), so every worker agrees on it whatever its own clock says, and
time-skipping tests move it. See :mod:`agent_runtime_core.budgets` for why spend stays bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.models import StreamedResponse
from pydantic_ai.usage import RequestUsage
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.budgets import (
    BUDGET_EXCEEDED_ERROR_TYPE,
    BudgetLimits,
    first_exhausted,
    limit_statuses,
)
from agent_runtime_core.db import Database
from agent_runtime_core.models import ModelRequestRecord
from agent_runtime_core.repositories.usage import OverridePrice, UsageLedger, UsageRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.governance.pricing import price_request
from agent_runtime_worker.governance.waiting import BUDGET_DETAILS_KEY


@dataclass(frozen=True)
class RequestIdentity:
    """Which request of which run: the ledger's idempotency key."""

    tenant_id: str
    run_id: str
    request_key: str
    """``<step>:<activity id>``: the same on every retry of one model-request activity."""
    at: datetime
    """When the request started (the Temporal server's time of this attempt, in an activity)."""


@dataclass(frozen=True)
class RequestTicket:
    """What :meth:`BudgetService.before_request` learnt, handed to :meth:`BudgetService.after_request`."""

    identity: RequestIdentity
    provider: str
    model: str
    override: OverridePrice | None


@dataclass
class StreamedRequest:
    """A governed streamed request, handed from the model to the model's event recorder.

    Who writes a streamed request's ledger row is decided when the model is built (the worker's
    models are built with ``ledger_in_event_transaction=True``, because the agent always records
    model events): the event recorder writes it in the transaction of ``model.request.finished``,
    never the model. The model registers this handoff under its activity attempt
    (:class:`StreamedRequests`); the recorder takes it there.
    """

    model_ref: str
    """The model as the agent version names it (``openai:gpt-4o``): with fallback, the one that answered."""
    ticket: RequestTicket | None
    """The ledger row's ticket when the recorder writes it; ``None``: the recorder writes none
    (not a run of ours, or the model writes it itself)."""
    stream: StreamedResponse | None = None
    """The request's response stream, once open (its usage is final when it is consumed)."""


class StreamedRequests:
    """The streamed requests in flight in this worker, by activity attempt (its task token).

    One model-request activity attempt makes one request, so its task token identifies it; the
    model's event stream handler runs inside that attempt and finds the request here.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._by_attempt: dict[bytes, StreamedRequest] = {}

    def open(self, request: StreamedRequest) -> None:
        """Register ``request`` for the current activity attempt."""
        self._by_attempt[activity.info().task_token] = request

    def close(self) -> None:
        """Forget the current activity attempt's request."""
        self._by_attempt.pop(activity.info().task_token, None)

    def current(self) -> StreamedRequest | None:
        """The current activity attempt's request (``None`` outside a governed streamed request)."""
        return self._by_attempt.get(activity.info().task_token)


@dataclass(frozen=True)
class TenantPolicy:
    """What a worker keeps of a tenant for ``budget_policy_cache_s``: its limits (``None``: no
    budget) and its price override of one model."""

    limits: BudgetLimits | None
    override: OverridePrice | None
    read_at: float
    """``time.monotonic()`` when it was read."""


_POLICY_CACHE_MAX = 10_000


def request_identity(run_context: RunContext[Any] | None) -> RequestIdentity | None:
    """The identity of the current request (inside its model-request activity), or ``None``
    outside a run of ours."""
    deps = run_context.deps if run_context is not None else None
    tenant_id = getattr(deps, "tenant_id", None)
    run_id = getattr(deps, "run_id", None)
    if not isinstance(tenant_id, str) or not isinstance(run_id, str) or run_context is None:
        return None
    info = activity.info()
    key = f"{run_context.run_step}:{info.activity_id}"
    return RequestIdentity(
        tenant_id=tenant_id, run_id=run_id, request_key=key, at=info.current_attempt_scheduled_time
    )


class BudgetService:
    """Budget checks and usage accounting of one worker (its database, its settings)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        """Account in ``database``; keep tenant policies for ``settings.budget_policy_cache_s``."""
        self.database = database
        self.settings = settings
        self._policies: dict[tuple[str, str, str], TenantPolicy] = {}
        # The worker's pool, used in autocommit: each hook is ONE statement (atomic by itself), so
        # it needs no BEGIN/COMMIT round trips (measured: ~half the latency of a session transaction).
        self._autocommit: AsyncEngine = database.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def before_request(self, identity: RequestIdentity, provider: str, model: str) -> RequestTicket:
        """Refuse the request if a budget of the tenant is used up; else return its ticket.

        Raises:
            ApplicationError: ``BudgetExceeded``, non-retryable, with the exhausted limit in its
                details (``{"budget_exceeded": {name, limit, used, resets_at, on_exceeded, message}}``).
        """
        cache = self._policies
        key = (identity.tenant_id, provider, model)
        now = time.monotonic()
        policy = cache.get(key)
        fresh = policy is not None and now - policy.read_at < self.settings.budget_policy_cache_s
        if policy is not None and fresh and policy.limits is None:
            return RequestTicket(identity, provider, model, policy.override)
        # A budget (or nothing cached): the committed usage is read fresh on every request.
        async with self._autocommit.connect() as connection:
            gate = await UsageLedger(connection, identity.tenant_id).gate(provider, model, identity.at)
        if len(cache) >= _POLICY_CACHE_MAX:
            cache.clear()
        cache[key] = TenantPolicy(gate.limits, gate.override, now)
        if gate.limits is not None:
            exhausted = first_exhausted(limit_statuses(gate.limits, gate.usage, identity.at))
            if exhausted is not None:
                message = exhausted.describe()
                raise ApplicationError(
                    message,
                    {
                        BUDGET_DETAILS_KEY: {
                            "name": exhausted.name,
                            "limit": str(exhausted.limit),
                            "used": str(exhausted.used),
                            "resets_at": exhausted.resets_at.isoformat(),
                            "on_exceeded": gate.limits.on_exceeded,
                            "message": message,
                        }
                    },
                    type=BUDGET_EXCEEDED_ERROR_TYPE,
                    non_retryable=True,
                )
        return RequestTicket(identity, provider, model, gate.override)

    async def after_request(
        self, ticket: RequestTicket, usage: RequestUsage, *, session: AsyncSession | None = None
    ) -> bool:
        """Price the request and add it to the ledger and the counters (once). ``False``: already there.

        With ``session``, inside that session's transaction (which must be confined to the ticket's
        tenant); else in a statement of its own.
        """
        entry = ledger_entry(ticket, usage)
        tenant_id = ticket.identity.tenant_id
        if session is not None:
            return await UsageRepository(session, tenant_id).record(entry)
        async with self._autocommit.connect() as connection:
            return await UsageLedger(connection, tenant_id).record(entry)


def ledger_entry(ticket: RequestTicket, usage: RequestUsage) -> ModelRequestRecord:
    """The priced ledger row of a request (its agent is filled in from the run when written)."""
    identity = ticket.identity
    cost, source = price_request(usage, ticket.provider, ticket.model, identity.at, ticket.override)
    return ModelRequestRecord(
        tenant_id=identity.tenant_id,
        run_id=identity.run_id,
        request_key=identity.request_key,
        provider=ticket.provider,
        model=ticket.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cost_usd=cost,
        price_source=source.value,
        at=identity.at,
    )
