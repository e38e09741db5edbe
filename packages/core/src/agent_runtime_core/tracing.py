"""OpenTelemetry tracing: one tracer provider per process, exporting to OTLP and/or Langfuse.

Off unless configured: with neither an OTLP endpoint nor Langfuse keys, :func:`tracer_provider_from_settings`
returns ``None``, and the API and the worker install no instrumentation, no exporter and no background
thread. Nothing here touches OpenTelemetry's global tracer provider (it can be set only once per
process): the provider is passed explicitly to pydantic-ai's instrumentation, the FastAPI
instrumentation and Temporal's tracing interceptor, so tests inject their own.

The provider is Temporal's replay-safe one (``temporalio.contrib.opentelemetry.create_tracer_provider``):
pydantic-ai opens the agent-run, model-request and tool-call spans in workflow code, where span ids
must be deterministic and spans must not be emitted again when a worker replays a history.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TracerProvider
from temporalio.contrib.opentelemetry import (
    ReplaySafeTracerProvider,
    TracingInterceptor,
    create_tracer_provider,
)

from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

LANGFUSE_OTLP_PATH = "/api/public/otel/v1/traces"
"""Langfuse ingests OTLP/HTTP (protobuf) here, with Basic auth ``public_key:secret_key``."""
OTLP_TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class OtlpTarget:
    """One OTLP/HTTP endpoint spans are exported to."""

    name: str
    endpoint: str
    headers: dict[str, str] | None = None


def otlp_targets(settings: Settings) -> list[OtlpTarget]:
    """Where this process exports spans: the OTLP endpoint and/or Langfuse (empty: tracing off)."""
    targets: list[OtlpTarget] = []
    if settings.otlp_endpoint:
        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith(OTLP_TRACES_PATH):
            endpoint += OTLP_TRACES_PATH
        # Headers: OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS, read by the exporter itself.
        targets.append(OtlpTarget("otlp", endpoint))
    if settings.langfuse_public_key and settings.langfuse_secret_key:
        credentials = f"{settings.langfuse_public_key}:{settings.langfuse_secret_key.get_secret_value()}"
        targets.append(
            OtlpTarget(
                "langfuse",
                settings.langfuse_host.rstrip("/") + LANGFUSE_OTLP_PATH,
                {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()},
            )
        )
    return targets


def build_tracer_provider(
    service_name: str, span_processors: list[SpanProcessor]
) -> ReplaySafeTracerProvider:
    """A replay-safe tracer provider for ``service_name`` feeding ``span_processors``."""
    provider = create_tracer_provider(resource=Resource.create({"service.name": service_name}))
    for processor in span_processors:
        provider.add_span_processor(processor)
    return provider


def tracer_provider_from_settings(settings: Settings, service_name: str) -> ReplaySafeTracerProvider | None:
    """The process's tracer provider with a batching OTLP exporter per target, or ``None`` when
    tracing is not configured (then nothing is instrumented)."""
    targets = otlp_targets(settings)
    if not targets:
        return None
    # Imported only when tracing is on: the exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    processors: list[SpanProcessor] = [
        BatchSpanProcessor(OTLPSpanExporter(endpoint=target.endpoint, headers=target.headers))
        for target in targets
    ]
    logger.info("tracing to %s", ", ".join(f"{t.name} ({t.endpoint})" for t in targets))
    return build_tracer_provider(settings.tracing_service_name or service_name, processors)


def temporal_tracing_interceptor(provider: TracerProvider | None) -> TracingInterceptor:
    """Temporal's interceptor carrying the trace context through workflow and activity headers.

    Without a provider it still propagates the caller's context (so a run's workflow joins the
    trace id stored on the run) but records nothing.
    """
    tracer = provider.get_tracer("temporalio") if provider is not None else trace.NoOpTracer()
    return TracingInterceptor(tracer)


def format_trace_id(trace_id: int) -> str:
    """The W3C form of a trace id: 32 lowercase hex digits."""
    return trace.format_trace_id(trace_id)


def current_trace_id() -> str | None:
    """The trace id of the span active here, if a recording or propagated one is."""
    span_context = trace.get_current_span().get_span_context()
    return format_trace_id(span_context.trace_id) if span_context.is_valid else None


def new_trace_id() -> str:
    """A fresh random W3C trace id."""
    return format_trace_id(int.from_bytes(secrets.token_bytes(16), "big") or 1)


@contextmanager
def joined_trace(trace_id: str) -> Generator[None]:
    """Make ``trace_id`` the current trace (as a remote parent) unless a span of it is active.

    A run gets its trace id when it is created; starting (or restarting) its workflow inside this
    context makes Temporal's interceptor send that trace id, so the workflow's spans join it even
    when the API itself records no span (tracing off in the API, or a retried request).
    """
    current = trace.get_current_span().get_span_context()
    if current.is_valid and format_trace_id(current.trace_id) == trace_id:
        yield
        return
    parent = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        yield
    finally:
        otel_context.detach(token)


def langfuse_trace_url(settings: Settings, trace_id: str | None) -> str | None:
    """Link to a trace in Langfuse (its ``/trace/<id>`` page redirects to the project)."""
    if trace_id is None or not (settings.langfuse_public_key and settings.langfuse_secret_key):
        return None
    return f"{settings.langfuse_host.rstrip('/')}/trace/{trace_id}"
