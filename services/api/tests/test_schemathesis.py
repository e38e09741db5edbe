"""Property-based API testing with schemathesis against the real app, Temporal and a worker.

Schemathesis generates requests from our OpenAPI document (valid ones and, for the first run,
invalid ones) and checks every response: no 5xx, a documented status code, the documented
content type, a body matching the documented schema. A second run aims valid requests at real
objects (an agent, a version, a run waiting on an approval and a question) so the 200 paths and
their state conflicts (409) are covered as well.

Schemathesis drives synchronous tests, so the API (uvicorn, real sockets) and our worker run on
an event loop of their own in a background thread, against the session's Postgres, Redis and
Temporal dev server. Bounded: a few dozen examples per operation, no shrinking, a per-example
deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agent_runtime_api.main import create_app
from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.db import Database
from agent_runtime_core.repositories import encode_cursor
from agent_runtime_core.settings import Settings
from agent_runtime_worker.main import build_worker

from .support import issue_api_key

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The tenant stream never ends on its own: a generated request without a filter would hang.
# Its errors (404/422) are covered by test_streams.py.
NEVER_ENDING = "/v1/events/stream"


class BackgroundStack:
    """The API on a free port plus our worker, on their own event loop in a thread."""

    def __init__(self, settings: Settings, app_hook: Callable[[FastAPI], None]) -> None:
        self.settings = settings
        self.app_hook = app_hook
        self.port = find_free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="schemathesis-stack", daemon=True)

    def __enter__(self) -> BackgroundStack:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError("the API did not start") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the test thread
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        client = await Client.connect(self.settings.temporal_address, data_converter=pydantic_data_converter)
        database = Database(self.settings.database_url, pool_size=3)
        app = create_app(self.settings)
        self.app_hook(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        try:
            async with build_worker(client, self.settings, database):
                serving = asyncio.create_task(self._server.serve())
                while not self._server.started:
                    if serving.done():
                        await serving
                        raise RuntimeError("uvicorn stopped")
                    await asyncio.sleep(0.01)
                self._ready.set()
                await serving
        finally:
            await database.dispose()


@pytest.fixture(scope="module")
def schemathesis_tenant() -> str:
    return f"ten_test_st_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def auth_headers(database_url: str, schemathesis_tenant: str) -> dict[str, str]:
    """A real admin API key of the tenant, sent with every generated request (the API's own
    authentication runs: nothing is overridden)."""

    async def issue() -> str:
        database = Database(database_url, pool_size=1)
        try:
            _, token = await issue_api_key(database, schemathesis_tenant, ["admin"], name="schemathesis")
        finally:
            await database.dispose()
        return token

    return {"Authorization": f"Bearer {asyncio.run(issue())}"}


@pytest.fixture(scope="module")
def stack(
    database_url: str, temporal_env: WorkflowEnvironment, redis_url: str, s3_settings: dict[str, object]
) -> Generator[BackgroundStack]:
    settings = Settings.model_validate(
        {
            "database_url": database_url,
            "database_pool_size": 5,
            "temporal_address": temporal_env.client.service_client.config.target_host,
            "temporal_task_queue": f"test-schemathesis-{uuid.uuid4()}",
            "temporal_ui_url": "http://127.0.0.1:8233",
            "redis_url": redis_url,
            # Thousands of generated requests: rate limits would answer most of them 429.
            "rate_limit_enabled": False,
            # Tool secrets: a fixed test key, so their 201/200 paths are generated too.
            "secrets_keys": {"test-1": "dGVzdC1vbmx5LXNlY3JldHMta2V5LTMyLWJ5dGVzISE="},
            "secrets_active_key_id": "test-1",
            # Artifacts: a real S3 API (SeaweedFS), so their calls are served rather than 503.
            **s3_settings,
        }
    )

    with BackgroundStack(settings, lambda app: None) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(stack: BackgroundStack, auth_headers: dict[str, str]) -> dict[str, str]:
    """Real objects of the tenant: an agent with two versions and a run waiting on an approval
    and a question (``builtin:scripted`` calls the calculator, which needs approval, and
    ``ask_human`` in one turn)."""
    with httpx.Client(base_url=stack.base_url, headers=auth_headers, timeout=30) as http:
        version = {
            "model": "builtin:scripted",
            "tools": [{"name": "calculator", "requires_approval": True}, {"name": "ask_human"}],
        }
        agent = http.post("/v1/agents", json={"name": "schemathesis", "version": version})
        assert agent.status_code == 201, agent.text
        agent_id = agent.json()["id"]
        assert http.post(f"/v1/agents/{agent_id}/versions", json=version).status_code == 201
        run = http.post("/v1/runs", json={"agent_id": agent_id, "input": "What is 6 * 7?"})
        assert run.status_code == 202, run.text
        run_id = run.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            approvals = http.get(f"/v1/runs/{run_id}/approvals").json()["data"]
            questions = http.get(f"/v1/runs/{run_id}/input").json()["data"]
            if approvals and questions:
                break
            assert time.monotonic() < deadline, (approvals, questions)
            time.sleep(0.1)
        # A run stream only ends with its run: streams get a run that has finished.
        plain = http.post(
            "/v1/agents", json={"name": "schemathesis-plain", "version": {"model": "builtin:scripted"}}
        )
        finished = http.post("/v1/runs", json={"agent_id": plain.json()["id"], "input": "hi"}).json()["id"]
        while http.get(f"/v1/runs/{finished}").json()["status"] != "succeeded":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    return {
        "agent_id": agent_id,
        "run_id": run_id,
        "approval_id": approvals[0]["id"],
        "version": "1",
        "finished_run_id": finished,
    }


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document (building the app opens nothing; the lifespan does)."""
    return create_app(Settings.model_validate({"database_url": "postgresql://unused/none"})).openapi()


