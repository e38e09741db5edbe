"""``GovernedModel``: the model a model-request activity actually calls, with governance around it.

:class:`ModelResolver` (the activity side of model resolution, built by ``build_worker`` with the
worker's dependencies) wraps every model it builds inside the activity in a
:class:`GovernedModel`; workflow code resolves bare models
(:func:`~agent_runtime_worker.models.registry.resolve_model`). Around each request it runs, in
this order, hooks that are kept separate so more governance can be added next to them:

1. :meth:`GovernedModel._before_request` - run bookkeeping (``model.fallback`` events the
   workflow noted), then, at the same time, the tenant's budgets
   (:mod:`agent_runtime_worker.governance.budgets`: used up → non-retryable ``BudgetExceeded``,
   which the workflow turns into a failed or a waiting run) and the endpoint's circuit
   breaker: open → the request fails at once with
   a non-retryable :class:`~pydantic_ai.exceptions.ModelUnavailableError` (code
   ``circuit_open``) and the run falls over to its next model without an HTTP call.
2. the request itself (the wrapped pydantic-ai model: the real OpenAI/Anthropic provider).
3. :meth:`GovernedModel._after_success` - usage and cost into the ledger and the budget
   counters (once per request, whatever the retries), then breaker bookkeeping (a probe closes
   the breaker). Who writes a streamed request's ledger row is fixed when the model is built
   (``ledger_in_event_transaction``): the worker's agent always records model events, so the event
   recorder writes it in its ``model.request.finished`` transaction (the model hands it the
   request through :class:`~agent_runtime_worker.governance.budgets.StreamedRequests`).
4. :meth:`GovernedModel._after_failure` - breaker bookkeeping (retryable failures count), then
   the retry decision: a retryable error is raised as a retryable ``ApplicationError`` whose
   ``next_retry_delay`` follows the worker's ``model_retry_*`` settings (and the provider's
   ``Retry-After``), until ``model_retry_max_attempts``; anything else is non-retryable. Either
   way the error crosses to the workflow as itself (pydantic-ai's encoding), where
   ``ModelFallback`` decides whether to fall over.

The database work of hooks 1 and 3 is classified as every activity's is
(:func:`~agent_runtime_worker.activities.errors.classify_database_errors`): a write the database
refuses every time fails the request for good instead of being retried.

The retry timing lives here, not only in the workflow's ``RetryPolicy``, because the workflow
cannot read settings; the policy is the outer bound (``MODEL_RETRY_POLICY``, 10 attempts), and
Temporal still does the waiting and the retrying.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

from agent_runtime_core.breakers import CircuitBreakers, Permit, ProviderEndpoint
from agent_runtime_core.lifecycle import DedupeKey, EventSpec, EventType
from agent_runtime_core.settings import Settings
from agent_runtime_worker.activities.errors import classify_database_errors
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.governance import budgets
from agent_runtime_worker.models.fallback import CIRCUIT_OPEN_CODE, ModelFallbackNote, is_retryable
from agent_runtime_worker.models.registry import build_model


def retry_delay_s(attempt: int, retry_after_s: float | None, settings: Settings) -> float:
    """Delay before attempt ``attempt + 1``: exponential backoff, at least the provider's
    ``Retry-After``, at most ``model_retry_max_interval_s``."""
    backoff = settings.model_retry_initial_interval_s * settings.model_retry_backoff ** (attempt - 1)
    return min(max(backoff, retry_after_s or 0.0), settings.model_retry_max_interval_s)


def model_failure_for_temporal(error: ModelAPIError, settings: Settings) -> ApplicationError:
    """What a model activity raises for ``error``: an ``ApplicationError`` the workflow rebuilds
    ``error`` from, retryable (with its delay, per the ``model_retry_*`` settings) or not."""
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


class ModelResolver:
    """Builds the model a model-request activity calls: the real client, governed."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Build models with the worker's credentials, governed by its budgets and breakers."""
        self.dependencies = dependencies
        self.provider_settings = dependencies.provider_settings

    def resolve(self, model_id: str) -> Model | None:
        """The governed model named ``model_id``; ``None`` lets pydantic-ai try."""
        model, endpoint = build_model(model_id, self.provider_settings)
        if model is None:
            return None
        return GovernedModel(
            model,
            model_ref=model_id,
            endpoint=ProviderEndpoint(*endpoint) if endpoint is not None else None,
            dependencies=self.dependencies,
            ledger_in_event_transaction=True,
        )


@dataclass(frozen=True)
class Admission:
    """What :meth:`GovernedModel._before_request` let through: the breaker's permit and the
    budget ticket (either ``None`` when that hook does not apply)."""

    permit: Permit | None
    ticket: budgets.RequestTicket | None


