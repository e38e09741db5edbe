"""Budgets, usage and cost of model requests, on real Postgres and Temporal.

Cost figures are compared with genai-prices' own calculation; budgets are enforced inside the
model-request activity and handled by the workflow (fail, or wait for the reset on the
time-skipping server).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from genai_prices import calc_price
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_ai import RunContext
from pydantic_ai.messages import ModelRequest
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.usage import RequestUsage, RunUsage
from sqlalchemy import event, text
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.breakers import BreakerConfig, CircuitBreakers, ProviderEndpoint
from agent_runtime_core.budgets import period_end
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models import ModelPrice, RunStatus
from agent_runtime_core.repositories import (
    BudgetRepository,
    ModelPriceRepository,
    RunEventRepository,
    RunRepository,
    UsageRepository,
)
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ToolConfig,
)
from agent_runtime_worker.agents.runtime_agent import RunDeps
from agent_runtime_worker.governance import budgets
from agent_runtime_worker.governance.pricing import price_request
from agent_runtime_worker.main import build_worker
from agent_runtime_worker.models.governed import GovernedModel
from agent_runtime_worker.models.scripted import build_scripted_model

from .support import new_run, worker_dependencies

PROMPT_USAGE = {"prompt_tokens": 1200, "completion_tokens": 345, "total_tokens": 1545}


def priced_server() -> FastAPI:
    """A minimal OpenAI chat-completions server that streams one answer and reports usage."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:  # pyright: ignore[reportUnusedFunction]
        body = await request.json()
        base = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
        }

        async def chunks() -> AsyncIterator[str]:
            delta = {"index": 0, "delta": {"role": "assistant", "content": "Priced."}, "finish_reason": None}
            yield f"data: {json.dumps({**base, 'choices': [delta]})}\n\n"
            done = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield f"data: {json.dumps({**base, 'choices': [done]})}\n\n"
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': PROMPT_USAGE})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