# Generated ids (mostly unknown: 404), valid and invalid requests (422).
random_schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path=NEVER_ENDING)
random_schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=20, no_shrink=True
)
# Valid requests whose ids are replaced by the seeded objects' (200s; 409s once the run moved on).
seeded_schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path=NEVER_ENDING)
seeded_schema.config.generation.update(modes=[GenerationMode.POSITIVE], max_examples=8, no_shrink=True)

HYPOTHESIS = settings(
    deadline=5_000,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@random_schema.parametrize()
@HYPOTHESIS
def test_generated_requests_get_documented_responses(
    case: schemathesis.Case, stack: BackgroundStack, auth_headers: dict[str, str]
) -> None:
    case.call_and_validate(base_url=stack.base_url, headers=auth_headers, checks=CHECKS, timeout=20)


@seeded_schema.parametrize()
@HYPOTHESIS
def test_requests_on_real_objects_get_documented_responses(
    case: schemathesis.Case, stack: BackgroundStack, auth_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    for name in case.path_parameters or {}:
        if name in seeded:
            case.path_parameters[name] = seeded[name]
    if case.path.endswith("/stream"):
        case.path_parameters["run_id"] = seeded["finished_run_id"]
    case.call_and_validate(base_url=stack.base_url, headers=auth_headers, checks=CHECKS, timeout=20)


def test_calls_without_credentials_are_refused(stack: BackgroundStack) -> None:
    response = httpx.get(f"{stack.base_url}/v1/agents", timeout=10)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_values_postgres_cannot_hold_are_client_errors(
    stack: BackgroundStack, auth_headers: dict[str, str], seeded: dict[str, str]
) -> None:
    """Regressions schemathesis found: a NUL character in an id, a `seq` beyond Postgres'
    integer range (query, cursor, Last-Event-ID) were 500s."""
    finished = seeded["finished_run_id"]
    with httpx.Client(base_url=stack.base_url, headers=auth_headers, timeout=20) as http:
        # Refused at the edge now, naming the parameter (docs/decisions.md, input conventions),
        # rather than by Postgres as an anonymous `invalid_value`.
        for path, loc in (
            ("/v1/agents/agt_%00", ["path", "agent_id"]),
            ("/v1/runs?agent_id=%00", ["query", "agent_id"]),
            ("/v1/runs/run_%00x/events", ["path", "run_id"]),
        ):
            response = http.get(path)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["code"] == "validation_error"
            assert response.json()["errors"][0]["loc"] == loc
        too_big = 2**63
        response = http.get(f"/v1/runs/{finished}/events", params={"after": too_big})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "after"]
        response = http.get(f"/v1/runs/{finished}/events", params={"cursor": encode_cursor(too_big)})
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []
        # Resuming after a position beyond every event: nothing to replay, and the finished run's stream ends.
        response = http.get(f"/v1/runs/{finished}/stream", headers={"Last-Event-ID": "9" * 18})
        assert response.status_code == 200, response.text
        assert "event:" not in response.text
        response = http.get("/v1/events/stream", headers={"Last-Event-ID": f"{finished}:{'9' * 18}"})
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_last_event_id"
