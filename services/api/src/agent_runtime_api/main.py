"""The FastAPI application: ``create_app()``; the lifespan opens the engine and Temporal."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent_runtime_api.deps import AppState
from agent_runtime_api.middleware import RequestIdMiddleware
from agent_runtime_api.problems import install_problem_handlers
from agent_runtime_api.routers import agents, health, human_requests, providers, runs, streams
from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings, get_settings

DESCRIPTION = """
Agent Runtime runs AI agents durably: every run is a Temporal workflow whose model calls and
tool calls are retried, resumable activities, with state in Postgres.

**Quick path:** create an agent with a first version (`POST /v1/agents`), start a run
(`POST /v1/runs`), poll it (`GET /v1/runs/{id}`) until `succeeded`, read its events
(`GET /v1/runs/{id}/events`) or follow them live (`GET /v1/runs/{id}/stream`, SSE), and open
`temporal_ui_url` to see the workflow.

Errors are `application/problem+json` (RFC 9457) with a stable `code` and, for invalid
fields, `errors[].loc` naming the field. Lists are paginated with `?limit=&cursor=`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API application."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        database = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            echo=settings.database_echo,
        )
        temporal = TemporalConnection(settings.temporal_address, settings.temporal_namespace)
        state = AppState(settings=settings, database=database, temporal=temporal)
        app.state.agent_runtime = state
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(
        title="Agent Runtime API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "agents", "description": "Agents and their immutable versions."},
            {"name": "runs", "description": "Runs of agents: start, follow, cancel."},
            {"name": "approvals", "description": "Humans in the loop: tool approvals and questions."},
            {"name": "events", "description": "Live event streams (SSE) of all your runs."},
            {"name": "providers", "description": "Admin: model-provider endpoints and circuit breakers."},
            {"name": "health", "description": "Probes."},
        ],
    )
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)
    app.include_router(agents.router)
    app.include_router(runs.router)
    app.include_router(human_requests.router)
    app.include_router(streams.router)
    app.include_router(providers.router)
    app.include_router(health.router)
    return app