@pytest.fixture
async def openai_wire_server() -> AsyncGenerator[str]:
    port = find_free_port()
    server = uvicorn.Server(uvicorn.Config(priced_server(), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    await task


def agent_input(run_id: str, tenant_id: str, model: str, tools: list[str] | None = None) -> AgentRunInput:
    return AgentRunInput(
        run_id=run_id,
        tenant_id=tenant_id,
        input="What is 6 * 7?",
        agent=AgentConfig(
            agent_id="agt_x",
            agent_name="governed",
            version=1,
            model=model,
            tools=[ToolConfig(name=name) for name in (tools or [])],
        ),
    )


async def execute(client: Client, run_input: AgentRunInput, task_queue: str) -> AgentRunResult:
    return await client.execute_workflow(
        AGENT_RUN_WORKFLOW,
        run_input,
        id=f"run-{run_input.run_id}",
        task_queue=task_queue,
        result_type=AgentRunResult,
    )


async def run_calculator_agent(
    client: Client, settings: Settings, database: Database, tenant_id: str, run_id: str, task_queue: str
) -> AgentRunResult:
    """Run ``run_id`` on ``builtin:scripted`` with the calculator (two model requests) to its end."""
    async with build_worker(client, settings, database, task_queue=task_queue):
        return await execute(
            client, agent_input(run_id, tenant_id, "builtin:scripted", ["calculator"]), task_queue
        )


async def set_budget(database: Database, tenant_id: str, **limits: Any) -> None:
    values: dict[str, Any] = {
        "daily_tokens": None,
        "daily_cost_usd": None,
        "monthly_tokens": None,
        "monthly_cost_usd": None,
    }
    values.update({"on_exceeded": "fail", **limits})
    async with system_session_scope(database) as session:
        await BudgetRepository(session, tenant_id).put(values, updated_by="test")


async def set_price(
    database: Database, tenant_id: str | None, provider: str, model: str, **prices: str
) -> None:
    async with system_session_scope(database) as session:
        await ModelPriceRepository(session, tenant_id or "ten_any").put(
            ModelPrice(
                tenant_id=tenant_id,
                provider=provider,
                model=model,
                input_usd_per_mtok=Decimal(prices["input"]),
                output_usd_per_mtok=Decimal(prices["output"]),
                cached_input_usd_per_mtok=Decimal(prices["cached"]) if "cached" in prices else None,
            )
        )


# ---------------------------------------------------------------------------------- pricing


def test_price_of_an_openai_request_is_genai_prices_own_figure() -> None:
    usage = RequestUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cost, source = price_request(usage, "openai", "gpt-4o-mini", at, None)
    expected = calc_price(usage, "gpt-4o-mini", provider_id="openai", genai_request_timestamp=at).total_price
    assert (cost, source.value) == (expected, "genai-prices")
    assert cost == Decimal("0.000435")  # 800 at $0.15, 200 cached at $0.075, 500 out at $0.60 per million


def test_unknown_models_have_no_price_rather_than_a_guess() -> None:
    usage = RequestUsage(input_tokens=10, output_tokens=10)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert price_request(usage, "openai-compatible", "my-private-llm", at, None) == (None, "unknown")
    assert price_request(usage, "builtin", "scripted", at, None) == (None, "unknown")


async def test_run_on_gpt_4o_mini_costs_what_genai_prices_says(
    openai_wire_server: str,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    settings = worker_settings.model_copy(update={"openai_base_url": openai_wire_server})
    run_id = await new_run(database, tenant_id)
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        result = await execute(
            temporal_env.client, agent_input(run_id, tenant_id, "openai-compatible:gpt-4o-mini"), task_queue
        )
    assert result.status == "succeeded", result
    async with system_session_scope(database) as session:
        rows = await UsageRepository(session, tenant_id).list_for_run(run_id)
        run = await RunRepository(session, tenant_id).get(run_id)
    assert len(rows) == 1
    row = rows[0]
    usage = RequestUsage(input_tokens=1200, output_tokens=345)
    expected = calc_price(usage, "gpt-4o-mini", genai_request_timestamp=row.at).total_price
    assert (row.provider, row.model, row.input_tokens, row.output_tokens) == (
        "openai-compatible",
        "gpt-4o-mini",
        1200,
        345,
    )
    assert row.price_source == "genai-prices"
    assert row.cost_usd == expected
    assert run is not None and run.cost_usd == expected
    assert row.agent_id is not None and row.agent_version == 1


async def test_override_price_wins_and_a_tenant_override_wins_over_a_global_one(
    openai_wire_server: str,
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    model = f"gpt-4o-mini-{uuid.uuid4().hex[:6]}"  # a private name: the global row stays this test's
    await set_price(database, None, "openai-compatible", model, input="100", output="100")
    await set_price(database, tenant_id, "openai-compatible", model, input="1", output="2", cached="0.5")
    settings = worker_settings.model_copy(update={"openai_base_url": openai_wire_server})
    run_id = await new_run(database, tenant_id)
    async with build_worker(temporal_env.client, settings, database, task_queue=task_queue):
        result = await execute(
            temporal_env.client, agent_input(run_id, tenant_id, f"openai-compatible:{model}"), task_queue
        )
    assert result.status == "succeeded", result
    async with system_session_scope(database) as session:
        rows = await UsageRepository(session, tenant_id).list_for_run(run_id)
    assert [(r.price_source, r.cost_usd) for r in rows] == [
        ("override", (Decimal(1200) * 1 + Decimal(345) * 2) / 1_000_000)
    ]


async def test_retried_request_is_counted_once(
    database: Database, worker_settings: Settings, tenant_id: str
) -> None:
    ledger = budgets.BudgetService(database, worker_settings)
    run_id = await new_run(database, tenant_id)
    at = datetime.now(UTC)
    identity = budgets.RequestIdentity(tenant_id=tenant_id, run_id=run_id, request_key="1:7", at=at)
    usage = RequestUsage(input_tokens=100, output_tokens=20)
    # A retried activity has the same activity id, hence the same identity.
    first = await ledger.after_request(await ledger.before_request(identity, "openai", "gpt-4o-mini"), usage)
    again = await ledger.after_request(await ledger.before_request(identity, "openai", "gpt-4o-mini"), usage)
    assert (first, again) == (True, False)
    async with system_session_scope(database) as session:
        usage_now = await UsageRepository(session, tenant_id).period_usage(at)
        totals = await UsageRepository(session, tenant_id).run_totals(run_id)
    assert usage_now["day"].tokens == usage_now["month"].tokens == 120
    assert totals[:3] == (1, 100, 20)


# ---------------------------------------------------------------------------------- budgets


async def test_run_that_hits_the_budget_fails_with_budget_exceeded(
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    # One token: the first request (nothing used yet) runs; the one after the tool call is refused.
    await set_budget(database, tenant_id, daily_tokens=1)
    run_id = await new_run(database, tenant_id)
    result = await run_calculator_agent(
        temporal_env.client, worker_settings, database, tenant_id, run_id, task_queue
    )
    assert result.status == "failed"
    assert result.error_code == "budget_exceeded"
    assert result.error_message is not None and "daily_tokens budget is used up" in result.error_message
    async with system_session_scope(database) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        rows = await UsageRepository(session, tenant_id).list_for_run(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id)
    assert run is not None and run.status == RunStatus.FAILED
    assert run.error is not None and run.error["code"] == "budget_exceeded"
    assert len(rows) == 1 and run.usage_requests == 1  # the refused request never reached the model
    assert rows[0].price_source == "unknown" and run.cost_usd is None
    assert events[-1].type == "run.failed"


async def test_cost_budget_counts_override_prices(
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    await set_price(database, tenant_id, "builtin", "scripted", input="1000000", output="1000000")  # $1/token
    await set_budget(database, tenant_id, monthly_cost_usd="0.5")
    run_id = await new_run(database, tenant_id)
    result = await run_calculator_agent(
        temporal_env.client, worker_settings, database, tenant_id, run_id, task_queue
    )
    assert (result.status, result.error_code) == ("failed", "budget_exceeded")
    assert result.error_message is not None and "monthly_cost_usd" in result.error_message


async def test_wait_mode_waits_for_the_reset_then_the_run_goes_on(
    time_skipping_env: WorkflowEnvironment,
    worker_settings: Settings,
    database: Database,
    tenant_id: str,
) -> None:
    await set_budget(database, tenant_id, daily_tokens=1, on_exceeded="wait")
    run_id = await new_run(database, tenant_id)
    task_queue = f"ts-{uuid.uuid4()}"
    run_input = agent_input(run_id, tenant_id, "builtin:scripted", ["calculator"])
    agent = run_input.agent
    longer = agent.model_copy(
        update={"limits": agent.limits.model_copy(update={"run_timeout_s": 3 * 24 * 3600})}
    )
    run_input = run_input.model_copy(update={"agent": longer})
    async with build_worker(time_skipping_env.client, worker_settings, database, task_queue=task_queue):
        result = await execute(time_skipping_env.client, run_input, task_queue)
    assert result.status == "succeeded", result
    async with system_session_scope(database) as session:
        events = await RunEventRepository(session, tenant_id).list(run_id)
        rows = await UsageRepository(session, tenant_id).list_for_run(run_id)
    types = [e.type for e in events]
    waiting = next(e for e in events if e.type == "run.waiting")
    assert waiting.data["reason"] == "budget_exceeded" and waiting.data["budget"] == "daily_tokens"
    until = datetime.fromisoformat(waiting.data["until"])
    assert until == period_end("day", rows[0].at)
    assert types.index("run.waiting") < types.index("run.resumed") < types.index("run.succeeded")
    # The second request ran in the next day, on the reset budget.
    assert len(rows) == 2 and rows[1].at >= until


# ---------------------------------------------------------------------------------- concurrency


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    workers=st.integers(min_value=2, max_value=8),
    limit=st.integers(min_value=50, max_value=2000),
    sizes=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=20),
)
async def test_concurrent_workers_never_overspend_beyond_one_request_each(
    database: Database, worker_settings: Settings, workers: int, limit: int, sizes: list[int]
) -> None:
    ledger = budgets.BudgetService(database, worker_settings)
    tenant_id = f"ten_prop_{uuid.uuid4().hex[:10]}"
    await set_budget(database, tenant_id, daily_tokens=limit)
    run_ids = [await new_run(database, tenant_id) for _ in range(workers)]
    biggest = max(sizes)
    at = datetime.now(UTC)

    async def worker(index: int) -> int:
        spent = 0
        for request in range(10_000):
            identity = budgets.RequestIdentity(tenant_id, run_ids[index], f"0:{request}", at)
            try:
                ticket = await ledger.before_request(identity, "builtin", "scripted")
            except ApplicationError as refused:
                if refused.type != "BudgetExceeded":
                    raise
                return spent
            await asyncio.sleep(0.001 * (request % 3))  # the model answering
            size = sizes[(index + request) % len(sizes)]
            await ledger.after_request(
                ticket, RequestUsage(input_tokens=size - size // 2, output_tokens=size // 2)
            )
            spent += size
        raise AssertionError("the budget never stopped this worker")

    spent = await asyncio.gather(*(worker(index) for index in range(workers)))
    async with system_session_scope(database) as session:
        committed = (await UsageRepository(session, tenant_id).period_usage(at))["day"].tokens
    assert committed == sum(spent)
    assert limit <= committed <= limit + workers * biggest


async def test_usage_counts_in_the_period_of_the_request(
    database: Database, worker_settings: Settings
) -> None:
    ledger = budgets.BudgetService(database, worker_settings)
    tenant_id = f"ten_per_{uuid.uuid4().hex[:10]}"
    run_id = await new_run(database, tenant_id)
    await set_budget(database, tenant_id, daily_tokens=10)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    identity = budgets.RequestIdentity(tenant_id, run_id, "0:1", yesterday)
    await ledger.after_request(
        await ledger.before_request(identity, "builtin", "scripted"), RequestUsage(input_tokens=50)
    )
    with pytest.raises(ApplicationError):
        await ledger.before_request(
            budgets.RequestIdentity(tenant_id, run_id, "0:2", yesterday), "builtin", "x"
        )
    today = budgets.RequestIdentity(tenant_id, run_id, "0:3", datetime.now(UTC))
    assert (await ledger.before_request(today, "builtin", "scripted")).identity == today


# ---------------------------------------------------------------------------------- hot path


def count_statements(database: Database) -> Callable[[], int]:
    """Counts the statements the pool sends from now on; the returned function stops counting
    and tells how many were sent."""
    sent: list[str] = []

    def on_execute(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", on_execute)

    def count() -> int:
        event.remove(database.engine.sync_engine, "before_cursor_execute", on_execute)
        return len(sent)

    return count


async def test_a_tenant_without_budget_costs_no_query_until_the_policy_is_read_again(
    database: Database, worker_settings: Settings, tenant_id: str
) -> None:
    cached = worker_settings.model_copy(update={"budget_policy_cache_s": 3600.0})
    ledger = budgets.BudgetService(database, cached)
    run_id = await new_run(database, tenant_id)
    at = datetime.now(UTC)
    first = await ledger.before_request(budgets.RequestIdentity(tenant_id, run_id, "0:1", at), "builtin", "x")
    await ledger.after_request(first, RequestUsage(input_tokens=40))
    await set_budget(database, tenant_id, daily_tokens=10)  # already used up

    count = count_statements(database)
    await ledger.before_request(budgets.RequestIdentity(tenant_id, run_id, "0:2", at), "builtin", "x")
    assert count() == 0  # no budget when last read: no query, the new budget is not seen yet

    # Read again (the cache time is over): the new budget applies.
    ledger.settings = worker_settings.model_copy(update={"budget_policy_cache_s": 0.0})
    with pytest.raises(ApplicationError) as refused:
        await ledger.before_request(budgets.RequestIdentity(tenant_id, run_id, "0:3", at), "builtin", "x")
    assert refused.value.type == "BudgetExceeded"


async def test_a_tenant_with_a_budget_is_checked_against_fresh_usage_on_every_request(
    database: Database, worker_settings: Settings, tenant_id: str
) -> None:
    ledger = budgets.BudgetService(
        database, worker_settings.model_copy(update={"budget_policy_cache_s": 3600.0})
    )
    run_id = await new_run(database, tenant_id)
    await set_budget(database, tenant_id, daily_tokens=100)
    at = datetime.now(UTC)
    ticket = await ledger.before_request(
        budgets.RequestIdentity(tenant_id, run_id, "0:1", at), "builtin", "x"
    )
    await ledger.after_request(ticket, RequestUsage(input_tokens=100))
    with pytest.raises(ApplicationError):
        await ledger.before_request(budgets.RequestIdentity(tenant_id, run_id, "0:2", at), "builtin", "x")


async def test_the_ledger_row_is_written_with_model_request_finished_in_one_transaction(
    worker_settings: Settings,
    temporal_env: WorkflowEnvironment,
    database: Database,
    tenant_id: str,
    task_queue: str,
) -> None:
    run_id = await new_run(database, tenant_id)
    result = await run_calculator_agent(
        temporal_env.client, worker_settings, database, tenant_id, run_id, task_queue
    )
    assert result.status == "succeeded"
    async with system_session_scope(database) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        connection = await session.connection()
        ledger = (
            await connection.execute(
                text(
                    "SELECT xmin::text, agent_id, agent_version FROM model_requests WHERE run_id = :r ORDER BY id"
                ),
                {"r": run_id},
            )
        ).all()
        finished = (
            await connection.execute(
                text(
                    "SELECT xmin::text FROM run_events WHERE run_id = :r "
                    "AND type = 'model.request.finished' ORDER BY seq"
                ),
                {"r": run_id},
            )
        ).all()
    assert run is not None and len(ledger) == 2 == len(finished)  # calculator call, then the answer
    # Same transaction id: the row was written in the transaction of the request's finished event.
    assert [row[0] for row in ledger] == [row[0] for row in finished]
    assert {(row[1], row[2]) for row in ledger} == {(run.agent_id, run.agent_version)}


async def test_a_request_the_budget_refuses_hands_back_the_breakers_probe(
    database: Database, worker_settings: Settings, tenant_id: str, redis_url: str
) -> None:
    breakers = CircuitBreakers.from_url(
        redis_url, BreakerConfig(failure_threshold=1, cooldown_s=0.05), key_prefix=f"test:{uuid.uuid4().hex}"
    )
    dependencies = replace(worker_dependencies(database, worker_settings), breakers=breakers)
    endpoint = ProviderEndpoint("openai", "http://probe.invalid")
    await breakers.record_failure(endpoint, await breakers.acquire(endpoint))  # open
    await asyncio.sleep(0.1)  # cool-down over: the next request is the half-open probe

    await set_budget(database, tenant_id, daily_tokens=0)
    model = GovernedModel(
        build_scripted_model(), model_ref="openai:gpt-4o-mini", endpoint=endpoint, dependencies=dependencies
    )
    ctx = RunContext[RunDeps](
        deps=RunDeps(run_id=await new_run(database, tenant_id), tenant_id=tenant_id, enabled_tools=[]),
        model=model,
        usage=RunUsage(),
        run_step=1,
    )

    async def request() -> None:  # inside a model-request activity, as in a worker
        async with model.request_stream(
            [ModelRequest.user_text_prompt("hi")], None, ModelRequestParameters(), ctx
        ):
            pass

    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(request)
    assert refused.value.type == "BudgetExceeded"
    # The probe was handed back: the next request may probe at once.
    permit = await breakers.acquire(endpoint)
    assert permit.allowed and permit.is_probe
    await breakers.aclose()
