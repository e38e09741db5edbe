"""``GovernedModel``: the model a model-request activity actually calls, with governance around it.

:func:`~agent_runtime_worker.models.registry.resolve_model` wraps every model it builds inside
the activity (never in workflow code) in a :class:`GovernedModel`. Around each request it runs,
in this order, hooks that are kept separate so more governance can be added next to them:

1. :meth:`GovernedModel._before_request` - run bookkeeping (``model.fallback`` events the
   workflow noted), then, at the same time, the tenant's budgets
   (:mod:`agent_runtime_worker.governance.budgets`: used up → non-retryable ``BudgetExceeded``,
   which the workflow turns into a failed or a waiting run) and the endpoint's circuit
   breaker: open → the request fails at once with
   a non-retryable :class:`~pydantic_ai.exceptions.ModelUnavailableError` (code
   ``circuit_open``) and the run falls over to its next model without an HTTP call.
2. the request itself (the wrapped pydantic-ai model: the real OpenAI/Anthropic provider).
3. :meth:`GovernedModel._after_success` - usage and cost into the ledger and the budget
   counters (once per request, whatever the retries; a streamed request's event recorder has
   usually written them already, in its ``model.request.finished`` transaction), then breaker
   bookkeeping (a probe closes the breaker).
4. :meth:`GovernedModel._after_failure` - breaker bookkeeping (retryable failures count), then
   the retry decision: a retryable error is raised as a retryable ``ApplicationError`` whose
   ``next_retry_delay`` follows the worker's ``model_retry_*`` settings (and the provider's
   ``Retry-After``), until ``model_retry_max_attempts``; anything else is non-retryable. Either
   way the error crosses to the workflow as itself (pydantic-ai's encoding), where
   ``ModelFallback`` decides whether to fall over.

The retry timing lives here, not only in the workflow's ``RetryPolicy``, because the workflow
cannot read settings; the policy is the outer bound (``MODEL_RETRY_POLICY``, 10 attempts), and
Temporal still does the waiting and the retrying.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai._run_context import get_current_run_context  # pyright: ignore[reportPrivateUsage]
from pydantic_ai.durable_exec.temporal._model_errors import (  # pyright: ignore[reportPrivateUsage]
    model_errors_as_application_errors,
)
from pydantic_ai.exceptions import ModelAPIError, ModelUnavailableError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.breakers import CircuitBreakers, Permit, ProviderEndpoint, breaker_config
from agent_runtime_core.settings import Settings
from agent_runtime_worker.governance import budgets
from agent_runtime_worker.models.fallback import CIRCUIT_OPEN_CODE, ModelFallbackNote, is_retryable

current_model_ref: ContextVar[str | None] = ContextVar("current_model_ref", default=None)
"""Inside a governed request: the model as the agent version names it (``openai:gpt-4o``)."""

_breakers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], CircuitBreakers]] = (
    weakref.WeakKeyDictionary()
)


def _settings() -> Settings | None:
    from agent_runtime_worker.runtime import resources

    try:
        return resources().settings
    except RuntimeError:  # outside a worker (unit tests): no governance
        return None


def circuit_breakers() -> CircuitBreakers | None:
    """This worker's breakers (``None`` without Redis). One per Redis URL, config and event loop."""
    settings = _settings()
    if settings is None or not settings.redis_url:
        return None
    config = breaker_config(settings)
    per_loop = _breakers.setdefault(asyncio.get_running_loop(), {})
    key = (settings.redis_url, config)
    breakers = per_loop.get(key)
    if breakers is None:
        breakers = per_loop[key] = CircuitBreakers.from_url(settings.redis_url, config)
    return breakers


async def close_circuit_breakers() -> None:
    """Close the breakers' Redis connections of the running loop (worker shutdown)."""
    for breakers in _breakers.pop(asyncio.get_running_loop(), {}).values():
        await breakers.aclose()


