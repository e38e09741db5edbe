"""Overhead of the governance layer per model request: GovernedModel vs the bare model.

Each request runs the way the worker's model-request activity runs it: the model's response is
streamed through the worker's event recorder (``record_model_events``), which writes
``model.request.started`` and ``model.request.finished`` to Postgres. The bare model
(pydantic-ai's zero-latency ``FunctionModel``) is timed against the same model inside
``GovernedModel`` (budget check before; usage and cost into the ledger, inside the
``model.request.finished`` transaction; the circuit breaker in Redis when asked). The difference
is what governance adds to every model request; the target is <= 2 ms at p50.

    uv run python bench/governance_overhead.py            # 2000 requests per scenario
    uv run python bench/governance_overhead.py --quick    # 300

Needs a Postgres server (``--server-url``, default 127.0.0.1:5432; a scratch database is created,
migrated and dropped) and, for the breaker scenario, Redis (``--redis-url``, default
127.0.0.1:6379; ``--redis-url ''`` skips it). Writes
``bench/results/governance_overhead-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.usage import RunUsage
from temporalio.testing import ActivityEnvironment

from agent_runtime_core.breakers import CircuitBreakers, ProviderEndpoint, breaker_config
from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.models import ModelPrice
from agent_runtime_core.repositories import BudgetRepository, ModelPriceRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.agents.activities import AgentActivities
from agent_runtime_worker.agents.runtime_agent import RunDeps
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.main import warm_price_table
from agent_runtime_worker.models.governed import GovernedModel
from agent_runtime_worker.models.scripted import build_scripted_model

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile, scratch_database

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


PARAMETERS = ModelRequestParameters()


def governed(
    model_ref: str, dependencies: WorkerDependencies, endpoint: ProviderEndpoint | None = None
) -> Model:
    """The scripted model governed as the worker's ``ModelResolver`` governs models: the event
    recorder writes the ledger row in its ``model.request.finished`` transaction."""
    return GovernedModel(
        build_scripted_model(),
        model_ref=model_ref,
        endpoint=endpoint,
        dependencies=dependencies,
        ledger_in_event_transaction=True,
    )


def guarded(dependencies: WorkerDependencies, breakers: CircuitBreakers) -> Model:
    """``openai:gpt-4o-mini`` (answered by the scripted model) behind its own closed breaker."""
    endpoint = ProviderEndpoint("openai", f"http://bench-{uuid.uuid4().hex[:8]}")
    return governed("openai:gpt-4o-mini", dataclasses.replace(dependencies, breakers=breakers), endpoint)


class Requester:
    """Streams requests to one model for one run, each a new step (so each writes its events)."""

    def __init__(self, model: Model, run_id: str, tenant_id: str, agent: AgentActivities) -> None:
        self.model = model
        self.agent = agent
        self.deps = RunDeps(run_id=run_id, tenant_id=tenant_id, enabled_tools=[])
        self.step = 0
        self.messages: list[ModelMessage] = [
            ModelRequest(parts=[UserPromptPart("Hello there, how are you?")])
        ]

    async def __call__(self) -> None:
        """One streamed request, its events written by the worker's recorder, inside an activity
        context (as the model-request activity runs it)."""
        self.step += 1
        ctx = RunContext[RunDeps](deps=self.deps, model=self.model, usage=RunUsage(), run_step=self.step)

        async def request() -> None:
            async with self.model.request_stream(self.messages, None, PARAMETERS, ctx) as stream:
                await self.agent.record_model_events(ctx, stream)

        await ActivityEnvironment().run(request)


async def timed_round_robin(
    calls: dict[str, Callable[[], Awaitable[None]]], count: int, warmup: int
) -> dict[str, list[float]]:
    """``count`` rounds, each one request of every scenario in turn, so the scenarios share the
    machine's slow and fast moments (Postgres checkpoints, autovacuum, other processes)."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(count):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


async def new_run(database: Database, tenant_id: str) -> str:
    """A run row (with agent and version) to attribute the requests to."""
    from agent_runtime_core.ids import new_agent_id, new_run_id
    from agent_runtime_core.models import Agent, AgentVersion, Run

    agent_id, run_id = new_agent_id(), new_run_id()
    async with system_session_scope(database) as session:
        session.add(Agent(id=agent_id, tenant_id=tenant_id, name=agent_id, latest_version=1))
        await session.flush()
        session.add(AgentVersion(agent_id=agent_id, version=1, tenant_id=tenant_id, model="builtin:scripted"))
        await session.flush()
        session.add(
            Run(
                id=run_id, tenant_id=tenant_id, agent_id=agent_id, agent_version=1, input="x", workflow_id="w"
            )
        )
    return run_id


