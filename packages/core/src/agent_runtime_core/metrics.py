"""Prometheus metrics of every Agent Runtime process, defined once (names ``agent_runtime_*``).

Labels stay low-cardinality: no run or agent ids. Model usage and cost carry a ``tenant`` label
(cost by tenant is what operators chart), bounded per process: the first
``TENANT_LABEL_LIMIT`` tenants a process sees get their own value, later ones share ``other``
(exact per-tenant figures come from ``GET /v1/usage``). ``model`` and ``provider`` are bounded
by the models agent versions name; ``route`` is the route template (``/v1/runs/{run_id}``), never
the raw path.

The API serves these at ``GET /metrics``; the worker on ``AGENT_RUNTIME_WORKER_METRICS_PORT``.
Other parts record through the helpers below (``record_model_usage``, ``record_provider_error``,
``set_breaker_state``, ...) rather than touching the metric objects.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from enum import IntEnum
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    start_http_server,
)

from agent_runtime_core.lifecycle import ACTIVE_STATUSES

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIVITY_DURATION",
    "BREAKER_STATE",
    "CACHE_REQUESTS",
    "CONTENT_TYPE_LATEST",
    "HTTP_REQUEST_DURATION",
    "MODEL_COST_USD",
    "MODEL_REQUESTS",
    "MODEL_TOKENS",
    "PROVIDER_ERRORS",
    "RUNS_ACTIVE",
    "RUNS_CREATED",
    "RUNS_FINISHED",
    "TASK_QUEUE_BACKLOG",
    "TASK_QUEUE_BACKLOG_AGE",
    "BreakerState",
    "exposition",
    "observe_activity",
    "observe_http_request",
    "record_cache_request",
    "record_model_usage",
    "record_provider_error",
    "record_run_created",
    "record_run_finished",
    "set_active_runs",
    "set_breaker_state",
    "set_task_queue_backlog",
    "start_metrics_server",
    "tenant_label",
]

disable_created_metrics()  # no `_created` series next to each counter: half the scrape, no loss

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# --------------------------------------------------------------------------------------- API
HTTP_REQUEST_DURATION = Histogram(
    "agent_runtime_http_request_duration_seconds",
    "API request latency until the response starts (streams: until their headers are sent).",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
RUNS_ACTIVE = Gauge(
    "agent_runtime_runs_active",
    "Runs not finished yet, by status (queued, running, waiting), across all tenants. Computed "
    "from Postgres at each scrape: every API replica reports the same figure (use max, not sum).",
    ["status"],
)
RUNS_CREATED = Counter("agent_runtime_runs_created_total", "Runs created by this API process.")
CACHE_REQUESTS = Counter(
    "agent_runtime_cache_requests_total",
    "Reads through the Redis read cache, by kind (agent, agent_version, ...) and result: hit, "
    "miss (read from Postgres), error (Redis failed or is skipped after a failure; read from Postgres).",
    ["kind", "result"],
)

# ------------------------------------------------------------------------------------ worker
RUNS_FINISHED = Counter(
    "agent_runtime_runs_finished_total",
    "Runs this worker moved to a terminal status, by that status.",
    ["status"],
)
MODEL_REQUESTS = Counter(
    "agent_runtime_model_requests_total",
    "Model requests that returned a response (each attempt counts).",
    ["provider", "model", "tenant"],
)
MODEL_TOKENS = Counter(
    "agent_runtime_model_tokens_total",
    "Tokens used by model requests, by direction (input, output).",
    ["provider", "model", "direction", "tenant"],
)
MODEL_COST_USD = Counter(
    "agent_runtime_model_cost_usd_total",
    "Cost of model requests in US dollars (priced requests only).",
    ["provider", "model", "tenant"],
)
PROVIDER_ERRORS = Counter(
    "agent_runtime_provider_errors_total",
    "Failed model requests, by kind (rate_limited, server_error, timeout, connection, client_error, ...).",
    ["provider", "model", "kind"],
)
ACTIVITY_DURATION = Histogram(
    "agent_runtime_activity_duration_seconds",
    "Duration of one activity attempt on this worker, by activity type and outcome.",
    ["activity_type", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
BREAKER_STATE = Gauge(
    "agent_runtime_breaker_state",
    "Circuit breaker state per provider endpoint: 0 closed, 1 half-open, 2 open.",
    ["endpoint"],
)

TASK_QUEUE_BACKLOG = Gauge(
    "agent_runtime_temporal_task_queue_backlog",
    "Approximate number of tasks waiting in the worker's Temporal task queue, by type (workflow, "
    "activity), as Temporal reports it: what worker autoscaling follows.",
    ["task_queue", "type"],
)
TASK_QUEUE_BACKLOG_AGE = Gauge(
    "agent_runtime_temporal_task_queue_backlog_age_seconds",
    "Age of the oldest task waiting in the worker's Temporal task queue, by type (0: none waits).",
    ["task_queue", "type"],
)


class BreakerState(IntEnum):
    """Values of ``agent_runtime_breaker_state``."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


