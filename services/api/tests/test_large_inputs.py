"""Run inputs as long as a model's context (``run_input_max_chars``, 2,000,000 characters by
default): accepted through the payload bucket, and a clear 422 (characters) or 413 (bytes) above."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from agent_runtime_api.body_limit import BODY_LIMIT_KEY
from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings
from agent_runtime_worker.main import build_worker

from .support import TERMINAL_STATUSES, assert_problem, build_app, make_agent, open_client, wait_for_status

CAP = 1_000
SMALL_BODY = 4_096


@pytest.fixture
async def capped_api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """An API (without Temporal: refusals come first) accepting inputs of at most ``CAP`` characters."""
    app = build_app(
        database_url,
        tenant_id,
        temporal_address="127.0.0.1:1",
        run_input_max_chars=CAP,
        max_request_body_bytes=SMALL_BODY,
    )
    async for client in open_client(app):
        yield client


async def test_an_input_over_the_cap_is_a_422_naming_the_field(capped_api: httpx.AsyncClient) -> None:
    response = await capped_api.post("/v1/runs", json={"agent_id": "agt_x", "input": "a" * (CAP + 1)})
    problem = assert_problem(response, 422, "input_too_long")
    assert problem["errors"][0]["loc"] == ["body", "input"]
    assert "1,001 characters" in problem["detail"] and "at most 1,000" in problem["detail"]


async def test_the_langgraph_api_applies_the_same_cap(capped_api: httpx.AsyncClient) -> None:
    body = {"assistant_id": "agt_x", "input": {"messages": [{"role": "user", "content": "a" * (CAP + 1)}]}}
    assert_problem(await capped_api.post("/runs/wait", json=body), 422, "input_too_long")


async def test_run_routes_read_bodies_as_large_as_the_longest_input(capped_api: httpx.AsyncClient) -> None:
    run_limit = 6 * CAP + SMALL_BODY
    # An input at the cap, every character escaped (6 bytes each): over the ordinary limit, accepted
    # (and refused further on for its unknown agent).
    escaped = json.dumps({"agent_id": "agt_x", "input": "é" * CAP}, ensure_ascii=True).encode()
    assert SMALL_BODY < len(escaped) <= run_limit
    response = await capped_api.post(
        "/v1/runs", content=escaped, headers={"content-type": "application/json"}
    )
    assert_problem(response, 404, "agent_not_found")
    # A body beyond it is a 413 before anything is parsed, on the LangGraph routes too.
    too_big = b"x" * (run_limit + 1)
    for path in ("/v1/runs", "/runs", "/threads/thr_x/runs/stream"):
        response = await capped_api.post(path, content=too_big, headers={"content-type": "application/json"})
        problem = assert_problem(response, 413, "payload_too_large")
        assert str(run_limit) in problem["detail"]
    # Other routes keep the ordinary limit.
    response = await capped_api.post("/v1/agents", content=b"x" * (SMALL_BODY + 1))
    assert_problem(response, 413, "payload_too_large")


def test_openapi_shows_the_run_route_limit_of_this_deployment(database_url: str, tenant_id: str) -> None:
    small = build_app(database_url, tenant_id, run_input_max_chars=CAP, max_request_body_bytes=SMALL_BODY)
    default = build_app(database_url, tenant_id)
    assert small.openapi()["paths"]["/v1/runs"]["post"][BODY_LIMIT_KEY] == 6 * CAP + SMALL_BODY
    assert default.openapi()["paths"]["/v1/runs"]["post"][BODY_LIMIT_KEY] == 6 * 2_000_000 + 1024 * 1024


@pytest.mark.timeout(180)
async def test_an_input_of_two_million_characters_runs_to_success(
    worker_settings: Settings,
    s3_settings: dict[str, object],
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
) -> None:
    """The default cap, with the payload bucket: the API writes a 4 MB workflow input (and the
    scripted model echoes it back, as large), which Temporal alone would refuse."""
    settings = Settings.model_validate({**worker_settings.model_dump(), **s3_settings})
    converter = data_converter_from_settings(settings)
    config = temporal_env.client.config()
    config["data_converter"] = converter
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    try:
        async with build_worker(Client(**config), settings, database):
            async for api in open_client(app):
                agent_id = await make_agent(api)
                text = "é" * 2_000_000  # 4 MB in UTF-8, 12 MB as JSON with escapes
                body = json.dumps({"agent_id": agent_id, "input": text}, ensure_ascii=True).encode()
                response = await api.post(
                    "/v1/runs", content=body, headers={"content-type": "application/json"}
                )
                assert response.status_code == 202, response.text[:500]
                done = await wait_for_status(api, response.json()["id"], TERMINAL_STATUSES, timeout_s=120)
                assert done["status"] == "succeeded", {k: v for k, v in done.items() if k != "output"}
                assert done["output"] == f"You said: {text}"
                one_more = json.dumps({"agent_id": agent_id, "input": text + "é"}, ensure_ascii=False)
                response = await api.post(
                    "/v1/runs", content=one_more.encode(), headers={"content-type": "application/json"}
                )
                assert_problem(response, 422, "input_too_long")
    finally:
        await close_data_converter(converter)
