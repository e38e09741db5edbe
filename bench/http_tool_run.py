"""What an HTTP tool call costs inside a real run, against a built-in tool and the raw round trip.

``bench/http_tool.py`` times the HTTP tool's executor in-process. Here the same request goes
through everything a run does around it: the tool-call activity (a Temporal round trip), reading
the tenant's secret and signing keys from Postgres and decrypting them, the ``tool.call.started``
/ ``tool.call.finished`` events. One invocation starts its own Temporal dev server, a fresh
migrated database, Redis (as ``bench/overhead.py`` does), the API (a subprocess) and one worker
(``build_worker``, in this process), plus the example ticket service
(``examples/http-tool-receiver/receiver.py``'s ``serve`` in its own process; it verifies every
signature).

Through the API it creates a secret, a signing key, the HTTP tool ``create_ticket`` (header from
the secret) and two agents on the offline model ``builtin:scripted``:

* **A (HTTP tool)**: ``create_ticket``, prompt ``title="x" priority=high``;
* **B (calculator)**: the built-in ``calculator``, prompt ``What is 6 * 7?``.

Both runs are two model requests and one tool call. Runs of A, runs of B and raw round trips
(``httpx`` POST of the same signed body to the same service on a new connection, what the tool
does) alternate one by one, the order rotating each round, after a warm-up. Per run it records
the latency (``POST /v1/runs`` until ``GET`` says ``succeeded``, as ``overhead.py``), the tool
call's ``duration_ms`` (``tool.call.finished``), the tool-call activity from the workflow history
(``ActivityTaskScheduled`` → ``ActivityTaskCompleted``: queue and execution) and the activity's
execution time inside the worker (an activity interceptor).

    uv run python bench/http_tool_run.py [--runs 100] [--warmup 5]

Writes ``bench/results/http_tool_run-<UTC time>.json`` (every sample) and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
from bench_common import REPO_ROOT, RESULTS_DIR, bench_auth_headers, log, percentile
from overhead import (
    DEFAULT_POSTGRES_URL,
    ActivityTimer,
    api_server,
    benchmark_database,
    benchmark_redis,
    describe_machine,
    fmt,
    ms_since,
    ratio,
    temporal_dev_server,
)
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings
from agent_runtime_core.signing import IDEMPOTENCY_KEY_HEADER, SigningKey, signed_headers
from agent_runtime_core.temporal import connect_temporal, workflow_id_for_run

RECEIVER: Final = REPO_ROOT / "examples" / "http-tool-receiver" / "receiver.py"
HTTP_ACTIVITY: Final = "agent__agent_runtime__toolset__http__call_tool"
BUILTIN_ACTIVITY: Final = "agent__agent_runtime__toolset__builtin__call_tool"
ARGUMENTS: Final = {"title": "x", "priority": "high"}
PROMPT_A: Final = 'title="x" priority=high'
PROMPT_B: Final = "What is 6 * 7?"
RUN_TIMEOUT_S: Final = 120.0
KINDS: Final = ("A", "B", "raw")
"""Runs of agent A (HTTP tool), of agent B (calculator), raw round trips: one of each per round."""


@dataclass
class RunSample:
    """One measured run of A or B."""

    kind: str
    run_id: str
    run_ms: float
    """POST /v1/runs → the workflow's result → GET says succeeded."""
    tool_activity_ms: float = float("nan")
    """History: the tool-call activity's ActivityTaskScheduled → ActivityTaskCompleted."""
    tool_queue_ms: float = float("nan")
    """History: scheduled → started (matching, polling, dispatch)."""
    tool_exec_ms: float = float("nan")
    """History: started → completed (the worker's code plus the completion RPC)."""
    worker_exec_ms: float = float("nan")
    """The activity's execution inside the worker (activity interceptor)."""
    call_ms: float = float("nan")
    """``duration_ms`` of ``tool.call.finished``: the call between its two events (whole ms)."""
    activities: int = 0
    """Activities in the workflow's history (the same for A and B)."""


# --------------------------------------------------------------------------- the ticket service


