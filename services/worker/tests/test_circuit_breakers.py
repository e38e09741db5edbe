"""Circuit breakers end to end: real worker, Temporal, Redis, the fake provider and the admin API.

Each test's fake provider has its own port, so its endpoints (and their Redis keys) are its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_core.auth import Principal
from agent_runtime_core.breakers import ProviderEndpoint
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.repositories import RunEventRepository
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput, AgentRunResult
from agent_runtime_worker.main import build_worker

from .fake_llm import Answer, Fail, FakeLLM, Slow
from .support import new_run, provider_settings

PRIMARY, SECONDARY = "openai:gpt-a", "anthropic:claude-b"


@pytest.fixture
def settings(worker_settings: Settings, fake_llm: FakeLLM) -> Settings:
    return provider_settings(
        worker_settings,
        fake_llm,
        model_retry_max_attempts=1,  # one request per run: one breaker failure per run
        model_request_timeout_s=5.0,
        breaker_failure_threshold=2,
        breaker_window_s=60.0,
        # Long enough that the "open" run below starts within it on a loaded machine; the test
        # then waits for `next_probe_at` instead of sleeping a fixed time.
        breaker_cooldown_s=4.0,
    )


@pytest.fixture
async def admin(settings: Settings) -> AsyncGenerator[httpx.AsyncClient]:
    """The admin API of the same deployment (same Redis), as a platform operator: an admin of
    the default tenant (provider endpoints are shared by every tenant)."""
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=DEFAULT_TENANT_ID, subject="admin")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield client


async def run_many(
    temporal_env: WorkflowEnvironment, database: Database, tenant_id: str, task_queue: str, count: int
) -> list[tuple[AgentRunResult, list[dict[str, Any]]]]:
    """Start ``count`` runs (primary, then the fallback) at once; their results and fallback events."""
    run_ids = [await new_run(database, tenant_id, "hi") for _ in range(count)]
    handles = [
        await temporal_env.client.start_workflow(
            AGENT_RUN_WORKFLOW,
            AgentRunInput(
                run_id=run_id,
                tenant_id=tenant_id,
                input="hi",
                agent=AgentConfig(
                    agent_id="agt_x", agent_name="b", version=1, model=PRIMARY, fallback_models=[SECONDARY]
                ),
            ),
            id=f"run-{run_id}-{uuid.uuid4().hex[:4]}",
            task_queue=task_queue,
            result_type=AgentRunResult,
        )
        for run_id in run_ids
    ]
    results = await asyncio.gather(*(handle.result() for handle in handles))
    outcomes: list[tuple[AgentRunResult, list[dict[str, Any]]]] = []
    async with session_scope(database, tenant_id) as session:
        for run_id, result in zip(run_ids, results, strict=True):
            events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
            outcomes.append((result, [e.data for e in events if e.type == "model.fallback"]))
    return outcomes


async def provider(admin: httpx.AsyncClient, endpoint: ProviderEndpoint) -> dict[str, Any]:
    response = await admin.get("/v1/admin/providers")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["breakers_enabled"] is True
    assert body["settings"] == {"failure_threshold": 2, "window_s": 60.0, "cooldown_s": 4.0}
    [entry] = [e for e in body["data"] if e["id"] == endpoint.id]
    return entry


async def test_breaker_opens_skips_the_provider_probes_once_and_closes(
    fake_llm: FakeLLM,
    settings: Settings,
    admin: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    primary = ProviderEndpoint("openai", fake_llm.openai_base_url)
    secondary = ProviderEndpoint("anthropic", fake_llm.anthropic_base_url)
    fake_llm.script("gpt-a", Fail(500), Fail(503))
    fake_llm.script("claude-b", otherwise=Answer("from b"))
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        # Two runs, two failures: the breaker opens.
        for _ in range(2):
            [(result, _)] = await run_many(temporal_env, database, tenant_id, task_queue, 1)
            assert result.output == "from b"
        assert len(fake_llm.requests_for("gpt-a")) == 2
        opened = await provider(admin, primary)
        assert (opened["state"], opened["failures"], opened["base_url"]) == (
            "open",
            2,
            fake_llm.openai_base_url,
        )
        assert opened["opened_at"] is not None and opened["next_probe_at"] > opened["opened_at"]
        assert (await provider(admin, secondary))["state"] == "closed"

        # Open: the run falls over without any request reaching the failing provider.
        [(result, fallbacks)] = await run_many(temporal_env, database, tenant_id, task_queue, 1)
        assert result.output == "from b"
        assert len(fake_llm.requests_for("gpt-a")) == 2
        assert "circuit breaker open" in fallbacks[0]["error"]

        # After the cool-down: of four concurrent runs exactly one probes (slowly) the provider.
        await until_probe_due(opened)
        fake_llm.script("gpt-a", Slow(1.0, Answer("from a")))
        outcomes = await run_many(temporal_env, database, tenant_id, task_queue, 4)
        assert len(fake_llm.requests_for("gpt-a")) == 3
        assert sorted(result.output or "" for result, _ in outcomes) == [
            "from a",
            "from b",
            "from b",
            "from b",
        ]

        # The probe succeeded: closed, and runs use the primary again.
        closed = await provider(admin, primary)
        assert (closed["state"], closed["failures"], closed["opened_at"]) == ("closed", 0, None)
        [(result, fallbacks)] = await run_many(temporal_env, database, tenant_id, task_queue, 1)
        assert (result.output, fallbacks) == ("answer from gpt-a", [])


async def until_probe_due(breaker: dict[str, Any]) -> None:
    """Sleep until an open breaker's ``next_probe_at`` has passed."""
    probe_at = datetime.fromisoformat(breaker["next_probe_at"])
    await asyncio.sleep(max(0.0, (probe_at - datetime.now(UTC)).total_seconds()) + 0.1)


