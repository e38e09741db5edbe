"""Overhead of the governance layer per model request: GovernedModel vs the bare model.

One model request through ``GovernedModel`` (budget check before, usage and cost recorded after,
against a real Postgres) is timed against the same request to the bare model (pydantic-ai's
zero-latency ``FunctionModel``, streamed as the worker streams). The difference is what
governance adds to every model request; the target is <= 2 ms at p50.

    uv run python bench/governance_overhead.py            # 2000 requests per scenario
    uv run python bench/governance_overhead.py --quick    # 300

Needs a Postgres server (``--server-url``, default 127.0.0.1:5432); a scratch database is created,
migrated and dropped. Writes ``bench/results/governance_overhead-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.usage import RunUsage

from agent_runtime_core.db import Database, system_session_scope
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.models import ModelPrice
from agent_runtime_core.repositories import BudgetRepository, ModelPriceRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.agents.runtime_agent import RunDeps
from agent_runtime_worker.main import warm_price_table
from agent_runtime_worker.models.governed import GovernedModel
from agent_runtime_worker.models.scripted import build_scripted_model
from agent_runtime_worker.runtime import WorkerResources, install_resources

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PARAMETERS = ModelRequestParameters()


async def stream_once(model: Model, messages: list[ModelMessage], ctx: RunContext[RunDeps]) -> None:
    """One streamed request, consumed to the end (as the model activity does)."""
    async with model.request_stream(messages, None, PARAMETERS, ctx) as stream:
        async for _ in stream:
            pass


async def timed(call: Callable[[], Awaitable[None]], count: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await call()
    samples: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
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


async def measure(database_url: str, count: int, warmup: int) -> dict[str, Any]:
    settings = Settings.model_validate({"database_url": database_url, "redis_url": ""})
    database = Database(database_url, pool_size=5)
    install_resources(WorkerResources(settings=settings, database=database))
    warm_price_table()
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart("Hello there, how are you?")])]
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
                GovernedModel(build_scripted_model(), model_ref="builtin:scripted", endpoint=None),
                plain_tenant,
            ),
            "governed: 4 budgets, genai-prices (openai:gpt-4o-mini)": (
                GovernedModel(build_scripted_model(), model_ref="openai:gpt-4o-mini", endpoint=None),
                budget_tenant,
            ),
            "governed: 4 budgets, override price": (
                GovernedModel(build_scripted_model(), model_ref="builtin:scripted", endpoint=None),
                budget_tenant,
            ),
        }
        for name, (model, tenant_id) in scenarios.items():
            run_id = await new_run(database, tenant_id)
            ctx = RunContext[RunDeps](
                deps=RunDeps(run_id=run_id, tenant_id=tenant_id, enabled_tools=[]),
                model=model,
                usage=RunUsage(),
                run_step=1,
            )
            log(f"{name}: {count} requests")
            samples = await timed(
                lambda model=model, ctx=ctx: stream_once(model, messages, ctx), count, warmup
            )
            results[name] = {
                "p50_ms": percentile(samples, 0.5),
                "p95_ms": percentile(samples, 0.95),
                "p99_ms": percentile(samples, 0.99),
                "mean_ms": sum(samples) / len(samples),
                "count": len(samples),
            }
    finally:
        await database.dispose()
    return results


def report(results: dict[str, Any], facts: dict[str, Any], count: int) -> str:
    bare = results["bare model"]
    lines = [
        "# Governance overhead per model request",
        "",
        "| Scenario | p50 | p95 | p99 | overhead p50 | overhead p95 |",
        "|---|---|---|---|---|---|",
    ]
    verdicts: list[str] = []
    for name, row in results.items():
        extra_50 = row["p50_ms"] - bare["p50_ms"]
        extra_95 = row["p95_ms"] - bare["p95_ms"]
        overhead = "" if name == "bare model" else f"{extra_50:.2f} ms | {extra_95:.2f} ms"
        cells = overhead or "- | -"
        lines.append(
            f"| {name} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms | {row['p99_ms']:.2f} ms | {cells} |"
        )
        if name != "bare model":
            verdicts.append(f"- {name}: {'PASS' if extra_50 <= 2.0 else 'FAIL'} (target <= 2 ms p50)")
    packages = ", ".join(f"{k} {v}" for k, v in facts["packages"].items())
    lines += [
        "",
        *verdicts,
        "",
        f"{count} sequential streamed requests per scenario after a warm-up, in one process. Bare: "
        "pydantic-ai FunctionModel (`builtin:scripted`, zero latency). Governed: the same model in "
        "`GovernedModel`: one query before (budget, committed day/month usage, run's agent, price "
        "override) and one statement after (ledger row + day and month counters), each one "
        "autocommit statement on a pooled connection to Postgres on localhost, plus pricing.",
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
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="300 requests per scenario.")
    args = parser.parse_args()
    count = 300 if args.quick else args.requests
    name = f"bench_governance_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        postgres_version = admin.execute("SHOW server_version").fetchone()
    database_url = args.server_url.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade_to_head(database_url)
        results = asyncio.run(measure(database_url, count, warmup=min(100, count)))
    finally:
        with psycopg.connect(args.server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    facts = machine_facts(["pydantic-ai-slim", "genai-prices", "sqlalchemy", "psycopg", "temporalio"])
    facts["postgres"] = postgres_version[0] if postgres_version else None
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