_RECEIVER_PROCESS: Final = """
import importlib.util, sys, threading
spec = importlib.util.spec_from_file_location("http_tool_receiver", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.serve("127.0.0.1", int(sys.argv[2]), [sys.argv[3].encode()])
threading.Event().wait()
"""
"""The example receiver's ``serve`` in its own process, verifying with the signing secret the API
showed (the text is the HMAC key)."""


@contextlib.contextmanager
def ticket_service(signing_secret: str, log_dir: Path) -> Iterator[str]:
    """The example receiver in its own process (it verifies signatures); yields its tickets URL."""
    port = find_free_port()
    url = f"http://127.0.0.1:{port}/tickets"
    log_path = log_dir / "receiver.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", _RECEIVER_PROCESS, str(RECEIVER), str(port), signing_secret],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the receiver exited with {process.returncode}: {log_path.read_text()}")
            try:
                httpx.get(url, timeout=1)  # 401 (unsigned) is fine: it is up
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


# ------------------------------------------------------------------------------------- set-up


async def create(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``path``; the answer (201 expected)."""
    response = await api.post(path, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text[:400]}")
    answer: dict[str, Any] = response.json()
    return answer


async def create_agents(api: httpx.AsyncClient, url: str) -> tuple[str, str]:
    """The HTTP tool ``create_ticket`` (registered) and agents A (with it) and B (calculator)."""
    await create(
        api,
        "/v1/tools",
        {
            "name": "create_ticket",
            "description": "Open a ticket in the tickets service; returns the ticket.",
            "parameters": {
                "type": "object",
                "required": ["title", "priority"],
                "properties": {
                    "title": {"type": "string"},
                    "priority": {"type": "string", "enum": ["low", "normal", "high"]},
                },
            },
            "http": {
                "method": "POST",
                "url": url,
                "headers": {"Authorization": "Bearer {{secrets.bench_token}}"},
                "timeout_s": 10,
            },
        },
    )
    agents: list[str] = []
    for label, tools in (("http", [{"tool": {"name": "create_ticket"}}]), ("calc", [{"name": "calculator"}])):
        agent = await create(
            api,
            "/v1/agents",
            {
                "name": f"bench-{label}-{uuid.uuid4().hex[:8]}",
                "version": {"model": "builtin:scripted", "instructions": "Answer briefly.", "tools": tools},
            },
        )
        agents.append(agent["id"])
    return agents[0], agents[1]


# ------------------------------------------------------------------------------------ running


@dataclass
class Bench:
    """What one run or raw round trip needs."""

    api: httpx.AsyncClient
    client: Client
    timer: ActivityTimer
    agents: dict[str, str]
    url: str
    raw_headers: dict[str, str]
    keys: list[SigningKey]

    async def run(self, kind: str) -> RunSample:
        """One run of agent ``kind``: POST → await the workflow's result → GET says succeeded."""
        prompt = PROMPT_A if kind == "A" else PROMPT_B
        started = time.perf_counter()
        response = await self.api.post("/v1/runs", json={"agent_id": self.agents[kind], "input": prompt})
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/runs answered {response.status_code}: {response.text[:300]}")
        run_id: str = response.json()["id"]
        self.timer.label = run_id
        await self.client.get_workflow_handle(workflow_id_for_run(run_id)).result()
        run = await self.api.get(f"/v1/runs/{run_id}")
        elapsed = ms_since(started)
        if run.json().get("status") != "succeeded":
            raise RuntimeError(f"run {run_id} of {kind} ended {run.json().get('status')}: {run.text[:300]}")
        return RunSample(kind=kind, run_id=run_id, run_ms=elapsed)

    async def raw(self, fresh: httpx.AsyncClient) -> float:
        """One POST of the tool's body, signed, to the same service on a new connection."""
        body = json.dumps(ARGUMENTS, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            **self.raw_headers,
            **signed_headers(self.keys, int(time.time()), body),
            IDEMPOTENCY_KEY_HEADER: f"raw-{uuid.uuid4().hex}",
        }
        started = time.perf_counter()
        response = await fresh.post(self.url, content=body, headers=headers)
        response.raise_for_status()
        response.json()
        return ms_since(started)

    async def details(self, sample: RunSample) -> None:
        """Fill in the history's, the interceptor's and the event's figures (after measuring)."""
        activity_type = HTTP_ACTIVITY if sample.kind == "A" else BUILTIN_ACTIVITY
        history = await self.client.get_workflow_handle(workflow_id_for_run(sample.run_id)).fetch_history()
        events = list(history.events)
        sample.activities = sum(
            1 for item in events if item.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        )
        queue, execution = tool_activity(events, activity_type)
        sample.tool_queue_ms, sample.tool_exec_ms = queue, execution
        sample.tool_activity_ms = queue + execution
        worker = self.timer.samples[sample.run_id][activity_type]
        if len(worker) != 1:
            raise RuntimeError(f"run {sample.run_id}: {len(worker)} executions of {activity_type}")
        sample.worker_exec_ms = worker[0]
        answer = await self.api.get(f"/v1/runs/{sample.run_id}/events", params={"limit": 1000})
        while answer.status_code == 429:  # the API's rate limit: fetched after measuring, so wait
            await asyncio.sleep(float(answer.headers.get("Retry-After") or 1))
            answer = await self.api.get(f"/v1/runs/{sample.run_id}/events", params={"limit": 1000})
        if answer.status_code != 200:
            raise RuntimeError(f"GET events of {sample.run_id}: {answer.status_code} {answer.text[:300]}")
        finished = [e["data"] for e in answer.json()["data"] if e["type"] == "tool.call.finished"]
        if len(finished) != 1 or not finished[0].get("ok"):
            raise RuntimeError(f"run {sample.run_id}: tool.call.finished events {finished}")
        sample.call_ms = float(finished[0]["duration_ms"])


def _ms(event: HistoryEvent) -> float:
    return event.event_time.ToNanoseconds() / 1e6


def tool_activity(events: Sequence[HistoryEvent], activity_type: str) -> tuple[float, float]:
    """Queue (scheduled → started) and execution (started → completed) of the run's one
    ``activity_type`` activity, in ms of the server's timestamps."""
    scheduled: dict[int, float] = {}
    started: dict[int, float] = {}
    found: list[tuple[float, float]] = []
    for item in events:
        kind = item.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if item.activity_task_scheduled_event_attributes.activity_type.name == activity_type:
                scheduled[item.event_id] = _ms(item)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attributes = item.activity_task_started_event_attributes
            if attributes.scheduled_event_id in scheduled:
                started[attributes.scheduled_event_id] = _ms(item)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = item.activity_task_completed_event_attributes
            if attributes.scheduled_event_id in scheduled:
                at_scheduled = scheduled[attributes.scheduled_event_id]
                at_started = started[attributes.scheduled_event_id]
                found.append((at_started - at_scheduled, _ms(item) - at_started))
    if len(found) != 1:
        raise RuntimeError(f"expected one completed {activity_type}, found {len(found)}")
    return found[0]


async def measure(bench: Bench, runs: int, warmup: int) -> tuple[list[RunSample], list[float]]:
    """``warmup`` + ``runs`` rounds of one A run, one B run and one raw round trip (sequential,
    the order rotating each round); the warm-up rounds are dropped."""
    samples: list[RunSample] = []
    raw: list[float] = []
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(trust_env=False, limits=no_keepalive, timeout=30) as fresh:

        async def one(kind: str) -> RunSample | float:
            if kind == "raw":
                return await bench.raw(fresh)
            return await asyncio.wait_for(bench.run(kind), RUN_TIMEOUT_S)

        for round_number in range(warmup + runs):
            shift = round_number % len(KINDS)
            for kind in KINDS[shift:] + KINDS[:shift]:
                result = await one(kind)
                if round_number < warmup:
                    continue
                if isinstance(result, RunSample):
                    samples.append(result)
                else:
                    raw.append(result)
            if round_number == warmup - 1:
                log(f"warm-up done ({warmup} rounds); measuring {runs} rounds")
            elif round_number >= warmup and (round_number - warmup + 1) % 10 == 0:
                log(f"  {round_number - warmup + 1}/{runs} rounds")
    for sample in samples:
        await bench.details(sample)
    return samples, raw


# ------------------------------------------------------------------------------------ summary

MEASURES: Final = (
    ("run_ms", "Run latency (POST → succeeded)"),
    ("tool_activity_ms", "Tool activity, history (scheduled → completed)"),
    ("tool_queue_ms", "  of which queue (scheduled → started)"),
    ("tool_exec_ms", "  of which execution (started → completed)"),
    ("worker_exec_ms", "Tool activity inside the worker (interceptor)"),
    ("call_ms", "Tool call `duration_ms` (tool.call.finished)"),
)


def stats(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and the count."""
    return {"p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95), "n": len(values)}


def summarise(samples: Sequence[RunSample], raw: Sequence[float]) -> dict[str, Any]:
    """Percentiles per scenario and the comparisons the issue asks for."""
    by_kind = {kind: [s for s in samples if s.kind == kind] for kind in ("A", "B")}

    def values(kind: str, name: str) -> list[float]:
        return [getattr(s, name) for s in by_kind[kind]]

    summary: dict[str, Any] = {
        kind: {name: stats(values(kind, name)) for name, _ in MEASURES} for kind in ("A", "B")
    }
    summary["raw"] = stats(raw)
    summary["activities_per_run"] = {
        kind: sorted({s.activities for s in by_kind[kind]}) for kind in ("A", "B")
    }

    def p(kind: str, name: str, fraction: float) -> float:
        return percentile(values(kind, name), fraction)

    def paired(first: Sequence[float], second: Sequence[float]) -> float:
        return percentile([a - b for a, b in zip(first, second, strict=True)], 0.5)

    http_activity = values("A", "tool_activity_ms")
    comparisons: dict[str, dict[str, float | None]] = {
        "HTTP tool activity - calculator activity": {
            "p50_ms": p("A", "tool_activity_ms", 0.5) - p("B", "tool_activity_ms", 0.5),
            "p95_ms": p("A", "tool_activity_ms", 0.95) - p("B", "tool_activity_ms", 0.95),
            "paired_p50_ms": paired(http_activity, values("B", "tool_activity_ms")),
            "ratio_p50": ratio(p("A", "tool_activity_ms", 0.5), p("B", "tool_activity_ms", 0.5)),
            "ratio_p95": ratio(p("A", "tool_activity_ms", 0.95), p("B", "tool_activity_ms", 0.95)),
        },
        "HTTP tool activity in the worker - calculator's": {
            "p50_ms": p("A", "worker_exec_ms", 0.5) - p("B", "worker_exec_ms", 0.5),
            "p95_ms": p("A", "worker_exec_ms", 0.95) - p("B", "worker_exec_ms", 0.95),
            "paired_p50_ms": paired(values("A", "worker_exec_ms"), values("B", "worker_exec_ms")),
        },
        "HTTP tool activity - raw round trip": {
            "p50_ms": p("A", "tool_activity_ms", 0.5) - percentile(raw, 0.5),
            "p95_ms": p("A", "tool_activity_ms", 0.95) - percentile(raw, 0.95),
            "paired_p50_ms": paired(http_activity, raw),
            "ratio_p50": ratio(p("A", "tool_activity_ms", 0.5), percentile(raw, 0.5)),
            "ratio_p95": ratio(p("A", "tool_activity_ms", 0.95), percentile(raw, 0.95)),
        },
        "HTTP tool call (duration_ms) - raw round trip": {
            "p50_ms": p("A", "call_ms", 0.5) - percentile(raw, 0.5),
            "p95_ms": p("A", "call_ms", 0.95) - percentile(raw, 0.95),
            "paired_p50_ms": paired(values("A", "call_ms"), raw),
            "ratio_p50": ratio(p("A", "call_ms", 0.5), percentile(raw, 0.5)),
            "ratio_p95": ratio(p("A", "call_ms", 0.95), percentile(raw, 0.95)),
        },
        "Run A - run B": {
            "p50_ms": p("A", "run_ms", 0.5) - p("B", "run_ms", 0.5),
            "p95_ms": p("A", "run_ms", 0.95) - p("B", "run_ms", 0.95),
            "paired_p50_ms": paired(values("A", "run_ms"), values("B", "run_ms")),
            "ratio_p50": ratio(p("A", "run_ms", 0.5), p("B", "run_ms", 0.5)),
            "ratio_p95": ratio(p("A", "run_ms", 0.95), p("B", "run_ms", 0.95)),
        },
    }
    summary["comparisons"] = comparisons
    return summary


def report(summary: dict[str, Any], facts: dict[str, Any], config: dict[str, Any]) -> str:
    """The Markdown report."""
    lines = [
        "# HTTP tool call inside real runs",
        "",
        f"{config['runs']} runs each of agent A (`builtin:scripted` + HTTP tool `create_ticket`, "
        "header from a secret, signed, to the example ticket service in its own process) and "
        "agent B (`builtin:scripted` + built-in `calculator`), each 2 model requests + 1 tool call, "
        f"plus {config['runs']} raw round trips (`httpx` POST of the same signed body to the same "
        "service, new connection); one of each per round, sequential, the order rotating, after "
        f"{config['warmup']} warm-up rounds. API in a subprocess, one worker in the benchmark "
        "process, Temporal dev server, Postgres" + (", Redis" if facts.get("redis") else "") + ".",
        "",
        "| Measure (ms) | A: HTTP tool p50 | p95 | B: calculator p50 | p95 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, title in MEASURES:
        a, b = summary["A"][name], summary["B"][name]
        lines.append(
            f"| {title} | {fmt(a['p50_ms'], 2)} | {fmt(a['p95_ms'], 2)} "
            f"| {fmt(b['p50_ms'], 2)} | {fmt(b['p95_ms'], 2)} |"
        )
    raw = summary["raw"]
    lines += [
        f"| Raw round trip (new connection) | {fmt(raw['p50_ms'], 2)} | {fmt(raw['p95_ms'], 2)} | | |",
        "",
        "| Comparison | p50 | p95 | paired p50 | ratio p50 | ratio p95 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in summary["comparisons"].items():
        ratios = [row.get("ratio_p50"), row.get("ratio_p95")]
        shown = [f"{value:.2f}x" if value is not None else "" for value in ratios]
        lines.append(
            f"| {name} | {row['p50_ms']:+.2f} ms | {row['p95_ms']:+.2f} ms "
            f"| {row['paired_p50_ms']:+.2f} ms | {shown[0]} | {shown[1]} |"
        )
    lines += [
        "",
        "Differences of percentiles are not percentiles of differences; the paired p50 is the "
        "median, over rounds, of A's value minus B's (or the raw round trip's) of the same round. "
        "`duration_ms` is whole milliseconds (the worker rounds it). The tool activity's execution "
        "covers the two event writes and, for A, reading and decrypting the secret and the signing "
        "keys (two transactions) before the request. Activities per run (history): "
        + ", ".join(f"{kind} {counts}" for kind, counts in summary["activities_per_run"].items())
        + ".",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}; "
        + ", ".join(f"{name} {version}" for name, version in facts["packages"].items()),
        f"- Temporal CLI: {(facts.get('temporal_cli') or '-').splitlines()[0]}",
        f"- Postgres {facts['postgres']} ({facts['postgres_source']}); "
        f"Redis {facts.get('redis') or '-'} ({facts.get('redis_source')})",
        f"- Load average before / after: {config['load_before']} / {config['load_after']}",
        f"- Commit {facts['git_commit']}"
        + (
            f" (changed outside bench/: {', '.join(facts['git_changed_files'])})"
            if facts["git_changed_files"]
            else ""
        )
        + f"; {facts['date_utc']}; {config['elapsed_s']:.0f} s",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------- main


@contextlib.asynccontextmanager
async def stack(options: argparse.Namespace) -> AsyncIterator[tuple[Bench, dict[str, Any]]]:
    """Temporal, the database, Redis, the API, the worker, the receiver, the agents."""
    from agent_runtime_worker.main import build_worker

    with contextlib.ExitStack() as exits:
        log_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-http-run-")))
        log("Starting the Temporal dev server...")
        temporal = exits.enter_context(temporal_dev_server())
        log("Creating and migrating the database...")
        bench_db = exits.enter_context(benchmark_database(options.postgres_url, force_embedded=False))
        redis = exits.enter_context(benchmark_redis(options.redis_url))
        log(f"  Postgres {bench_db.postgres_version} ({bench_db.source}); Redis: {redis.url or '-'}")
        key = base64.b64encode(os.urandom(32)).decode()
        tool_settings: dict[str, Any] = {
            "tools_require_https": False,
            "tools_allow_private_networks": True,
            "secrets_keys": {"bench-1": key},
            "secrets_active_key_id": "bench-1",
        }
        settings = Settings.model_validate(
            {
                "database_url": bench_db.url,
                "temporal_address": temporal.address,
                "temporal_task_queue": f"bench-http-run-{uuid.uuid4().hex[:8]}",
                "temporal_ui_url": temporal.ui_url,
                "redis_url": redis.url,
                **tool_settings,
            }
        )
        # api_server passes the connection settings; the API inherits the rest from the environment.
        os.environ.update(
            {
                "AGENT_RUNTIME_TOOLS_REQUIRE_HTTPS": "false",
                "AGENT_RUNTIME_TOOLS_ALLOW_PRIVATE_NETWORKS": "true",
                "AGENT_RUNTIME_SECRETS_KEYS": json.dumps(tool_settings["secrets_keys"]),
                "AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID": "bench-1",
            }
        )
        log("Starting the API (subprocess)...")
        api_url, _ = exits.enter_context(api_server(settings, log_dir))
        timer = ActivityTimer()
        client = await connect_temporal(temporal.address, settings.temporal_namespace, interceptors=[timer])
        # As `agent-runtime worker` opens it (no pre-ping).
        database = Database(settings.database_url, pool_size=settings.database_pool_size, pre_ping=False)
        try:
            auth = await bench_auth_headers(settings.database_url)
            limits = httpx.Limits(keepalive_expiry=2.0)  # below uvicorn's 5 s keep-alive timeout
            async with (
                httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60, headers=auth) as api,
                build_worker(client, settings, database),
            ):
                token = f"bench-{uuid.uuid4().hex}"
                await create(api, "/v1/secrets", {"name": "bench_token", "value": token})
                signing_secret: str = (await create(api, "/v1/tools/signing-keys", {}))["secret"]
                url = exits.enter_context(ticket_service(signing_secret, log_dir))
                log(f"  ticket service at {url}")
                agent_a, agent_b = await create_agents(api, url)
                bench = Bench(
                    api=api,
                    client=client,
                    timer=timer,
                    agents={"A": agent_a, "B": agent_b},
                    url=url,
                    raw_headers={
                        "Content-Type": "application/json",
                        "Accept": "application/json, */*;q=0.5",
                        "Authorization": f"Bearer {token}",
                    },
                    keys=[SigningKey("raw", signing_secret.encode())],
                )
                yield bench, describe_machine(bench_db.postgres_version, bench_db.source, redis)
        finally:
            await database.dispose()


async def run(options: argparse.Namespace) -> None:
    """Set up, measure, report."""
    started = time.perf_counter()
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    async with stack(options) as (bench, facts):
        samples, raw = await measure(bench, options.runs, options.warmup)
    load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
    summary = summarise(samples, raw)
    config = {
        "command": "uv run python bench/http_tool_run.py " + " ".join(sys.argv[1:]),
        "runs": options.runs,
        "warmup": options.warmup,
        "load_before": load_before,
        "load_after": load_after,
        "elapsed_s": time.perf_counter() - started,
        "prompts": {"A": PROMPT_A, "B": PROMPT_B},
    }
    markdown = report(summary, facts, config)
    print(markdown)
    if options.write:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"http_tool_run-{stamp}.json").write_text(
            json.dumps(
                {
                    "summary": summary,
                    "runs": [asdict(sample) for sample in samples],
                    "raw_ms": raw,
                    "config": config,
                    "machine": facts,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        (RESULTS_DIR / f"http_tool_run-{stamp}.md").write_text(markdown)
        log(f"Wrote bench/results/http_tool_run-{stamp}.json and .md")


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="uv run python bench/http_tool_run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=100, help="measured rounds (one A, one B, one raw each)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up rounds (dropped)")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="Postgres server for the database"
    )
    parser.add_argument(
        "--redis-url", default="auto", help="Redis for live events: auto (as overhead.py), '' (none), a URL"
    )
    parser.add_argument("--no-write", dest="write", action="store_false", help="do not write bench/results/")
    options = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) cleans up like Ctrl-C: servers stopped, database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    asyncio.run(run(options))


if __name__ == "__main__":
    main()
