"""API test fixtures: the real app over ASGI, bound to the session's database."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_api.services.api_keys import ApiKeyService
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.settings import Settings


def build_app(database_url: str, tenant_id: str, **overrides: object) -> FastAPI:
    """The API app as a tenant of its own sees it."""
    settings = Settings.model_validate({"database_url": database_url, "database_pool_size": 3, **overrides})
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    return app


def build_authenticating_app(database_url: str, **overrides: object) -> FastAPI:
    """The API app with its real authentication (API keys, and OIDC when configured)."""
    settings = Settings.model_validate({"database_url": database_url, "database_pool_size": 3, **overrides})
    return create_app(settings)


async def issue_api_key(
    database: Database,
    tenant_id: str,
    roles: Iterable[str],
    *,
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    name: str = "test",
) -> tuple[str, str]:
    """Store an API key of ``tenant_id`` straight in the database; return its id and token."""
    async with session_scope(database, tenant_id) as session:
        key, token = await ApiKeyService(session, tenant_id).issue(
            name=name, roles=roles, scopes=scopes, created_by="test", expires_at=expires_at
        )
    return key.id, token


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