class GovernedModel(WrapperModel):
    """A resolved model with breaker checks, retry decisions and bookkeeping around each request."""

    def __init__(
        self,
        wrapped: Model,
        *,
        model_ref: str,
        endpoint: ProviderEndpoint | None,
        dependencies: WorkerDependencies,
        ledger_in_event_transaction: bool = False,
    ) -> None:
        """Wrap ``wrapped`` (named ``model_ref`` in the agent version), guarded by ``endpoint``'s
        breaker (``None``: no breaker, e.g. the built-in model).

        With ``ledger_in_event_transaction``, a streamed request's ledger row is written by the
        model's event recorder (in its ``model.request.finished`` transaction), not by the model:
        only set it when an event stream handler that does so runs around every streamed request.
        """
        super().__init__(wrapped)
        self.model_ref = model_ref
        self.endpoint = endpoint
        self.dependencies = dependencies
        self.ledger_in_event_transaction = ledger_in_event_transaction
        # The ledger names the model as the agent version does, and prices it by provider.
        self.provider_id, _, self.model_id_name = model_ref.partition(":")

    # ------------------------------------------------------------------ hook points

    @classify_database_errors
    async def _before_request(self, run_context: RunContext[Any] | None) -> Admission:
        """Bookkeeping, then budgets and the breaker. Raises when the request must not be sent.

        The budget check (Postgres) and the breaker (Redis) are independent, so they run at
        once; a refused budget wins (the run fails or waits whatever the breaker says), and a
        probe permit taken for a request the budget refused is handed back.
        """
        await self._record_model_fallbacks(run_context)
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

    @classify_database_errors
    async def _after_success(self, admission: Admission, response: ModelResponse, *, streamed: bool) -> None:
        """The request succeeded: account for its usage and cost, then for the breaker."""
        recorder_wrote_ledger = streamed and self.ledger_in_event_transaction
        if admission.ticket is not None and not recorder_wrote_ledger:
            await self.dependencies.budgets.after_request(admission.ticket, response.usage)
        await self._breaker_success(admission.permit)

    async def _record_model_fallbacks(self, run_context: RunContext[Any] | None) -> None:
        """Write the ``model.fallback`` events the workflow noted for this step (idempotent)."""
        if run_context is None:
            return
        deps = run_context.deps
        notes: list[ModelFallbackNote] = getattr(deps, "model_fallbacks", None) or []
        step_notes = [note for note in notes if note.step == run_context.run_step]
        if not step_notes:
            return
        specs = [
            EventSpec(
                EventType.MODEL_FALLBACK,
                {"step": note.step, "from": note.from_model, "to": note.to_model, "error": note.error},
                DedupeKey.model_fallback(note.step, note.to_model),
            )
            for note in step_notes
        ]
        await self.dependencies.events.record_many(deps.tenant_id, deps.run_id, specs)

    # ------------------------------------------------------------------ budgets and usage

    async def _check_budgets(self, run_context: RunContext[Any] | None) -> budgets.RequestTicket | None:
        identity = budgets.request_identity(run_context or get_current_run_context())
        if identity is None:  # not a run of ours (e.g. pydantic-ai used directly)
            return None
        return await self.dependencies.budgets.before_request(identity, self.provider_id, self.model_id_name)

    async def _after_failure(self, admission: Admission, error: ModelAPIError) -> BaseException:
        """The request failed: account for it and return what the activity raises."""
        if is_retryable(error):
            await self._breaker_failure(admission.permit)
        else:
            await self._breaker_success(admission.permit)  # the endpoint answered: it is up
        return model_failure_for_temporal(error, self.dependencies.settings)

    async def _after_abort(self, admission: Admission) -> None:
        """The request ended without an outcome (cancelled, or the consumer failed)."""
        permit = admission.permit
        breakers = self._circuit_breakers()
        if breakers is not None and self.endpoint is not None and permit is not None:
            await breakers.release(self.endpoint, permit)

    # ------------------------------------------------------------------ circuit breaker

    def _circuit_breakers(self) -> CircuitBreakers | None:
        """The breakers guarding this model's endpoint (``None``: no endpoint, or no Redis)."""
        return self.dependencies.breakers if self.endpoint is not None else None

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
        raise model_failure_for_temporal(error, self.dependencies.settings)

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
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        except ModelAPIError as error:
            raise await self._after_failure(admission, error) from error
        except BaseException:
            await self._after_abort(admission)
            raise
        await self._after_success(admission, response, streamed=False)
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
        streamed_requests = self.dependencies.streamed_requests
        # The ticket goes to the recorder only when it, not this model, writes the ledger row.
        ledger_ticket = admission.ticket if self.ledger_in_event_transaction else None
        handoff = budgets.StreamedRequest(model_ref=self.model_ref, ticket=ledger_ticket)
        streamed_requests.open(handoff)
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                handoff.stream = stream
                yield stream
        except ModelAPIError as error:
            raise await self._after_failure(admission, error) from error
        except BaseException:
            await self._after_abort(admission)
            raise
        finally:
            streamed_requests.close()
        await self._after_success(admission, stream.get(), streamed=True)
