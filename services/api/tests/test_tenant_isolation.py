"""Cross-tenant isolation: tenant B tries every operation on tenant A's objects.

A owns an agent (two versions) and a run waiting on an approval and an `ask_human` question,
executed by our worker on the real Temporal dev server; the API runs in uvicorn against the real
Postgres and Redis. B gets 404 (another tenant's object does not exist for B, so B cannot even
learn it exists) or an empty list, and A's objects are exactly as before. Each operation is one
line of `CASES`; add a line when you add an endpoint.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database
from agent_runtime_core.event_bus import DEFAULT_KEY_PREFIX
from agent_runtime_core.settings import Settings
from agent_runtime_worker.main import build_worker

from .sse import Message, messages, read_events, serve
from .support import FAST_STREAMS, TERMINAL_EVENTS, stream_app

NOT_FOUND = "not found"
EMPTY = "empty list"


@dataclass(frozen=True)
class Case:
    """One operation B attempts on A's objects; ``{agent_id}``, ``{run_id}``, ``{approval_id}``,
    ``{input_id}`` in the path, body and headers are A's ids."""

    method: str
    path: str
    expect: str = NOT_FOUND
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    status: int | None = None
    """For expectations other than 404/empty: the exact status (and ``code``)."""
    code: str | None = None


CASES: dict[str, Case] = {
    "list agents": Case("GET", "/v1/agents", EMPTY),
    "get agent": Case("GET", "/v1/agents/{agent_id}"),
    "update agent": Case("PATCH", "/v1/agents/{agent_id}", body={"name": "taken-over"}),
    "delete agent": Case("DELETE", "/v1/agents/{agent_id}"),
    "create version": Case("POST", "/v1/agents/{agent_id}/versions", body={"model": "builtin:scripted"}),
    "list versions": Case("GET", "/v1/agents/{agent_id}/versions"),
    "get version": Case("GET", "/v1/agents/{agent_id}/versions/1"),
    "start run of agent": Case(
        "POST", "/v1/runs", body={"agent_id": "{agent_id}", "input": "What is 1 + 1?"}
    ),
    "list runs": Case("GET", "/v1/runs", EMPTY),
    "list runs of agent": Case("GET", "/v1/runs?agent_id={agent_id}", EMPTY),
    "get run": Case("GET", "/v1/runs/{run_id}"),
    "cancel run": Case("POST", "/v1/runs/{run_id}/cancel"),
    "list run events": Case("GET", "/v1/runs/{run_id}/events"),
    "stream run events": Case("GET", "/v1/runs/{run_id}/stream"),
    "resume run stream": Case("GET", "/v1/runs/{run_id}/stream", headers={"Last-Event-ID": "{run_id}:1"}),
    "tenant stream of agent": Case("GET", "/v1/events/stream?agent_id={agent_id}"),
    "tenant stream of run": Case("GET", "/v1/events/stream?run_id={run_id}"),
    "tenant stream resumed at A's event": Case(
        "GET",
        "/v1/events/stream",
        headers={"Last-Event-ID": "{run_id}:1"},
        status=422,
        code="invalid_last_event_id",
    ),
    "list approvals": Case("GET", "/v1/runs/{run_id}/approvals"),
    "get approval": Case("GET", "/v1/runs/{run_id}/approvals/{approval_id}"),
    "approve": Case("POST", "/v1/runs/{run_id}/approvals/{approval_id}", body={"decision": "approve"}),
    "reject": Case("POST", "/v1/runs/{run_id}/approvals/{approval_id}", body={"decision": "reject"}),
    "list questions": Case("GET", "/v1/runs/{run_id}/input"),
    "answer question": Case("POST", "/v1/runs/{run_id}/input", body={"answer": "use tenant A's data"}),
    "answer question by id": Case(
        "POST", "/v1/runs/{run_id}/input", body={"request_id": "{input_id}", "answer": "x"}
    ),
    "approvals inbox": Case("GET", "/v1/approvals?status=pending", EMPTY),
    "approvals inbox of run": Case("GET", "/v1/approvals?run_id={run_id}", EMPTY),
    "approvals inbox of agent": Case("GET", "/v1/approvals?agent_id={agent_id}", EMPTY),
    "questions inbox": Case("GET", "/v1/questions?status=pending", EMPTY),
    "questions inbox of run": Case("GET", "/v1/questions?run_id={run_id}", EMPTY),
    "list api keys": Case("GET", "/v1/api-keys", EMPTY),
    "get api key": Case("GET", "/v1/api-keys/{key_id}"),
    "revoke api key": Case("DELETE", "/v1/api-keys/{key_id}"),
}