def retry_delay_s(attempt: int, retry_after_s: float | None, settings: Settings) -> float:
    """Delay before attempt ``attempt + 1``: exponential backoff, at least the provider's
    ``Retry-After``, at most ``model_retry_max_interval_s``."""
    backoff = settings.model_retry_initial_interval_s * settings.model_retry_backoff ** (attempt - 1)
    return min(max(backoff, retry_after_s or 0.0), settings.model_retry_max_interval_s)


def activity_error(error: ModelAPIError, settings: Settings | None) -> BaseException:
    """What a model activity raises for ``error``: an ``ApplicationError`` the workflow rebuilds
    ``error`` from, retryable (with its delay) or not. Outside an activity: ``error`` itself."""
    if settings is None or not activity.in_activity():
        return error
    attempt = activity.info().attempt
    retry = is_retryable(error) and attempt < settings.model_retry_max_attempts
    details: tuple[Any, ...] = ()
    error_type = type(error).__name__
    try:
        # pydantic-ai's own encoding, so the workflow (and ModelFallback) sees the original error.
        with model_errors_as_application_errors(non_retryable=() if retry else (ModelAPIError,)):
            raise error
    except ApplicationError as converted:
        details, error_type = tuple(converted.details), converted.type or error_type
    except ModelAPIError:
        pass  # not encodable: it crosses as a plain failure of this type
    delay = timedelta(seconds=retry_delay_s(attempt, error.retry_after, settings)) if retry else None
    return ApplicationError(
        str(error), *details, type=error_type, non_retryable=not retry, next_retry_delay=delay
    )


async def record_model_fallbacks(run_context: RunContext[Any] | None) -> None:
    """Write the ``model.fallback`` events the workflow noted for this step (idempotent)."""
    if run_context is None:
        return
    deps = run_context.deps
    notes: list[ModelFallbackNote] = getattr(deps, "model_fallbacks", None) or []
    step_notes = [note for note in notes if note.step == run_context.run_step]
    if not step_notes:
        return
    from agent_runtime_worker.events import EventSpec, record_run_events

    specs = [
        EventSpec(
            "model.fallback",
            {"step": note.step, "from": note.from_model, "to": note.to_model, "error": note.error},
            f"model:{note.step}:fallback:{note.to_model}",
        )
        for note in step_notes
    ]
    await record_run_events(deps.tenant_id, deps.run_id, specs)


@dataclass(frozen=True)
class Admission:
    """What :meth:`GovernedModel._before_request` let through: the breaker's permit and the
    budget ticket (either ``None`` when that hook does not apply)."""

    permit: Permit | None
    ticket: budgets.RequestTicket | None
    pending: budgets.PendingLedgerEntry | None = None
    """The ledger entry offered to the model's event recorder (streamed requests)."""


