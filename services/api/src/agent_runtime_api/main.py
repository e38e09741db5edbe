"""The FastAPI application: ``create_app()``; the lifespan opens the engine and Temporal."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from opentelemetry.trace import TracerProvider

from agent_runtime_api.audit import AuditMiddleware
from agent_runtime_api.body_limit import (
    RUN_INPUT_BODY,
    BodySizeLimitMiddleware,
    document_named_body_limits,
    resolve_body_limits,
    run_request_max_bytes,
)
from agent_runtime_api.console import install_console
from agent_runtime_api.deps import AppState, authenticate
from agent_runtime_api.docs_pages import install_docs_pages
from agent_runtime_api.langgraph import router as langgraph_router
from agent_runtime_api.langgraph.router import public_router as langgraph_public_router
from agent_runtime_api.middleware import CodecCorsMiddleware, RequestIdMiddleware, install_cors
from agent_runtime_api.observability import install_metrics, install_tracing
from agent_runtime_api.problems import install_problem_handlers
from agent_runtime_api.routers import (
    agents,
    api_keys,
    artifacts,
    audit_log,
    codec,
    health,
    human_requests,
    limits,
    providers,
    retention,
    runs,
    secrets,
    store,
    streams,
    threads,
    tools,
    usage,
)
from agent_runtime_api.routers.common import AUTH_RESPONSES, document_body_limits, problems
from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings, get_settings
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings
from agent_runtime_core.temporal.security import temporal_security
from agent_runtime_core.tracing import temporal_tracing_interceptor, tracer_provider_from_settings

V1_RESPONSES = {**AUTH_RESPONSES, **problems(429)}
"""Documented on every /v1 route: 401 and 403 (authentication, RBAC) and 429 (rate limits)."""

DESCRIPTION = """
Agent Runtime runs AI agents durably: every run is a Temporal workflow whose model calls and
tool calls are retried, resumable activities, with state in Postgres.

**Quick path:** create an agent with a first version (`POST /v1/agents`), start a run
(`POST /v1/runs`), poll it (`GET /v1/runs/{id}`) until `succeeded`, read its events
(`GET /v1/runs/{id}/events`) or follow them live (`GET /v1/runs/{id}/stream`, SSE), and open
`temporal_ui_url` to see the workflow.

**Docs and console:** this page (`/docs`), `/redoc` and the web console (`/console`) are
served by the API with their scripts, so they work without internet access.

**Sign-in:** send an API key as `Authorization: Bearer ar_…` (or `X-API-Key: ar_…`), or an
OIDC access token from your identity provider as `Authorization: Bearer <jwt>`. Missing or
invalid credentials get 401; a call your roles do not allow gets 403. `agent-runtime dev`
prints an admin key for local use; `POST /v1/api-keys` creates more.

Errors are `application/problem+json` (RFC 9457) with a stable `code` and, for invalid
fields, `errors[].loc` naming the field. Lists are paginated with `?limit=&cursor=`; a cursor
that no page returned is a 422 `invalid_cursor`.