# ----------------------------------------------------------------------------------- helpers


def observe_http_request(method: str, route: str, status: int, seconds: float) -> None:
    """Record one API request (``route`` is the template, or ``unmatched``)."""
    HTTP_REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


def set_active_runs(counts: dict[str, int]) -> None:
    """Set the active-runs gauge; statuses missing from ``counts`` are 0."""
    for status in ACTIVE_STATUSES:
        RUNS_ACTIVE.labels(status.value).set(counts.get(status.value, 0))


def record_cache_request(kind: str, result: str) -> None:
    """Count one read through the read cache (``result``: ``hit``, ``miss`` or ``error``)."""
    CACHE_REQUESTS.labels(kind, result).inc()


def record_run_created() -> None:
    """Count a run the API created."""
    RUNS_CREATED.inc()


def record_run_finished(status: str) -> None:
    """Count a run that reached the terminal ``status`` (call once per transition)."""
    RUNS_FINISHED.labels(status).inc()


TENANT_LABEL_LIMIT: Final = 200
"""Distinct ``tenant`` label values per process; later tenants are counted as ``other``."""
_labelled_tenants: set[str] = set()


def tenant_label(tenant_id: str | None) -> str:
    """The ``tenant`` label value of ``tenant_id``: itself for the first ``TENANT_LABEL_LIMIT``
    tenants this process sees, ``other`` after that, ``unknown`` without one."""
    if not tenant_id:
        return "unknown"
    if tenant_id in _labelled_tenants:
        return tenant_id
    if len(_labelled_tenants) < TENANT_LABEL_LIMIT:
        _labelled_tenants.add(tenant_id)
        return tenant_id
    return "other"


def record_model_usage(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cost_usd: Decimal | float | None = None,
    *,
    tenant_id: str | None = None,
) -> None:
    """Count one model response of ``tenant_id``: the request, its tokens and (when priced) its cost."""
    tenant = tenant_label(tenant_id)
    MODEL_REQUESTS.labels(provider, model, tenant).inc()
    if input_tokens:
        MODEL_TOKENS.labels(provider, model, "input", tenant).inc(input_tokens)
    if output_tokens:
        MODEL_TOKENS.labels(provider, model, "output", tenant).inc(output_tokens)
    if cost_usd is not None:
        MODEL_COST_USD.labels(provider, model, tenant).inc(float(cost_usd))


def record_provider_error(provider: str, model: str, kind: str) -> None:
    """Count one failed model request. Keep ``kind`` to a small fixed set (e.g. ``rate_limited``,
    ``server_error``, ``timeout``, ``connection``, ``client_error``, ``auth``)."""
    PROVIDER_ERRORS.labels(provider, model, kind).inc()


def set_breaker_state(endpoint: str, state: BreakerState) -> None:
    """Publish the state of the circuit breaker of ``endpoint``."""
    BREAKER_STATE.labels(endpoint).set(int(state))


def set_task_queue_backlog(task_queue: str, task_type: str, count: int, age_seconds: float) -> None:
    """Publish the backlog of ``task_queue`` for ``task_type`` (``workflow`` or ``activity``)."""
    TASK_QUEUE_BACKLOG.labels(task_queue, task_type).set(count)
    TASK_QUEUE_BACKLOG_AGE.labels(task_queue, task_type).set(age_seconds)


def observe_activity(activity_type: str, outcome: str, seconds: float) -> None:
    """Record one activity attempt (``outcome``: ``completed``, ``failed`` or ``cancelled``)."""
    ACTIVITY_DURATION.labels(activity_type, outcome).observe(seconds)


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The metrics in the Prometheus text format."""
    return generate_latest(registry)


def start_metrics_server(host: str, port: int) -> WSGIServer | None:
    """Serve the metrics on ``host:port`` from a daemon thread (stop it with ``.shutdown()``).

    A port already in use is logged, not fatal: a worker without metrics still runs agents.
    """
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        logger.warning("worker metrics server not started on %s:%s: %s", host, port, exc)
        return None
    logger.info("worker metrics at http://%s:%s/metrics", host, server.server_port)
    return server