class GovernedModel(WrapperModel):
    """A resolved model with breaker checks, retry decisions and bookkeeping around each request."""

    def __init__(self, wrapped: Model, *, model_ref: str, endpoint: ProviderEndpoint | None) -> None:
        """Wrap ``wrapped`` (named ``model_ref`` in the agent version), guarded by ``endpoint``'s
        breaker (``None``: no breaker, e.g. the built-in model)."""
        super().__init__(wrapped)
        self.model_ref = model_ref
        self.endpoint = endpoint
        # The ledger names the model as the agent version does, and prices it by provider.
        self.provider_id, _, self.model_id_name = model_ref.partition(":")

    # ------------------------------------------------------------------ hook points

    async def _before_request(self, run_context: RunContext[Any] | None) -> Admission:
        """Bookkeeping, then budgets and the breaker. Raises when the request must not be sent.

        The budget check (Postgres) and the breaker (Redis) are independent, so they run at
        once; a refused budget wins (the run fails or waits whatever the breaker says), and a
        probe permit taken for a request the budget refused is handed back.
        """
        await record_model_fallbacks(run_context)
        if self._circuit_breakers() is None:
            return Admission(permit=None, ticket=await self._check_budgets(run_context))
        breaker = asyncio.ensure_future(self._check_breaker())  # Redis, while Postgres answers
        try:
            ticket = await self._check_budgets(run_context)
        except BaseException:
            permit = await asyncio.gather(breaker, return_exceptions=True)
            if isinstance(permit[0], Permit):
                await self._after_abort(Admission(permit=permit[0], ticket=None))
            raise
        return Admission(permit=await breaker, ticket=ticket)

    async def _after_success(self, admission: Admission, response: ModelResponse) -> None:
        """The request succeeded: account for its usage and cost, then for the breaker."""
        pending = admission.pending
        if admission.ticket is not None and (pending is None or not pending.recorded):
            await budgets.after_request(admission.ticket, response.usage)
        await self._breaker_success(admission.permit)

    # ------------------------------------------------------------------ budgets and usage

    async def _check_budgets(self, run_context: RunContext[Any] | None) -> budgets.RequestTicket | None:
        identity = budgets.request_identity(run_context or get_current_run_context())
        if identity is None:  # not a run of ours (e.g. pydantic-ai used directly)
            return None
        return await budgets.before_request(identity, self.provider_id, self.model_id_name)

    async def _after_failure(self, admission: Admission, error: ModelAPIError) -> BaseException:
        """The request failed: account for it and return what the activity raises."""
        if is_retryable(error):
            await self._breaker_failure(admission.permit)
        else:
            await self._breaker_success(admission.permit)  # the endpoint answered: it is up
        return activity_error(error, _settings())

    async def _after_abort(self, admission: Admission) -> None:
        """The request ended without an outcome (cancelled, or the consumer failed)."""
        permit = admission.permit
        breakers = self._circuit_breakers()
        if breakers is not None and self.endpoint is not None and permit is not None:
            await breakers.release(self.endpoint, permit)

    # ------------------------------------------------------------------ circuit breaker

    def _circuit_breakers(self) -> CircuitBreakers | None:
        """The breakers guarding this model's endpoint (``None``: no endpoint, or no Redis)."""
        return circuit_breakers() if self.endpoint is not None else None

    async def _check_breaker(self) -> Permit | None:
        breakers = self._circuit_breakers()
        if breakers is None or self.endpoint is None:
            return None
        permit = await breakers.acquire(self.endpoint)
        if permit.allowed:
            return permit
        retry_at = permit.retry_at.isoformat() if permit.retry_at else "later"
        error = ModelUnavailableError(
            self.model_name,
            f"circuit breaker open for {self.endpoint.provider} at {self.endpoint.base_url} "
            f"(endpoint {self.endpoint.id}); next probe at {retry_at}",
            provider_error_code=CIRCUIT_OPEN_CODE,
        )
        raise activity_error(error, _settings())

    async def _breaker_success(self, permit: Permit | None) -> None:
        breakers = self._circuit_breakers()
        if breakers is not None and self.endpoint is not None and permit is not None:
            await breakers.record_success(self.endpoint, permit)

    async def _breaker_failure(self, permit: Permit | None) -> None:
        breakers = self._circuit_breakers()
        if breakers is not None and self.endpoint is not None and permit is not None:
            await breakers.record_failure(self.endpoint, permit)

    # ------------------------------------------------------------------ Model

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """One governed, non-streamed request."""
        admission = await self._before_request(None)
        token = current_model_ref.set(self.model_ref)
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        except ModelAPIError as error:
            raise await self._after_failure(admission, error) from error
        except BaseException:
            await self._after_abort(admission)
            raise
        finally:
            current_model_ref.reset(token)
        await self._after_success(admission, response)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        """One governed, streamed request (the consumer's errors pass through untouched)."""
        admission = await self._before_request(run_context)
        if admission.ticket is not None:
            admission = replace(admission, pending=budgets.PendingLedgerEntry(admission.ticket))
        token = current_model_ref.set(self.model_ref)
        pending_token = budgets.pending_ledger_entry.set(admission.pending)
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                if admission.pending is not None:
                    admission.pending.stream = stream
                yield stream
        except ModelAPIError as error:
            raise await self._after_failure(admission, error) from error
        except BaseException:
            await self._after_abort(admission)
            raise
        finally:
            budgets.pending_ledger_entry.reset(pending_token)
            current_model_ref.reset(token)
        await self._after_success(admission, stream.get())
