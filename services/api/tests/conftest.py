"""API test fixtures: the real app over ASGI, bound to the session's database."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
import pytest
from fastapi import FastAPI

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.settings import Settings


def build_app(database_url: str, tenant_id: str, **overrides: object) -> FastAPI:
    """The API app as a tenant of its own sees it."""
    settings = Settings.model_validate({"database_url": database_url, "database_pool_size": 3, **overrides})
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    return app


async def open_client(app: FastAPI) -> AsyncGenerator[httpx.AsyncClient]:
    """An HTTP client over ASGI with the app's lifespan running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """A client of an API whose Temporal is unreachable (agents need none)."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")
    async for client in open_client(app):
        yield client
