"""CORS for browser apps on other origins (``AGENT_RUNTIME_CORS_ALLOW_ORIGINS``), such as
agent-chat-ui calling the LangGraph API from its own dev server."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
import pytest
from pydantic import ValidationError

from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings

from .support import build_authenticating_app, issue_api_key, open_client

ORIGIN = "http://localhost:3000"


@pytest.fixture
async def cors_api(database_url: str) -> AsyncGenerator[httpx.AsyncClient]:
    app = build_authenticating_app(database_url, cors_allow_origins=f"{ORIGIN}, https://chat.example.com")
    async for client in open_client(app):
        yield client


def preflight(method: str, headers: str, origin: str = ORIGIN) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_preflight_from_an_allowed_origin_is_answered_without_credentials(
    cors_api: httpx.AsyncClient,
) -> None:
    response = await cors_api.options(
        "/threads/abc/runs/stream", headers=preflight("POST", "content-type,x-api-key,last-event-id")
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"content-type", "x-api-key", "last-event-id", "authorization"} <= {
        header.strip().lower() for header in response.headers["access-control-allow-headers"].split(",")
    }
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers  # keys travel in headers


async def test_answers_to_an_allowed_origin_expose_what_the_langgraph_sdk_reads(
    cors_api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    key = (await issue_api_key(database, tenant_id, ["admin"]))[1]
    response = await cors_api.post(
        "/threads", json={}, headers={"Origin": "https://chat.example.com", "X-Api-Key": key}
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://chat.example.com"
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    # The SDK reads a run's id from Content-Location and where to rejoin a stream from Location.
    assert {"content-location", "location", "x-request-id", "retry-after"} <= exposed

    # Problems carry them too: the page can read why it was refused.
    refused = await cors_api.post("/threads/search", json={}, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN


async def test_other_origins_get_no_cors_headers(cors_api: httpx.AsyncClient) -> None:
    response = await cors_api.options("/info", headers=preflight("GET", "x-api-key", "http://evil.example"))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    response = await cors_api.get("/info", headers={"Origin": "http://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_no_cors_unless_configured(database_url: str) -> None:
    async for client in open_client(build_authenticating_app(database_url)):
        response = await client.get("/info", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers
        assert (await client.options("/info", headers=preflight("GET", "x-api-key"))).status_code == 405


def test_origins_setting_takes_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AGENT_RUNTIME_CORS_ALLOW_ORIGINS", "http://localhost:3000, https://chat.example.com:8443"
    )
    assert Settings().cors_allow_origins == ["http://localhost:3000", "https://chat.example.com:8443"]
    assert Settings(cors_allow_origins="*").cors_allow_origins == ["*"]  # pyright: ignore[reportArgumentType]
    assert Settings(cors_allow_origins="").cors_allow_origins == []  # pyright: ignore[reportArgumentType]
    for not_an_origin in ("localhost:3000", "http://localhost:3000/", "ftp://files.example"):
        with pytest.raises(ValidationError, match="is no origin"):
            Settings(cors_allow_origins=not_an_origin)  # pyright: ignore[reportArgumentType]
