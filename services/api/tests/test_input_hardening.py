"""Hostile but plausible requests: refused at the edge with a problem naming the field, never a 500."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request

from agent_runtime_api.body_limit import body_limit

from .support import VERSION, assert_problem, build_app, open_client


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.fixture
async def small_body_api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", max_request_body_bytes=4096)
    async for client in open_client(app):
        yield client


async def test_body_over_the_limit_is_413_problem(small_body_api: httpx.AsyncClient) -> None:
    response = await small_body_api.post("/v1/agents", json={"name": "big", "description": "x" * 10_000})
    problem = assert_problem(response, 413, "payload_too_large")
    assert "larger" in problem["detail"]
    assert (await small_body_api.get("/v1/agents")).json()["data"] == []


async def test_chunked_body_over_the_limit_is_413_problem(small_body_api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncGenerator[bytes]:
        yield b'{"name": "big", "description": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = await small_body_api.post(
        "/v1/agents", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload_too_large")


async def test_body_under_the_limit_is_accepted(small_body_api: httpx.AsyncClient) -> None:
    response = await small_body_api.post("/v1/agents", json={"name": "small", "description": "x" * 1000})
    assert response.status_code == 201, response.text


def test_openapi_documents_413_on_routes_with_a_body(database_url: str, tenant_id: str) -> None:
    paths = build_app(database_url, tenant_id).openapi()["paths"]
    assert "413" in paths["/v1/agents"]["post"]["responses"]
    assert "413" in paths["/v1/runs/{run_id}/input"]["post"]["responses"]
    assert "413" not in paths["/v1/agents"]["get"]["responses"]


async def test_deeply_nested_tool_settings_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    tools = [{"name": "calculator", "settings": nested(300)}]
    problem = assert_problem(
        await api.post("/v1/agents", json={"name": "deep", "version": {**VERSION, "tools": tools}}),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["loc"] == ["body", "version", "tools", 0, "settings"]
    assert problem["errors"][0]["type"] == "json_too_deep"
    assert (await api.get("/v1/agents")).json()["data"] == []


async def test_tool_settings_nested_within_the_bound_are_kept(api: httpx.AsyncClient) -> None:
    tools = [{"name": "calculator", "settings": nested(20)}]
    response = await api.post("/v1/agents", json={"name": "ok", "version": {**VERSION, "tools": tools}})
    assert response.status_code == 201, response.text
    version = (await api.get(f"/v1/agents/{response.json()['id']}/versions/1")).json()
    assert version["tools"][0]["settings"] == nested(20)


async def test_oversized_free_form_object_is_422(api: httpx.AsyncClient) -> None:
    tools = [{"name": "calculator", "settings": {f"k{i}": i for i in range(10_001)}}]
    problem = assert_problem(
        await api.post("/v1/agents", json={"name": "wide", "version": {**VERSION, "tools": tools}}),
        422,
        "validation_error",
    )
    assert problem["errors"][0]["type"] == "json_too_large"


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/v1/agents", {"name": "a", "description": "bad\u0000"}, ["body", "description"]),
        (
            "/v1/agents",
            {"name": "a", "version": {**VERSION, "instructions": "\u0000"}},
            ["body", "version", "instructions"],
        ),
        (
            "/v1/agents",
            {
                "name": "a",
                "version": {**VERSION, "tools": [{"name": "calculator", "settings": {"k\u0000": 1}}]},
            },
            ["body", "version", "tools", 0, "settings"],
        ),
        ("/v1/runs", {"agent_id": "agt_x", "input": "hi\u0000"}, ["body", "input"]),
        ("/v1/runs/run_x/input", {"answer": "yes\u0000"}, ["body", "answer"]),
        (
            "/v1/runs/run_x/approvals/apr_x",
            {"decision": "reject", "reason": "no\u0000"},
            ["body", "reason"],
        ),
    ],
)
async def test_nul_character_in_text_is_422_naming_the_field(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], loc: list[str | int]
) -> None:
    problem = assert_problem(await api.post(path, json=body), 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert problem["errors"][0]["type"] == "nul_character"


async def test_nul_character_in_a_query_filter_is_422(api: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await api.get("/v1/audit-log", params={"actor": "a\u0000"}), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"] == ["query", "actor"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"since": "0001-01-01T00:00:00"}, ["query", "since"]),
        ({"until": "9999-12-31T23:59:59"}, ["query", "until"]),
        ({"since": "0001-01-01T00:00:00+01:00"}, ["query", "since"]),
        ({"until": "9999-12-31T23:59:59-01:00"}, ["query", "until"]),
    ],
)
@pytest.mark.parametrize("path", ["/v1/usage", "/v1/audit-log"])
async def test_extreme_datetimes_are_422_naming_the_parameter(
    api: httpx.AsyncClient, path: str, params: dict[str, str], loc: list[str]
) -> None:
    problem = assert_problem(await api.get(path, params=params), 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc
    assert problem["errors"][0]["type"] == "datetime_out_of_range"


@pytest.mark.parametrize("path", ["/v1/usage", "/v1/audit-log"])
async def test_naive_datetimes_are_utc_everywhere(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path, params={"since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00"})
    assert response.status_code == 200, response.text
    if path == "/v1/usage":
        assert response.json()["since"].startswith("2026-01-01T00:00:00")
        assert response.json()["since"].endswith(("Z", "+00:00"))


async def test_a_route_may_accept_more_than_the_default(database_url: str, tenant_id: str) -> None:
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", max_request_body_bytes=4096)
    router = APIRouter()

    @router.post("/upload-test", openapi_extra=body_limit(64_000))
    async def upload(request: Request) -> dict[str, int]:  # pyright: ignore[reportUnusedFunction]
        return {"size": len(await request.body())}

    app.include_router(router)

    async for client in open_client(app):
        accepted = await client.post("/upload-test", content=b"x" * 50_000)
        assert accepted.json() == {"size": 50_000}
        assert_problem(await client.post("/upload-test", content=b"x" * 70_000), 413, "payload_too_large")
        assert_problem(await client.post("/v1/agents", content=b"x" * 50_000), 413, "payload_too_large")


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/v1/runs/run_%00x", ["path", "run_id"]),
        ("/v1/agents/agt_%00x", ["path", "agent_id"]),
        ("/v1/runs?agent_id=agt_%00x", ["query", "agent_id"]),
        ("/v1/api-keys/key_%00x", ["path", "key_id"]),
    ],
)
async def test_nul_character_in_an_id_is_422_naming_it(
    api: httpx.AsyncClient, path: str, loc: list[str]
) -> None:
    problem = assert_problem(await api.get(path), 422, "validation_error")
    assert problem["errors"][0]["loc"] == loc


def test_workflow_input_does_not_apply_the_request_bounds() -> None:
    """The workflow input has its own durable models: a run created before the bounds existed,
    with deeper settings, still loads when its history replays. The request model bounds them."""
    from pydantic import ValidationError

    from agent_runtime_core.schemas import AgentVersionCreate
    from agent_runtime_core.temporal import ToolConfig

    deep = nested(40)
    assert ToolConfig.model_validate({"name": "calculator", "settings": deep}).settings == deep
    with pytest.raises(ValidationError) as raised:
        AgentVersionCreate.model_validate({**VERSION, "tools": [{"name": "calculator", "settings": deep}]})
    [error] = raised.value.errors()
    assert error["loc"] == ("tools", 0, "settings")
    assert error["type"] == "json_too_deep"


async def test_json_nested_deeper_than_the_parser_allows_is_a_client_error(api: httpx.AsyncClient) -> None:
    deep = '{"name": "x", "description": ' + "[" * 200_000 + "]" * 200_000 + "}"
    response = await api.post("/v1/agents", content=deep, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