async def breaker_gauge(api: httpx.AsyncClient, endpoint: ProviderEndpoint) -> float | None:
    """The API's ``agent_runtime_breaker_state`` of ``endpoint`` (read from Redis at the scrape)."""
    scrape = await api.get("/metrics")
    assert scrape.status_code == 200
    for line in scrape.text.splitlines():
        if line.startswith(f'agent_runtime_breaker_state{{endpoint="{endpoint.id}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_failed_probe_reopens_and_reset_closes_at_once(
    fake_llm: FakeLLM,
    settings: Settings,
    admin: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    primary = ProviderEndpoint("openai", fake_llm.openai_base_url)
    fake_llm.script("gpt-a", Fail(500), Fail(500), Fail(429))
    fake_llm.script("claude-b", otherwise=Answer("from b"))
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        for _ in range(2):
            await run_many(temporal_env, database, tenant_id, task_queue, 1)
        first_open = await provider(admin, primary)
        assert first_open["state"] == "open"
        await until_probe_due(first_open)
        await run_many(temporal_env, database, tenant_id, task_queue, 1)  # the probe gets a 429
        assert len(fake_llm.requests_for("gpt-a")) == 3
        reopened = await provider(admin, primary)
        assert reopened["state"] == "open"
        assert reopened["opened_at"] > first_open["opened_at"]
        assert await breaker_gauge(admin, primary) == 2.0  # Prometheus: open

        response = await admin.post(f"/v1/admin/providers/{primary.id}/reset")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "closed"
        assert await breaker_gauge(admin, primary) == 0.0  # closed
        [(result, fallbacks)] = await run_many(temporal_env, database, tenant_id, task_queue, 1)
        assert (result.output, fallbacks) == ("answer from gpt-a", [])

    missing = await admin.post("/v1/admin/providers/openai-000000000000/reset")
    assert missing.status_code == 404
    assert missing.json()["code"] == "provider_endpoint_not_found"


async def test_non_retryable_errors_do_not_open_the_breaker(
    fake_llm: FakeLLM,
    settings: Settings,
    admin: httpx.AsyncClient,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    primary = ProviderEndpoint("openai", fake_llm.openai_base_url)
    fake_llm.script("gpt-a", otherwise=Fail(401))
    fake_llm.script("claude-b", otherwise=Answer("from b"))
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        await run_many(temporal_env, database, tenant_id, task_queue, 3)
    assert len(fake_llm.requests_for("gpt-a")) == 3
    entry = await provider(admin, primary)
    assert (entry["state"], entry["failures"]) == ("closed", 0)


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [
        (DEFAULT_TENANT_ID, {"developer"}),  # the operators' tenant, but not an admin
        ("ten_customer", {"admin"}),  # an admin, but of a customer tenant
    ],
)
async def test_admin_endpoints_need_the_providers_permission_in_the_operators_tenant(
    settings: Settings, admin: httpx.AsyncClient, tenant: str, roles: set[str]
) -> None:
    app = create_app(settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    app.dependency_overrides[get_principal] = lambda: Principal(
        tenant_id=tenant, subject="someone", roles=frozenset(roles)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            listed = await client.get("/v1/admin/providers")
            reset = await client.post("/v1/admin/providers/openai-000000000000/reset")
    assert listed.status_code == 403 and reset.status_code == 403
    assert listed.headers["content-type"].startswith("application/problem+json")
    assert "providers:manage" in listed.json()["detail"]
    assert (await admin.get("/v1/admin/providers")).status_code == 200
    bad = await admin.post("/v1/admin/providers/Not%20An%20Id/reset")
    assert bad.status_code == 422


async def test_runs_go_through_when_redis_is_down(
    fake_llm: FakeLLM,
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    """Breakers fail open: with Redis unreachable every request still reaches the provider."""
    no_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    fake_llm.script("gpt-a", Fail(500), Fail(500), Fail(500))
    fake_llm.script("claude-b", otherwise=Answer("from b"))
    async with build_worker(temporal_env.client, no_redis, database, task_queue=task_queue):
        outcomes = [(await run_many(temporal_env, database, tenant_id, task_queue, 1))[0] for _ in range(4)]
    # Threshold 2, yet nothing opened: the fourth run reached the primary (which answered).
    assert len(fake_llm.requests_for("gpt-a")) == 4
    assert [result.output for result, _ in outcomes] == ["from b", "from b", "from b", "answer from gpt-a"]