@dataclass
class TwoTenants:
    client: httpx.AsyncClient
    a: dict[str, str]
    """Headers acting as tenant A (the owner)."""
    b: dict[str, str]
    """Headers acting as tenant B (the intruder)."""
    ids: dict[str, str]
    """A's objects: agent_id, run_id, approval_id, input_id, key_id."""


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


async def wait_until_waiting(
    client: httpx.AsyncClient, headers: dict[str, str], run_id: str
) -> dict[str, str]:
    deadline = time.monotonic() + 30
    while True:
        approvals = (await client.get(f"/v1/runs/{run_id}/approvals", headers=headers)).json()["data"]
        questions = (await client.get(f"/v1/runs/{run_id}/input", headers=headers)).json()["data"]
        if approvals and questions:
            return {"approval_id": approvals[0]["id"], "input_id": questions[0]["id"]}
        assert time.monotonic() < deadline, (approvals, questions)
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def tenants(
    database_url: str, database: Database, temporal_env: WorkflowEnvironment, redis_url: str
) -> AsyncGenerator[TwoTenants]:
    """One API server and worker for the module; A's objects created once (B's attempts leave
    them unchanged, which each test checks)."""
    a, b = (f"ten_test_iso_{uuid.uuid4().hex[:10]}" for _ in range(2))
    settings = Settings.model_validate(
        {
            "database_url": database_url,
            "database_pool_size": 5,
            "temporal_address": temporal_env.client.service_client.config.target_host,
            "temporal_task_queue": f"test-isolation-{uuid.uuid4()}",
            "redis_url": redis_url,
            # Each case reads A's objects twice (~20 calls): the per-tenant burst limit would 429.
            "rate_limit_enabled": False,
        }
    )
    async with (
        build_worker(temporal_env.client, settings, database),
        serve(stream_app(settings, a)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        owner = {"x-test-tenant": a}
        version = {
            "model": "builtin:scripted",
            "tools": [{"name": "calculator", "requires_approval": True}, {"name": "ask_human"}],
        }
        created = await client.post("/v1/agents", json={"name": "secret", "version": version}, headers=owner)
        assert created.status_code == 201, created.text
        agent_id = created.json()["id"]
        assert (
            await client.post(f"/v1/agents/{agent_id}/versions", json=version, headers=owner)
        ).status_code == 201
        run = await client.post(
            "/v1/runs", json={"agent_id": agent_id, "input": "What is 6 * 7?"}, headers=owner
        )
        assert run.status_code == 202, run.text
        run_id = run.json()["id"]
        key = await client.post("/v1/api-keys", json={"name": "a-key", "roles": ["viewer"]}, headers=owner)
        assert key.status_code == 201, key.text
        ids = {
            "agent_id": agent_id,
            "run_id": run_id,
            "key_id": key.json()["id"],
            **await wait_until_waiting(client, owner, run_id),
        }
        try:
            yield TwoTenants(client=client, a=owner, b={"x-test-tenant": b}, ids=ids)
        finally:
            await client.post(f"/v1/runs/{run_id}/cancel", headers=owner)
            redis = Redis.from_url(redis_url)
            await redis.delete(*(f"{DEFAULT_KEY_PREFIX}:tenant:{tenant}" for tenant in (a, b)))
            await redis.aclose()


async def snapshot(tenants: TwoTenants) -> dict[str, Any]:
    """Everything A can read about its objects."""
    client, ids, headers = tenants.client, tenants.ids, tenants.a
    paths = {
        "agent": f"/v1/agents/{ids['agent_id']}",
        "agents": "/v1/agents",
        "versions": f"/v1/agents/{ids['agent_id']}/versions",
        "run": f"/v1/runs/{ids['run_id']}",
        "runs": "/v1/runs",
        "events": f"/v1/runs/{ids['run_id']}/events?limit=1000",
        "approvals": f"/v1/runs/{ids['run_id']}/approvals",
        "questions": f"/v1/runs/{ids['run_id']}/input",
        "approvals_inbox": "/v1/approvals",
        "questions_inbox": "/v1/questions",
        "api_keys": "/v1/api-keys",
    }
    state: dict[str, Any] = {}
    for name, path in paths.items():
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        state[name] = response.json()
    return state


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_another_tenant_cannot_reach_your_objects(tenants: TwoTenants, case: Case) -> None:
    before = await snapshot(tenants)
    assert before["run"]["status"] == "waiting"
    headers = {**tenants.b, **fill(case.headers or {}, tenants.ids)}
    response = await tenants.client.request(
        case.method, fill(case.path, tenants.ids), json=fill(case.body, tenants.ids), headers=headers
    )
    if case.status is not None:
        assert response.status_code == case.status, response.text
        assert response.json()["code"] == case.code
    elif case.expect == EMPTY:
        assert response.status_code == 200, response.text
        assert response.json()["data"] == []
    else:
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"].endswith("_not_found")
        # The answer names nothing of A's beyond the id B sent.
        assert "secret" not in response.text
    assert await snapshot(tenants) == before


async def test_tenant_stream_never_carries_another_tenants_events(tenants: TwoTenants) -> None:
    """B's live stream carries B's run and nothing of A's while A's new run emits its events."""
    client, ids = tenants.client, tenants.ids
    seen: list[Message] = []

    async def follow() -> None:
        async with client.stream("GET", "/v1/events/stream", headers=tenants.b) as response:
            assert response.status_code == 200
            async for message in messages(response):
                if message.comment is None:
                    seen.append(message)

    reader = asyncio.create_task(follow())
    await asyncio.sleep(0.3)
    # A works: a new run, to completion.
    plain = await client.post(
        "/v1/agents", json={"name": "a-plain", "version": {"model": "builtin:scripted"}}, headers=tenants.a
    )
    a_run = (
        await client.post("/v1/runs", json={"agent_id": plain.json()["id"], "input": "hi"}, headers=tenants.a)
    ).json()["id"]
    # B works too, so the stream demonstrably delivers B's own events.
    b_agent = await client.post(
        "/v1/agents", json={"name": "b-plain", "version": {"model": "builtin:scripted"}}, headers=tenants.b
    )
    b_run = (
        await client.post(
            "/v1/runs", json={"agent_id": b_agent.json()["id"], "input": "hi"}, headers=tenants.b
        )
    ).json()["id"]
    for run_id, headers in ((a_run, tenants.a), (b_run, tenants.b)):
        events, closed = await read_events(client, f"/v1/runs/{run_id}/stream", headers=headers)
        assert closed and events[-1].event in TERMINAL_EVENTS
    deadline = time.monotonic() + 10
    while not any(m.event in TERMINAL_EVENTS and m.envelope["run_id"] == b_run for m in seen):
        assert time.monotonic() < deadline, [m.event for m in seen]
        await asyncio.sleep(0.05)
    await asyncio.sleep(FAST_STREAMS.reconcile_interval_s * 2)  # room for a late leak to show up
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)

    run_ids = {message.envelope["run_id"] for message in seen}
    assert run_ids == {b_run}
    assert not run_ids & {a_run, ids["run_id"]}
