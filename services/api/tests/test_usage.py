"""`/v1/budgets`, `/v1/model-prices` and `/v1/usage` on the real app and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from agent_runtime_api.deps import get_principal
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.models import Agent, AgentVersion, ModelRequestRecord, Run
from agent_runtime_core.repositories import RunRepository, UsageRepository

from .support import build_app, open_client


@pytest.fixture
async def viewer_api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1")
    app.dependency_overrides[get_principal] = lambda: Principal(
        tenant_id=tenant_id, subject="viewer", roles=frozenset({"viewer"})
    )
    async for client in open_client(app):
        yield client


async def test_budgets_round_trip_and_report_their_use(api: httpx.AsyncClient) -> None:
    empty = (await api.get("/v1/budgets")).json()
    assert empty["daily_tokens"] is None and empty["status"] == [] and empty["on_exceeded"] == "fail"
    body = {"daily_tokens": 1000, "monthly_cost_usd": "12.5", "on_exceeded": "wait"}
    put = await api.put("/v1/budgets", json=body)
    assert put.status_code == 200, put.text
    budget = (await api.get("/v1/budgets")).json()
    assert budget["daily_tokens"] == 1000 and Decimal(budget["monthly_cost_usd"]) == Decimal("12.5")
    assert budget["on_exceeded"] == "wait" and budget["updated_by"] == "test"
    statuses = {s["name"]: s for s in budget["status"]}
    assert set(statuses) == {"daily_tokens", "monthly_cost_usd"}
    assert Decimal(statuses["daily_tokens"]["used"]) == 0 and statuses["daily_tokens"]["exhausted"] is False
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    assert datetime.fromisoformat(statuses["daily_tokens"]["resets_at"]).date() == tomorrow


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"daily_tokens": -1}, "daily_tokens"),
        ({"on_exceeded": "sometimes"}, "on_exceeded"),
        ({"daily_cost_usd": "abc"}, "daily_cost_usd"),
        ({"weekly_tokens": 5}, "weekly_tokens"),
    ],
)
async def test_invalid_budgets_are_problems_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await api.put("/v1/budgets", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"][-1] == field


async def test_viewers_read_usage_but_cannot_manage_budgets(viewer_api: httpx.AsyncClient) -> None:
    assert (await viewer_api.get("/v1/usage")).status_code == 200
    for response in (
        await viewer_api.get("/v1/budgets"),
        await viewer_api.put("/v1/budgets", json={}),
        await viewer_api.get("/v1/model-prices"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"


async def test_model_prices_are_managed_per_tenant(api: httpx.AsyncClient) -> None:
    model = f"meta-llama/Llama-3.1-8B-{uuid.uuid4().hex[:6]}"  # slashes are part of the name
    price = {"input_usd_per_mtok": "0.2", "output_usd_per_mtok": "0.4"}
    put = await api.put(f"/v1/model-prices/openai-compatible/{model}", json=price)
    assert put.status_code == 200, put.text
    assert put.json()["scope"] == "tenant" and put.json()["model"] == model
    again = await api.put(
        f"/v1/model-prices/openai-compatible/{model}", json={**price, "output_usd_per_mtok": "1"}
    )
    assert Decimal(again.json()["output_usd_per_mtok"]) == 1
    listed = [p for p in (await api.get("/v1/model-prices")).json()["data"] if p["model"] == model]
    assert len(listed) == 1
    assert (await api.delete(f"/v1/model-prices/openai-compatible/{model}")).status_code == 204
    missing = await api.delete(f"/v1/model-prices/openai-compatible/{model}")
    assert missing.status_code == 404
    unknown = await api.put("/v1/model-prices/acme/x", json=price)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["path", "provider"]
    # Global prices apply to every tenant: only the operators' (default) tenant sets them.
    assert (await api.put(f"/v1/model-prices/openai/{model}?scope=global", json=price)).status_code == 403


async def _run(database: Database, tenant_id: str, agent_id: str) -> str:
    run_id = new_run_id()
    async with system_session_scope(database) as session:
        run = Run(
            id=run_id, tenant_id=tenant_id, agent_id=agent_id, agent_version=1, input="x", workflow_id="w"
        )
        await RunRepository(session, tenant_id).create(run, {})
    return run_id


async def test_usage_aggregates_match_the_ledger(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    agents = [new_agent_id(), new_agent_id()]
    async with system_session_scope(database) as session:
        for agent_id in agents:
            session.add(Agent(id=agent_id, tenant_id=tenant_id, name=agent_id, latest_version=1))
            await session.flush()
            session.add(
                AgentVersion(agent_id=agent_id, version=1, tenant_id=tenant_id, model="builtin:scripted")
            )
    runs = [await _run(database, tenant_id, agent_id) for agent_id in agents]
    base = datetime(2026, 3, 10, 12, tzinfo=UTC)
    ledger = [
        # (run, day offset, model, input, output, cost)
        (0, 0, "gpt-4o-mini", 100, 10, Decimal("0.001")),
        (0, 0, "gpt-4o-mini", 200, 20, Decimal("0.002")),
        (0, 1, "scripted", 50, 5, None),
        (1, 1, "gpt-4o-mini", 300, 30, Decimal("0.003")),
        (1, 2, "gpt-4o-mini", 400, 40, Decimal("0.004")),  # outside the window
    ]
    async with system_session_scope(database) as session:
        repository = UsageRepository(session, tenant_id)
        for index, (run, offset, model, tokens_in, tokens_out, cost) in enumerate(ledger):
            await repository.record(
                ModelRequestRecord(
                    tenant_id=tenant_id,
                    run_id=runs[run],
                    request_key=f"0:{index}",
                    agent_id=agents[run],
                    agent_version=1,
                    provider="builtin" if model == "scripted" else "openai",
                    model=model,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    cost_usd=cost,
                    price_source="unknown" if cost is None else "genai-prices",
                    at=base + timedelta(days=offset),
                )
            )
    window = {"since": "2026-03-10T00:00:00Z", "until": "2026-03-12T00:00:00Z"}
    total = (await api.get("/v1/usage", params=window)).json()
    assert total["totals"] == {
        "day": None,
        "agent_id": None,
        "model": None,
        "requests": 4,
        "input_tokens": 650,
        "output_tokens": 65,
        "cost_usd": "0.00600000",
        "unpriced_requests": 1,
    }
    assert total["groups"] == [] and total["budget"] is None
    by = (await api.get("/v1/usage", params={**window, "group_by": "day,model"})).json()
    assert [
        (g["day"], g["model"], g["requests"], g["input_tokens"], g["cost_usd"]) for g in by["groups"]
    ] == [
        ("2026-03-10", "openai:gpt-4o-mini", 2, 300, "0.00300000"),
        ("2026-03-11", "builtin:scripted", 1, 50, None),
        ("2026-03-11", "openai:gpt-4o-mini", 1, 300, "0.00300000"),
    ]
    by_agent = (await api.get("/v1/usage", params=[*window.items(), ("group_by", "agent")])).json()
    assert {g["agent_id"]: g["requests"] for g in by_agent["groups"]} == {agents[0]: 3, agents[1]: 1}
    assert sum(Decimal(g["cost_usd"]) for g in by_agent["groups"]) == Decimal("0.006")


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"group_by": "week"}, ["query", "group_by"]),
        ({"since": "2026-03-12T00:00:00Z", "until": "2026-03-10T00:00:00Z"}, ["query", "since"]),
        ({"since": "yesterday"}, ["query", "since"]),
    ],
)
async def test_invalid_usage_queries_are_problems_naming_the_field(
    api: httpx.AsyncClient, params: dict[str, str], loc: list[str]
) -> None:
    response = await api.get("/v1/usage", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == loc
