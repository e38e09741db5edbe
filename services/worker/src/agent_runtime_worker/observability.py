"""Worker tracing and metrics: pydantic-ai instrumentation, Temporal's tracing interceptor, and an
activity interceptor timing every activity attempt (``agent_runtime_activity_duration_seconds``).

Activity latency comes from our own interceptor rather than Temporal's SDK metrics
(``temporalio.runtime.PrometheusConfig``): that would need a ``Runtime`` created before the
client connects and serves its own second HTTP endpoint, while the interceptor puts the figure
in the same registry and on the same port as our other worker metrics, with our labels.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any, cast

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import TracerProvider
from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.instrumented import InstrumentationSettings
from temporalio import activity
from temporalio.exceptions import CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from agent_runtime_core.metrics import observe_activity, record_model_usage, record_provider_error
from agent_runtime_core.tracing import temporal_tracing_interceptor
from agent_runtime_worker.agents.runtime_agent import runtime_agent

MODEL_ACTIVITY_SUFFIXES = ("__model_request_stream", "__model_request")


def instrument_agent(provider: TracerProvider | None, *, include_content: bool = True) -> None:
    """Turn pydantic-ai's OpenTelemetry instrumentation of the runtime agent on (or off: ``None``).

    The agent is one object per process, shared by the host and the workflow sandbox, so this
    applies to every worker of the process (one worker per process in production).
    """
    runtime_agent.instrument = (
        InstrumentationSettings(
            tracer_provider=provider,
            meter_provider=NoOpMeterProvider(),  # metrics are Prometheus' job here
            include_content=include_content,
        )
        if provider is not None
        else None
    )


def worker_interceptors(provider: TracerProvider | None) -> list[Interceptor]:
    """Activity timing always; trace propagation and spans only with a tracer provider."""
    interceptors: list[Interceptor] = [ActivityMetricsInterceptor()]
    if provider is not None:
        interceptors.append(temporal_tracing_interceptor(provider))
    return interceptors


def error_kind(error: BaseException) -> str:
    """A small fixed vocabulary of provider failures (a label value)."""
    if isinstance(error, ModelHTTPError):
        status = error.status_code
        if status == 429:
            return "rate_limited"
        if status in (401, 403):
            return "auth"
        if status == 408:
            return "timeout"
        return "server_error" if status >= 500 else "client_error"
    name = type(error).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if "connect" in name:
        return "connection"
    return "other"


def provider_error(error: BaseException) -> ModelAPIError | None:
    """The provider's failure behind what a model activity raised, if it was one.

    The governed model turns a provider's ``ModelAPIError`` into the ``ApplicationError`` Temporal
    retries (raised ``from`` it), so the failure is the exception itself or its cause. A request
    an open circuit breaker refused never reached the provider: it has no such cause.
    """
    if isinstance(error, ModelAPIError):
        return error
    cause = error.__cause__
    return cause if isinstance(cause, ModelAPIError) else None


def split_model_id(model_id: str | None) -> tuple[str, str]:
    """``openai:gpt-4o`` → ``("openai", "gpt-4o")``."""
    if not model_id:
        return "unknown", "unknown"
    provider, _, model = model_id.partition(":")
    return (provider, model) if model else ("unknown", provider)


def _model_id(input: ExecuteActivityInput) -> str | None:
    """The agent version's model string (``openai:gpt-4o``) a model-request activity ran with."""
    return getattr(input.args[0], "model_id", None) if input.args else None


def _tenant_id(input: ExecuteActivityInput) -> str | None:
    """The tenant whose run a model-request activity serves (the run's deps, its second argument)."""
    for arg in input.args[1:]:
        tenant_id: object = (
            cast("dict[str, object]", arg).get("tenant_id")
            if isinstance(arg, dict)
            else getattr(arg, "tenant_id", None)
        )
        if isinstance(tenant_id, str):
            return tenant_id
    return None


def record_response_usage(
    response: ModelResponse, model_id: str | None, tenant_id: str | None = None
) -> None:
    """Count a model response, its tokens and (when genai-prices knows the model) its cost.

    Labels come from the agent version's model string, as for provider errors: ``provider``
    is our provider prefix (``openai``, ``anthropic``, ``openai-compatible``, ``builtin``).
    """
    provider, model = split_model_id(model_id or response.model_name)
    cost: Decimal | None
    try:
        cost = response.cost().total_price
    except (LookupError, ValueError, AssertionError):  # not in the price table (e.g. builtin:scripted)
        cost = None
    usage = response.usage
    record_model_usage(provider, model, usage.input_tokens, usage.output_tokens, cost, tenant_id=tenant_id)


class ActivityMetricsInterceptor(Interceptor):
    """Times activity attempts; counts model responses (tokens, cost) and provider errors.

    Model usage is read from the model-request activity's result (the ``ModelResponse``), so
    every answered attempt is counted once, streamed or not, whatever the event handler does.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap ``next`` with timing."""
        return _TimedActivityInbound(next)


class _TimedActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
            outcome = "completed"
            if isinstance(result, ModelResponse):  # a model request (streamed or not) answered
                record_response_usage(result, _model_id(input), _tenant_id(input))
            return result
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | CancelledError):
                outcome = "cancelled"
            elif activity_type.endswith(MODEL_ACTIVITY_SUFFIXES) and (error := provider_error(exc)):
                provider, model = split_model_id(_model_id(input))
                record_provider_error(provider, model, error_kind(error))
            raise
        finally:
            observe_activity(activity_type, outcome, time.perf_counter() - started)
