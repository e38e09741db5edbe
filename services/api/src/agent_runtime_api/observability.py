"""API tracing and metrics: request latency middleware, ``GET /metrics``, FastAPI instrumentation.

``GET /metrics`` is unauthenticated (Prometheus scrapes it) and left out of the OpenAPI document;
``AGENT_RUNTIME_METRICS_ENABLED=false`` removes it. It shows operators' figures across tenants,
so the gateway (Kong) must not route it publicly: scrape the API's own address.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import TracerProvider
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_runtime_api.deps import AppState
from agent_runtime_core.breakers import BREAKER_STATE_VALUES, breaker_states
from agent_runtime_core.db import system_session_scope
from agent_runtime_core.metrics import (
    CONTENT_TYPE_LATEST,
    exposition,
    observe_http_request,
    set_active_runs,
    set_breaker_state,
)
from agent_runtime_core.metrics import BreakerState as MetricBreakerState
from agent_runtime_core.repositories.runs import count_active_runs_by_status

METRICS_PATH = "/metrics"
UNTRACED_PATHS = "healthz,readyz,metrics"
"""Probes and scrapes make no spans (comma-separated patterns of the FastAPI instrumentation)."""


class RequestMetricsMiddleware:
    """Observes ``agent_runtime_http_request_duration_seconds`` (pure ASGI: safe for streams).

    The duration runs until the response starts, so a long-lived SSE stream counts its time to
    first byte, not its lifetime. The route label is the matched route's template.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            if observed:
                return
            observed = True
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template == METRICS_PATH:
                return  # scrapes would dominate the histogram
            observe_http_request(scope["method"], str(template), status, time.perf_counter() - started)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except BaseException:
            observe(500)
            raise


def install_metrics(app: FastAPI, enabled: bool) -> None:
    """Add the latency middleware and, when ``enabled``, ``GET /metrics``."""
    if not enabled:
        return
    app.add_middleware(RequestMetricsMiddleware)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        """Prometheus text exposition; the active-runs gauge is read from Postgres now."""
        state: AppState = request.app.state.agent_runtime
        # Counts every tenant (no tenant label): a system read, not on behalf of one tenant.
        async with system_session_scope(state.database) as session:
            set_active_runs(await count_active_runs_by_status(session))
        if state.circuit_breakers is not None:  # shared in Redis: every replica sees every endpoint
            for breaker in await breaker_states(state.circuit_breakers):
                set_breaker_state(breaker.id, MetricBreakerState(BREAKER_STATE_VALUES[breaker.state]))
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def install_tracing(app: FastAPI, provider: TracerProvider) -> None:
    """Server spans for API requests (the root of a run's trace), via the FastAPI instrumentation."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        meter_provider=NoOpMeterProvider(),
        excluded_urls=UNTRACED_PATHS,
        exclude_spans=["receive", "send"],  # one span per request, not per SSE message
    )
