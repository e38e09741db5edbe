"""Per-tenant request rate limits (real Redis) and the cap on active runs (real Temporal, Postgres)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator

import httpx
import pytest
from temporalio.client import Client

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_api.rate_limits import TenantRateLimiter
from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.auth import Principal
from agent_runtime_core.errors import RateLimitedError
from agent_runtime_core.settings import Settings

from .support import assert_problem, client_for, make_agent, open_client


async def test_requests_over_the_burst_get_429_with_retry_after(
    database_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    async for api in client_for(database_url, tenant_id, rate_limit_burst=3):
        statuses = [(await api.get("/v1/agents")).status_code for _ in range(6)]
        assert statuses.count(200) == 3 and statuses[:3] == [200, 200, 200], statuses
        refused = await api.get("/v1/agents")
        body = assert_problem(refused, 429, "rate_limited")
        assert "per second" in body["detail"]
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert refused.headers["ratelimit-limit"] == "3"
        assert refused.headers["ratelimit-remaining"] == "0"
        # Health probes are not /v1 and not limited.
        assert (await api.get("/healthz")).status_code == 200
    # Another tenant has its own budget.
    async for api in client_for(database_url, other_tenant_id, rate_limit_burst=3):
        assert (await api.get("/v1/agents")).status_code == 200


async def test_the_per_minute_limit_holds_across_api_processes(database_url: str, tenant_id: str) -> None:
    statuses: list[int] = []
    for _ in range(2):  # two app instances share the counters in Redis
        async for api in client_for(database_url, tenant_id, rate_limit_per_minute=4):
            statuses += [
                (await api.post("/v1/agents", json={"name": f"a{time.monotonic_ns()}"})).status_code
                for _ in range(3)
            ]
    assert statuses == [201, 201, 201, 201, 429, 429]
    async for api in client_for(database_url, tenant_id, rate_limit_per_minute=4):
        refused = await api.get("/v1/agents")
        assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Calls refused by the rate limiter are not audited (no flood of writes).
    async for api in client_for(database_url, tenant_id):
        entries = (await api.get("/v1/audit-log", params={"limit": 100})).json()["data"]
        assert [e["status_code"] for e in entries] == [201] * 4


async def test_rate_limits_fail_open_when_redis_is_unreachable(
    database_url: str, tenant_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{find_free_port()}/0"
    statuses: list[int] = []
    with caplog.at_level(logging.WARNING, logger="agent_runtime_api.rate_limits"):
        async for api in client_for(database_url, tenant_id, redis_url=dead_redis, rate_limit_burst=1):
            statuses = [(await api.get("/v1/agents")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert "rate limits not enforced: Redis is unreachable" in caplog.text
    assert caplog.text.count("rate limits not enforced") == 1  # warned once, not per request


async def test_the_limiter_counts_each_tenant_against_the_limits_it_is_given(
    redis_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    limiter = TenantRateLimiter(redis_url, timeout_s=1)
    try:
        for _ in range(2):
            await limiter.check(tenant_id, per_minute=100, burst=2)
        with pytest.raises(RateLimitedError) as refused:
            await limiter.check(tenant_id, per_minute=100, burst=2)
        assert refused.value.headers["RateLimit-Limit"] == "2"
        # Another tenant, and the same tenant under a larger limit (its own, set by operators),
        # are counted apart.
        await limiter.check(other_tenant_id, per_minute=100, burst=2)
        await limiter.check(tenant_id, per_minute=100, burst=3)
    finally:
        await limiter.aclose()


@pytest.fixture
async def queued_only_api(worker_settings: Settings, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    """The API on the real Temporal server with NO worker polling: runs stay queued (active)."""
    settings = worker_settings.model_copy(update={"max_active_runs_per_tenant": 3, "rate_limit_burst": 1000})
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    async for client in open_client(app):
        yield client


async def test_concurrent_creates_never_exceed_the_active_run_cap(
    queued_only_api: httpx.AsyncClient, temporal_client: Client
) -> None:
    api = queued_only_api
    agent_id = await make_agent(api)
    first = await api.post(
        "/v1/runs", json={"agent_id": agent_id, "input": "0"}, headers={"Idempotency-Key": "k0"}
    )
    assert first.status_code == 202

    responses = await asyncio.gather(
        *(api.post("/v1/runs", json={"agent_id": agent_id, "input": str(i)}) for i in range(1, 11))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 202] + [429] * 8, statuses
    refused = next(r for r in responses if r.status_code == 429)
    body = assert_problem(refused, 429, "active_run_limit")
    assert "limit is 3" in body["detail"]
    assert refused.headers["retry-after"] == "10"

    runs = (await api.get("/v1/runs", params={"status": ["queued", "running", "waiting"]})).json()["data"]
    assert len(runs) == 3

    # At the cap, an idempotent retry of an existing run is still answered with that run.
    replay = await api.post(
        "/v1/runs", json={"agent_id": agent_id, "input": "0"}, headers={"Idempotency-Key": "k0"}
    )
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]

    # The queued workflows (nobody polls their queue) are not left behind.
    for run in runs:
        await temporal_client.get_workflow_handle(run["workflow_id"]).terminate("test cleanup")