async def measure(database_url: str, redis_url: str, count: int, warmup: int) -> dict[str, Any]:
    # No event bus: publishing to Redis is a background task in the worker, off the request's path.
    settings = Settings.model_validate({"database_url": database_url, "redis_url": ""})
    database = Database(database_url, pool_size=5, pre_ping=False)  # as the worker's
    dependencies = WorkerDependencies.open(settings, database)
    agent = AgentActivities(dependencies)
    warm_price_table()
    breakers = CircuitBreakers.from_url(redis_url, breaker_config(settings)) if redis_url else None
    results: dict[str, Any] = {}
    try:
        plain_tenant, budget_tenant = f"ten_bench_{uuid.uuid4().hex[:8]}", f"ten_bench_{uuid.uuid4().hex[:8]}"
        async with system_session_scope(database) as session:
            await BudgetRepository(session, budget_tenant).put(
                {
                    "daily_tokens": 10**12,
                    "daily_cost_usd": Decimal(10**6),
                    "monthly_tokens": 10**12,
                    "monthly_cost_usd": Decimal(10**6),
                    "on_exceeded": "fail",
                },
                updated_by="bench",
            )
            await ModelPriceRepository(session, budget_tenant).put(
                ModelPrice(
                    tenant_id=budget_tenant,
                    provider="builtin",
                    model="scripted",
                    input_usd_per_mtok=Decimal("0.5"),
                    output_usd_per_mtok=Decimal("1.5"),
                )
            )
        bare = build_scripted_model()
        scenarios: dict[str, tuple[Model, str]] = {
            "bare model": (bare, plain_tenant),
            "governed: no budget, no price": (
                governed("builtin:scripted", dependencies),
                plain_tenant,
            ),
        }
        if breakers is not None:
            scenarios["governed: no budget, circuit breaker (Redis)"] = (
                guarded(dependencies, breakers),
                plain_tenant,
            )
        scenarios |= {
            "governed: 4 budgets, genai-prices (openai:gpt-4o-mini)": (
                governed("openai:gpt-4o-mini", dependencies),
                budget_tenant,
            ),
            "governed: 4 budgets, override price": (
                governed("builtin:scripted", dependencies),
                budget_tenant,
            ),
        }
        if breakers is not None:
            scenarios["governed: 4 budgets, genai-prices, circuit breaker (Redis)"] = (
                guarded(dependencies, breakers),
                budget_tenant,
            )
        calls: dict[str, Callable[[], Awaitable[None]]] = {
            name: Requester(model, await new_run(database, tenant_id), tenant_id, agent)
            for name, (model, tenant_id) in scenarios.items()
        }
        log(f"{len(calls)} scenarios, {count} rounds")
        samples = await timed_round_robin(calls, count, warmup)
        bare_samples = samples["bare model"]
        for name, values in samples.items():
            # Each request minus the bare request of the same round.
            paired = [value - bare for value, bare in zip(values, bare_samples, strict=True)]
            results[name] = {
                "p50_ms": percentile(values, 0.5),
                "p95_ms": percentile(values, 0.95),
                "p99_ms": percentile(values, 0.99),
                "mean_ms": sum(values) / len(values),
                "paired_overhead_p50_ms": percentile(paired, 0.5),
                "count": len(values),
            }
    finally:
        if breakers is not None:
            await breakers.aclose()
        await database.dispose()
    return results


def report(results: dict[str, Any], facts: dict[str, Any], count: int) -> str:
    bare = results["bare model"]
    lines = [
        "# Governance overhead per model request",
        "",
        "| Scenario | p50 | p95 | p99 | overhead p50 | overhead p95 | paired overhead p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts: list[str] = []
    for name, row in results.items():
        extra_50 = row["p50_ms"] - bare["p50_ms"]
        extra_95 = row["p95_ms"] - bare["p95_ms"]
        paired = row["paired_overhead_p50_ms"]
        overhead = f"{extra_50:.2f} ms | {extra_95:.2f} ms | {paired:.2f} ms"
        cells = "- | - | -" if name == "bare model" else overhead
        lines.append(
            f"| {name} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms | {row['p99_ms']:.2f} ms | {cells} |"
        )
        if name != "bare model":
            verdict = "PASS" if paired <= 2.0 else "FAIL"
            verdicts.append(f"- {name}: {verdict} (target <= 2 ms p50; paired overhead p50 {paired:.2f} ms)")
    packages = ", ".join(f"{k} {v}" for k, v in facts["packages"].items())
    lines += [
        "",
        *verdicts,
        "",
        f"{count} rounds after a warm-up, in one process; each round streams one request of every "
        "scenario in turn (so all share the machine's slow moments). Paired overhead: the p50 of "
        "each request's time minus the bare request's of the same round (the verdict uses it). Each "
        "request is "
        "recorded by the worker's event recorder (`model.request.started`, `model.request.finished`: "
        "two transactions on Postgres on localhost) as in the model-request activity. Bare: "
        "pydantic-ai FunctionModel (`builtin:scripted`, zero latency). Governed: the same model in "
        "`GovernedModel`. A tenant without a budget: no query before the request (its policy is "
        "cached for `budget_policy_cache_s`), the ledger row and counters as one more statement in "
        "the `model.request.finished` transaction. A tenant with budgets: plus one autocommit query "
        "before each request (budget, committed day/month usage, price override). Breaker: one Redis "
        "script before the request, run while Postgres answers the budget query (after the request "
        "only for a half-open probe).",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}",
        f"- Postgres: {facts.get('postgres')}",
        f"- Packages: {packages}",
        f"- Commit {facts['git_commit']}; {facts['date_utc']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--server-url", default=DEFAULT_SERVER_URL, help="Postgres server (a scratch DB is made)."
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="Redis for the breaker.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 requests per scenario.")
    args = parser.parse_args()
    count = 300 if args.quick else args.requests
    with scratch_database(args.server_url, "bench_governance") as (database_url, postgres_version):
        results = asyncio.run(measure(database_url, args.redis_url, count, warmup=min(100, count)))
    facts = machine_facts(["pydantic-ai-slim", "genai-prices", "sqlalchemy", "psycopg", "temporalio"])
    facts["postgres"] = postgres_version
    markdown = report(results, facts, count)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if args.quick else "")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"governance_overhead-{stamp}.json").write_text(
        json.dumps({"results": results, "machine": facts, "requests": count}, indent=2)
    )
    (RESULTS_DIR / f"governance_overhead-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