**Input rules:** request bodies above 1 MiB (`AGENT_RUNTIME_MAX_REQUEST_BODY_BYTES`) get 413;
`POST /v1/runs` reads more (its `x-max-body-bytes`), since a run's input may be 2,000,000
characters long (`AGENT_RUNTIME_RUN_INPUT_MAX_CHARS`; longer: 422 `input_too_long`).
Text may not contain the NUL character (`\\u0000`), and free-form JSON objects (such as tool
`settings`) may nest at most 32 levels and hold at most 10,000 members and items: 422 naming the
field. Datetimes in requests without an offset are UTC and must lie between 1970 and 2200.
"""


def create_app(settings: Settings | None = None, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """Build the API application.

    Args:
        settings: Defaults to the process's settings.
        tracer_provider: Traces requests and propagates them to workflows. Defaults to the one
            the settings configure (OTLP/Langfuse), which the app then shuts down with its
            lifespan; ``None`` from both: no tracing.
    """
    settings = settings or get_settings()
    owned_provider = None
    if tracer_provider is None:
        tracer_provider = owned_provider = tracer_provider_from_settings(settings, "agent-runtime-api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        database = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            echo=settings.database_echo,
        )
        # The workers' converter (encryption, offloaded payloads): each side reads what the other wrote.
        data_converter = data_converter_from_settings(settings)
        temporal = TemporalConnection(
            settings.temporal_address,
            settings.temporal_namespace,
            # Always: it carries the run's trace id into its workflow (cheap; no spans without a provider).
            interceptors=[temporal_tracing_interceptor(tracer_provider)],
            data_converter=data_converter,
            security=temporal_security(settings),
        )
        state = AppState(settings=settings, database=database, temporal=temporal)
        app.state.agent_runtime = state
        try:
            yield
        finally:
            await state.aclose()
            await close_data_converter(data_converter)
            if owned_provider is not None:
                owned_provider.shutdown()

    app = FastAPI(
        title="Agent Runtime API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by install_docs_pages, with their scripts from this server instead of a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_tags=[
            {"name": "agents", "description": "Agents and their immutable versions."},
            {
                "name": "tools",
                "description": (
                    "Tools your tenant registers once (HTTP endpoints, immutable revisions) for agent "
                    "versions to reference, and the catalog of tools the workers serve."
                ),
            },
            {"name": "runs", "description": "Runs of agents: start, follow, cancel."},
            {"name": "approvals", "description": "Humans in the loop: tool approvals and questions."},
            {"name": "events", "description": "Live event streams (SSE) of all your runs."},
            {
                "name": "artifacts",
                "description": "Files of your tenant (bytes in S3-compatible object storage, encrypted "
                "server-side), optionally of a run or a thread: upload through the API or with a "
                "presigned URL, download, delete.",
            },
            {"name": "api-keys", "description": "API keys of your tenant (needs `api_keys:manage`)."},
            {"name": "audit", "description": "Who did what, when: the tenant's audit log (admins)."},
            {"name": "usage", "description": "Usage and cost, budgets, model price overrides."},
            {"name": "providers", "description": "Admin: model-provider endpoints and circuit breakers."},
            {
                "name": "limits",
                "description": "Rate limits and the active-run cap: yours, and (operators) any tenant's.",
            },
            {
                "name": "retention",
                "description": "How long finished runs, idle threads and artifacts are kept: yours, "
                "and (operators) any tenant's.",
            },
            {
                "name": "secrets",
                "description": "Write-only secrets for your tools, and the keys that sign HTTP tool "
                "requests (needs `secrets:manage`; listing secrets: `tools:read`).",
            },
            {"name": "health", "description": "Probes."},
        ],
    )
    # The last added runs first: the request id is known before the audit entry is written.
    named_body_limits = {RUN_INPUT_BODY: run_request_max_bytes(settings)}
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        settings=settings,
        named_limits=named_body_limits,
    )
    document_named_body_limits(app, named_body_limits)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_metrics(app, settings.metrics_enabled)
    if tracer_provider is not None:
        install_tracing(app, tracer_provider)
    install_cors(app, settings.cors_allow_origins)
    # Outermost: the codec endpoint's own CORS (the Temporal UI's origins), around the general one.
    app.add_middleware(
        CodecCorsMiddleware, prefix=codec.CODEC_PREFIX, origins=settings.temporal_codec_cors_origins
    )
    install_problem_handlers(app)
    # Every /v1 route: authenticated principal, then the tenant's rate limits.
    v1_routers = (
        agents.router,
        # Before the `/v1/tools/{tool_id}` routes: `signing-keys` is not a tool id.
        secrets.signing_keys_router,
        tools.router,
        runs.router,
        threads.router,
        human_requests.router,
        human_requests.inbox_router,
        streams.router,
        api_keys.router,
        audit_log.router,
        providers.router,
        usage.router,
        limits.router,
        retention.router,
        secrets.router,
        store.router,
        artifacts.router,
    )
    for router in v1_routers:
        document_body_limits(router)
        app.include_router(router, dependencies=[Depends(authenticate)], responses=V1_RESPONSES)
    resolve_body_limits(app, settings)  # the OpenAPI document shows the uploads' limit
    # Temporal's codec protocol: its own authentication (platform operators; see routers/codec.py).
    app.include_router(codec.router, responses=V1_RESPONSES)
    app.include_router(health.router)
    install_docs_pages(app)
    if settings.console_enabled:
        install_console(app, settings)
    # The LangGraph Platform API (langgraph-sdk's paths, no /v1 prefix; not in our OpenAPI
    # document): the same authentication and rate limits as /v1.
    app.include_router(langgraph_router, dependencies=[Depends(authenticate)])
    app.include_router(langgraph_public_router)
    return app
