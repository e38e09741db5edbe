"""How much does Agent Runtime add on top of Temporal and pydantic-ai? One command measures it.

Usage::

    uv run python bench/overhead.py            # full run (about 6-9 minutes on 2 cores)
    uv run python bench/overhead.py --quick    # a smoke run (about 2 minutes)

One invocation starts ONE Temporal dev server (``TemporalDevServer``, with the settings of
``agent-runtime dev``: ``history.transferProcessorMaxPollRPS=1000``, our search attributes, a
temporary data directory, free ports) and a fresh Postgres database (a uniquely named database on
the server at 127.0.0.1:5432 when reachable, dropped at the end; else an ``EmbeddedPostgres`` in a
temporary directory), migrated with ``upgrade_to_head``. It then measures runs of K "steps", a step
being one model request (a K-step run is K model requests with K - 1 tool calls in between):

(a) raw Temporal: a workflow executing 2K - 1 sequential no-op activities, started and awaited
    with ``client.execute_workflow``;
(b) a bare pydantic-ai durable agent (``TemporalDurability`` + ``PydanticAIWorkflow`` +
    ``PydanticAIPlugin``; no database, no event handler) whose zero-latency ``FunctionModel``
    calls a no-op tool K - 1 times then answers, with ``client.execute_workflow``;
(c) our stack: ``POST /v1/runs`` to a real API server (``python -m agent_runtime_cli api``, a
    subprocess) for an agent on ``builtin:scripted`` with the ``calculator`` tool, executed by
    OUR worker (``build_worker``). Latency = from sending the POST until ``GET /v1/runs/{id}``
    has answered ``succeeded``: POST → 202, then await the workflow result through a Temporal
    handle on ``run-<id>``, then one GET to confirm.

All workers (one per scenario, same tuning as ours) run in this process; the API is a subprocess.
See bench/README.md for the method, the definitions of the reported numbers, and how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import inspect
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import httpx
import psycopg
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
from bench_workflows import BareAgentWorkflow, RawActivitiesWorkflow
from bench_workloads import (
    NOOP_ACTIVITY,
    RawRunInput,
    install_scripted_steps_hook,
    noop_activity,
    scripted_steps_prompt,
)
from psycopg import sql
from pydantic_ai.durable_exec.temporal import PydanticAIPayloadConverter, PydanticAIPlugin
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowRunner,
)
from temporalio.worker import Interceptor as WorkerInterceptor
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from agent_runtime_cli.embedded import EmbeddedPostgres, TemporalDevServer, find_free_port, postgres_reachable
from agent_runtime_cli.embedded._process import child_preexec_fn, tail_file, terminate_process_group
from agent_runtime_cli.embedded.binaries import temporal_cli_path
from agent_runtime_cli.embedded.postgres import libpq_url
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.ids import new_run_id
from agent_runtime_core.models import Run
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import AgentRepository, RunEventRepository, RunRepository
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES, workflow_id_for_run

DEFAULT_POSTGRES_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
DYNAMIC_CONFIG: Final = {"history.transferProcessorMaxPollRPS": 1000}
"""What ``agent-runtime dev`` and the test suite configure on the dev server."""

NOISY_LOAD_CORES: Final = 0.25
"""Other processes' CPU use (in cores, averaged over a cell) above which a cell is flagged."""
TARGET_PER_STEP_RATIO: Final = 1.2
TARGET_K1_RATIO: Final = 1.15

ScenarioKey = Literal["a", "b", "c"]
SCENARIOS: Final[tuple[ScenarioKey, ...]] = ("a", "b", "c")
SCENARIO_NAMES: Final[dict[ScenarioKey, str]] = {
    "a": "(a) raw Temporal",
    "b": "(b) bare pydantic-ai",
    "c": "(c) Agent Runtime",
}
OUR_NATIVE_MAX_STEPS: Final = 2
"""``builtin:scripted`` calls each enabled tool once: with ``calculator`` alone, at most 2 requests."""


# ------------------------------------------------------------------------------------ statistics


def p50(values: Sequence[float]) -> float:
    """Median."""
    return percentile(values, 0.5)


def p95(values: Sequence[float]) -> float:
    """95th percentile."""
    return percentile(values, 0.95)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    return statistics.fmean(values) if values else math.nan


def ms_since(start: float) -> float:
    """Milliseconds elapsed since the ``time.perf_counter()`` value ``start``."""
    return (time.perf_counter() - start) * 1000


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for the tables; ``-`` when unknown."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, ``None`` when either is unknown or the denominator is not > 0."""
    if numerator is None or denominator is None or math.isnan(numerator) or math.isnan(denominator):
        return None
    if denominator <= 0:
        return None
    return numerator / denominator


# ---------------------------------------------------------------------------------- the machine


def describe_machine(postgres_version: str | None, postgres_source: str, redis: BenchRedis) -> dict[str, Any]:
    """CPU, memory, software versions and the commit measured."""
    facts = machine_facts(
        ("temporalio", "pydantic-ai-slim", "fastapi", "uvicorn", "sqlalchemy", "psycopg", "httpx")
    )
    dirty = git_status()
    return {
        **facts,
        "load_average_at_end": os.getloadavg(),
        "temporal_cli": command_output([str(temporal_cli_path()), "--version"]),
        "postgres": postgres_version,
        "postgres_source": postgres_source,
        "redis": redis.version,
        "redis_source": redis.source,
        "git_dirty": bool(dirty),
        "git_changed_files": sorted(
            path
            for line in (dirty or "").splitlines()
            if not (path := line.split(maxsplit=1)[-1]).startswith("bench/")
        ),
    }


# ------------------------------------------------------------------------------- infrastructure


@dataclass(frozen=True)
class BenchDatabase:
    """The benchmark's fresh database."""

    url: str
    name: str
    postgres_version: str
    source: str


@contextlib.contextmanager
def benchmark_database(server_url: str, *, force_embedded: bool) -> Iterator[BenchDatabase]:
    """A uniquely named, migrated database; dropped at the end (with its embedded server, if any)."""
    with contextlib.ExitStack() as stack:
        if not force_embedded and postgres_reachable(server_url):
            admin_url = libpq_url(server_url)
            source = f"server at {admin_url.rsplit('@', 1)[-1].rsplit('/', 1)[0]}"
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-pg-")))
            server = EmbeddedPostgres(data_dir / "pg", port=find_free_port())
            log(f"Starting an embedded Postgres in {data_dir}...")
            server.start()
            stack.callback(server.stop)
            admin_url = libpq_url(server.admin_url)
            source = "embedded (EmbeddedPostgres, temporary directory)"
        name = f"agent_runtime_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            version_row = admin.execute("SHOW server_version").fetchone()
        version = str(version_row[0]) if version_row else "unknown"

        def drop() -> None:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

        stack.callback(drop)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        upgrade_to_head(url)
        yield BenchDatabase(url=url, name=name, postgres_version=version, source=source)


@dataclass(frozen=True)
class BenchRedis:
    """Where our stack publishes live events ("" when it does not)."""

    url: str
    source: str
    version: str | None


REDIS_SERVER_URL: Final = "redis://127.0.0.1:6379/14"
"""The local Redis, if any, in a database of the benchmark's own (db 14)."""


def _redis_version(url: str) -> str | None:
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        info: dict[str, Any] = client.info("server")  # pyright: ignore[reportUnknownMemberType, reportAssignmentType]
        return str(info.get("redis_version") or info.get("valkey_version"))
    except (RedisError, OSError):
        return None
    finally:
        client.close()


@contextlib.contextmanager
def benchmark_redis(option: str) -> Iterator[BenchRedis]:
    """Redis for our stack's live events, like ``agent-runtime dev`` has one (Valkey there).

    ``auto``: the server at 127.0.0.1:6379 (db 14) when reachable, else an embedded Valkey, else
    none. ``""``: none (events then go to Postgres only). Anything else: that URL. The tenant
    stream the benchmark fills is deleted at the end; run streams expire by themselves.
    """
    if "redis_url" not in Settings.model_fields:
        yield BenchRedis("", "not supported by this version of Agent Runtime", None)
        return
    if option == "":
        yield BenchRedis("", "disabled (--redis-url '')", None)
        return
    with contextlib.ExitStack() as stack:
        if option != "auto":
            url, source = option, "given with --redis-url"
        elif _redis_version(REDIS_SERVER_URL) is not None:
            url, source = REDIS_SERVER_URL, "server at 127.0.0.1:6379, db 14"
        else:
            try:
                from agent_runtime_cli.embedded import EmbeddedValkey  # pyright: ignore[reportAttributeAccessIssue]

                data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-valkey-")))
                server = EmbeddedValkey(data_dir, port=find_free_port(), persist=False)
                url = server.start()
                stack.callback(server.stop)
                source = "embedded Valkey (temporary directory)"
            except Exception as exc:
                yield BenchRedis("", f"none available ({type(exc).__name__}: {exc})", None)
                return

        def delete_tenant_stream() -> None:
            from redis import Redis
            from redis.exceptions import RedisError

            client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
            with contextlib.suppress(RedisError, OSError):
                client.delete(f"agent_runtime:tenant:{DEFAULT_TENANT_ID}")
            client.close()

        stack.callback(delete_tenant_stream)
        yield BenchRedis(url, source, _redis_version(url))


@contextlib.contextmanager
def temporal_dev_server() -> Iterator[TemporalDevServer]:
    """The dev server as ``agent-runtime dev`` runs it, in a temporary directory on free ports."""
    server = TemporalDevServer.in_temp_dir(
        search_attributes=dict(SEARCH_ATTRIBUTE_TYPES), dynamic_config=DYNAMIC_CONFIG
    )
    try:
        server.start()
        server.wait_ready(timeout_s=60)
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def api_server(settings: Settings, log_dir: Path, name: str = "api") -> Iterator[tuple[str, int]]:
    """``python -m agent_runtime_cli api`` as a subprocess; yields its base URL and pid once healthy."""
    port = find_free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AGENT_RUNTIME_DATABASE_URL": settings.database_url,
        "AGENT_RUNTIME_DATABASE_POOL_SIZE": str(settings.database_pool_size),
        "AGENT_RUNTIME_TEMPORAL_ADDRESS": settings.temporal_address,
        "AGENT_RUNTIME_TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "AGENT_RUNTIME_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "AGENT_RUNTIME_TEMPORAL_UI_URL": settings.temporal_ui_url or "",
        "AGENT_RUNTIME_API_PUBLIC_URL": base_url,
        "AGENT_RUNTIME_REDIS_URL": str(getattr(settings, "redis_url", None) or ""),
    }
    log_path = log_dir / f"{name}.log"
    argv = [sys.executable, "-m", "agent_runtime_cli", "api", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--log-level", "warning"]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
            preexec_fn=child_preexec_fn(signal.SIGTERM),
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode}:\n{tail_file(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API was not healthy within 60 s:\n{tail_file(log_path)}")
            time.sleep(0.2)
        yield base_url, process.pid
    finally:
        terminate_process_group(process, grace_period_s=10)


# ------------------------------------------------------------------------------ instrumentation


class ActivityTimer(ClientInterceptor, WorkerInterceptor):
    """Times every activity's execution in this process's workers, by label and activity type.

    A client interceptor that is also a worker interceptor is applied to every worker built on
    the client, so our worker is instrumented without touching its code. The cost is one
    ``perf_counter`` pair per activity, the same in every scenario.
    """

    def __init__(self) -> None:
        self.label = "setup"
        self.samples: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(lambda: defaultdict(list))

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap each activity execution."""
        return _TimedActivity(next, self)


CURRENT_ACTIVITY: ContextVar[str] = ContextVar("bench_current_activity", default="(no activity)")
"""The activity type running in this context (set by the interceptor, read by the probe)."""


class _TimedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, timer: ActivityTimer) -> None:
        super().__init__(next)
        self.timer = timer

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        activity_type = activity.info().activity_type
        label = self.timer.label
        token = CURRENT_ACTIVITY.set(activity_type)
        start = time.perf_counter()
        try:
            return await self.next.execute_activity(input)
        finally:
            self.timer.samples[label][activity_type].append(ms_since(start))
            CURRENT_ACTIVITY.reset(token)


@dataclass
class ActivityDbStats:
    """What one activity type did with the database and Redis (summed over a profile)."""

    transactions: int = 0
    connection_held_ms: float = 0.0
    statements: int = 0
    events_inserted: int = 0
    redis_publishes: int = 0
    redis_publish_ms: float = 0.0


@dataclass
class WorkerProbe:
    """During the profile only: our worker's database and Redis work, by activity type.

    Attributed through ``CURRENT_ACTIVITY`` (context variables reach SQLAlchemy's greenlets), so
    it needs no knowledge of our code beyond the engine and ``EventBus.publish``: a transaction
    is a pool checkout → checkin (connection held, pre-ping and commit included), statements are
    ``before_cursor_execute`` events, events are ``INSERT INTO run_events`` statements.
    """

    stats: defaultdict[str, ActivityDbStats] = field(default_factory=lambda: defaultdict(ActivityDbStats))

    @contextlib.contextmanager
    def installed(self, engine: AsyncEngine) -> Iterator[None]:
        """Listen to ``engine`` and wrap ``EventBus.publish`` (when the event bus exists)."""
        pool = engine.sync_engine.pool

        def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            record.info["bench_checkout"] = (time.perf_counter(), CURRENT_ACTIVITY.get())

        def checkin(dbapi_connection: Any, record: Any) -> None:
            started = record.info.pop("bench_checkout", None)
            if started is not None:
                stats = self.stats[started[1]]
                stats.transactions += 1
                stats.connection_held_ms += ms_since(started[0])

        def statement(
            conn: Any, cursor: Any, sql_text: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            stats = self.stats[CURRENT_ACTIVITY.get()]
            stats.statements += 1
            if sql_text.lstrip().upper().startswith("INSERT INTO RUN_EVENTS"):
                stats.events_inserted += len(parameters) if executemany else 1

        restore: Callable[[], None] = lambda: None  # noqa: E731
        with contextlib.suppress(ImportError):
            from agent_runtime_core.event_bus import EventBus  # pyright: ignore[reportMissingImports]

            shipped = EventBus.publish

            async def publish(bus: Any, *args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await shipped(bus, *args, **kwargs)
                finally:
                    stats = self.stats[CURRENT_ACTIVITY.get()]
                    stats.redis_publishes += 1
                    stats.redis_publish_ms += ms_since(start)

            EventBus.publish = publish  # type: ignore[method-assign]

            def restore_publish() -> None:
                EventBus.publish = shipped  # type: ignore[method-assign]

            restore = restore_publish
        sqlalchemy_event.listen(pool, "checkout", checkout)
        sqlalchemy_event.listen(pool, "checkin", checkin)
        sqlalchemy_event.listen(engine.sync_engine, "before_cursor_execute", statement)
        try:
            yield
        finally:
            restore()
            sqlalchemy_event.remove(pool, "checkout", checkout)
            sqlalchemy_event.remove(pool, "checkin", checkin)
            sqlalchemy_event.remove(engine.sync_engine, "before_cursor_execute", statement)

    def reset(self) -> None:
        """Forget what was recorded."""
        self.stats.clear()


CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used (Linux ``/proc``); ``None`` if unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (Postgres backends show their database)."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


MACHINE: Final = "(whole machine)"


def machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (``/proc/stat``: all but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return math.nan
    values = [int(value) for value in fields]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


@dataclass
class CpuMeter:
    """CPU time of each process of the set-up, so a cell can report CPU ms per run.

    Postgres counts only the backends serving the benchmark's database (not the server's shared
    background processes); the benchmark process holds the load generator and all workers.
    """

    components: dict[str, Callable[[], list[int]]]

    def snapshot(self) -> dict[str, dict[int, float]]:
        """CPU seconds per component and pid, now (``MACHINE``: every CPU's busy time)."""
        result: dict[str, dict[int, float]] = {MACHINE: {0: machine_busy_s()}}
        for name, pids in self.components.items():
            result[name] = {}
            for pid in pids():
                used = process_cpu_s(pid)
                if used is not None:
                    result[name][pid] = used
        return result

    @staticmethod
    def delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds each component used between two snapshots (new pids count in full)."""
        return {
            name: sum(used - before.get(name, {}).get(pid, 0.0) for pid, used in pids.items())
            for name, pids in after.items()
        }


# ------------------------------------------------------------------------------------ scenarios


@dataclass
class Sample:
    """One measured run."""

    e2e_ms: float
    workflow_id: str
    post_ms: float | None = None
    wait_ms: float | None = None
    get_ms: float | None = None


@dataclass
class Bench:
    """Everything the scenario runners need."""

    client: Client
    """Like ``connect_temporal``'s (pydantic data converter): starts (a), awaits (c)'s results."""
    bare_client: Client
    """Connected with ``plugins=[PydanticAIPlugin()]``, as pydantic-ai documents: starts (b)."""
    http: httpx.AsyncClient
    http_fixed: httpx.AsyncClient
    """An API whose task queue our worker on pydantic-ai's payload converter polls (what-if)."""
    raw_queue: str
    bare_queue: str
    bare_variant_queues: dict[str, str]
    """Task queues of the bare agent's what-if workers, by variant (see ``BARE_VARIANTS``)."""
    agent_id: str
    timer: ActivityTimer
    cpu: CpuMeter
    steps_hook: bool
    scenarios: tuple[ScenarioKey, ...] = SCENARIOS

    def supports(self, scenario: ScenarioKey, steps: int) -> bool:
        """Whether ``scenario`` is selected and can run ``steps`` steps (ours needs the hook beyond 2)."""
        if scenario not in self.scenarios:
            return False
        return scenario != "c" or steps <= OUR_NATIVE_MAX_STEPS or self.steps_hook

    async def run_raw(self, steps: int, *, extra: int = 0, extra_local: int = 0) -> Sample:
        """(a): 2K - 1 no-op activities, through ``execute_workflow``."""
        workflow_id = f"bench-raw-{uuid.uuid4().hex}"
        start = time.perf_counter()
        await self.client.execute_workflow(
            RawActivitiesWorkflow.run,
            RawRunInput(activities=2 * steps - 1, extra_activities=extra, extra_local_activities=extra_local),
            id=workflow_id,
            task_queue=self.raw_queue,
        )
        return Sample(e2e_ms=ms_since(start), workflow_id=workflow_id)

    async def run_bare(self, steps: int, *, variant: str = "sandboxed") -> Sample:
        """(b): the bare durable agent, K model requests, through ``execute_workflow``."""
        workflow_id = f"bench-bare-{uuid.uuid4().hex}"
        start = time.perf_counter()
        await self.bare_client.execute_workflow(
            BareAgentWorkflow.run,
            steps,
            id=workflow_id,
            task_queue=self.bare_queue if variant == "sandboxed" else self.bare_variant_queues[variant],
        )
        return Sample(e2e_ms=ms_since(start), workflow_id=workflow_id)

    async def run_ours(self, steps: int, *, fixed_converter: bool = False) -> Sample:
        """(c): POST /v1/runs → await the workflow's result → GET /v1/runs/{id} says succeeded."""
        http = self.http_fixed if fixed_converter else self.http
        start = time.perf_counter()
        response = await http.post("/v1/runs", json={"agent_id": self.agent_id, "input": our_prompt(steps)})
        post_ms = ms_since(start)
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/runs answered {response.status_code}: {response.text[:300]}")
        run_id: str = response.json()["id"]
        workflow_id = workflow_id_for_run(run_id)
        waited = time.perf_counter()
        await self.client.get_workflow_handle(workflow_id).result()
        wait_ms = ms_since(waited)
        got = time.perf_counter()
        run = await http.get(f"/v1/runs/{run_id}")
        get_ms = ms_since(got)
        status = run.json().get("status")
        if status != "succeeded":
            raise RuntimeError(f"run {run_id} ended {status}: {run.text[:300]}")
        return Sample(
            e2e_ms=ms_since(start), workflow_id=workflow_id, post_ms=post_ms, wait_ms=wait_ms, get_ms=get_ms
        )

    def runner(self, scenario: ScenarioKey, steps: int) -> Callable[[], Awaitable[Sample]]:
        """A zero-argument coroutine function running one run of ``scenario``."""
        if scenario == "a":
            return lambda: self.run_raw(steps)
        if scenario == "b":
            return lambda: self.run_bare(steps)
        return lambda: self.run_ours(steps)


def our_prompt(steps: int) -> str:
    """A prompt making ``builtin:scripted`` (with ``calculator``) run ``steps`` model requests."""
    if steps == 1:
        return "Say hello."  # no arithmetic: the model answers at once
    if steps == 2:
        return "What is 6 * 7?"  # one calculator call, then the answer
    return scripted_steps_prompt(steps)  # needs the step hook (see bench_workloads)


@dataclass
class Batch:
    """Runs of one scenario and cell executed together."""

    samples: list[Sample]
    errors: list[str]
    wall_s: float


RUN_TIMEOUT_S: Final = 120.0
"""A run that takes longer counts as an error (a broken worker retries its task forever)."""


async def run_batch(
    run: Callable[[], Awaitable[Sample]], count: int, concurrency: int, *, timeout_s: float = RUN_TIMEOUT_S
) -> Batch:
    """``count`` runs, ``concurrency`` at a time (a closed loop: a lane starts its next run when
    its previous one finished)."""
    remaining = iter(range(count))
    samples: list[Sample] = []
    errors: list[str] = []

    async def lane() -> None:
        for _ in remaining:
            try:
                samples.append(await asyncio.wait_for(run(), timeout_s))
            except TimeoutError:
                errors.append(f"no result within {timeout_s:g} s")
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    return Batch(samples=samples, errors=errors, wall_s=time.perf_counter() - start)


# --------------------------------------------------------------------------------- measurement


@dataclass
class Cell:
    """One scenario at one K and concurrency."""

    scenario: ScenarioKey
    steps: int
    concurrency: int
    samples: list[Sample] = field(default_factory=list[Sample])
    errors: list[str] = field(default_factory=list[str])
    wall_s: float = 0.0
    via_steps_hook: bool = False
    cpu_s: dict[str, float] = field(default_factory=dict[str, float])

    def other_load_cores(self) -> float:
        """Cores busy with anything but the benchmark's processes during the cell (other users'
        work, Postgres' and Redis' background processes): high values mean a noisy cell."""
        if MACHINE not in self.cpu_s or not self.wall_s:
            return math.nan
        ours = sum(used for name, used in self.cpu_s.items() if name != MACHINE)
        return max(0.0, self.cpu_s[MACHINE] - ours) / self.wall_s

    @property
    def e2e(self) -> list[float]:
        """End-to-end latencies, ms."""
        return [sample.e2e_ms for sample in self.samples]

    def summary(self) -> dict[str, Any]:
        """JSON-able statistics."""
        result: dict[str, Any] = {
            "scenario": self.scenario,
            "steps": self.steps,
            "concurrency": self.concurrency,
            "runs": len(self.samples),
            "errors": len(self.errors),
            "error_examples": sorted(set(self.errors))[:3],
            "via_steps_hook": self.via_steps_hook,
            "p50_ms": p50(self.e2e),
            "p95_ms": p95(self.e2e),
            "mean_ms": mean(self.e2e),
            "min_ms": min(self.e2e, default=math.nan),
            "max_ms": max(self.e2e, default=math.nan),
            "runs_per_s": len(self.samples) / self.wall_s if self.wall_s else math.nan,
            "cpu_ms_per_run": {
                name: used * 1000 / max(1, len(self.samples))
                for name, used in self.cpu_s.items()
                if name != MACHINE
            },
            "other_load_cores": self.other_load_cores(),
        }
        if self.scenario == "c":
            for part in ("post_ms", "wait_ms", "get_ms"):
                values = [
                    getattr(sample, part) for sample in self.samples if getattr(sample, part) is not None
                ]
                result[f"{part.removesuffix('_ms')}_p50_ms"] = p50(values)
        return result


def chunk_sizes(total: int, rounds: int) -> list[int]:
    """Split ``total`` runs into ``rounds`` nearly equal chunks."""
    return [total // rounds + (1 if index < total % rounds else 0) for index in range(rounds)]


def rounds_for(count: int, concurrency: int) -> int:
    """Interleave scenarios in a few rounds (against drift), each at least two waves long."""
    rounds = 3 if concurrency == 1 else 2
    while rounds > 1 and count / rounds < 2 * concurrency:
        rounds -= 1
    return rounds


async def warm_up(bench: Bench, steps_list: Sequence[int], burst: int, sequential: int) -> None:
    """Every scenario and K: a few sequential runs, then one concurrent burst."""
    bench.timer.label = "warmup"
    for scenario in SCENARIOS:
        for steps in steps_list:
            if not bench.supports(scenario, steps):
                continue
            run = bench.runner(scenario, steps)
            first = await run_batch(run, 1, 1, timeout_s=30)  # fail fast when a worker is broken
            for batch in (first, await run_batch(run, sequential, 1), await run_batch(run, burst, burst)):
                if batch.errors:
                    raise RuntimeError(f"warm-up of {scenario} K={steps} failed: {batch.errors[0]}")
    log("  warm-up done")


async def measure(
    bench: Bench, steps_list: Sequence[int], concurrencies: Sequence[int], runs_for: Callable[[int], int]
) -> list[Cell]:
    """Every cell; scenarios interleaved round by round, rotating which goes first."""
    cells: list[Cell] = []
    for concurrency in concurrencies:
        total = runs_for(concurrency)
        sizes = chunk_sizes(total, rounds_for(total, concurrency))
        for steps in steps_list:
            row: dict[ScenarioKey, Cell] = {
                scenario: Cell(
                    scenario,
                    steps,
                    concurrency,
                    via_steps_hook=scenario == "c" and steps > OUR_NATIVE_MAX_STEPS,
                )
                for scenario in SCENARIOS
                if bench.supports(scenario, steps)
            }
            order: list[ScenarioKey] = list(row)
            for round_index, size in enumerate(sizes):
                for offset in range(len(order)):
                    scenario = order[(round_index + offset) % len(order)]
                    cell = row[scenario]
                    bench.timer.label = f"{scenario}/K{steps}/c{concurrency}"
                    before = bench.cpu.snapshot()
                    batch = await run_batch(bench.runner(scenario, steps), size, concurrency)
                    for name, used in CpuMeter.delta(before, bench.cpu.snapshot()).items():
                        cell.cpu_s[name] = cell.cpu_s.get(name, 0.0) + used
                    cell.samples += batch.samples
                    cell.errors += batch.errors
                    cell.wall_s += batch.wall_s
            for cell in row.values():
                problems = f", {len(cell.errors)} ERRORS" if cell.errors else ""
                log(
                    f"  {SCENARIO_NAMES[cell.scenario]:<22} K={steps:<3} concurrency={concurrency:<3} "
                    f"p50={fmt(p50(cell.e2e))} ms p95={fmt(p95(cell.e2e))} ms{problems}"
                )
            cells += row.values()
    bench.timer.label = "idle"
    return cells


def find_cell(cells: Sequence[Cell], scenario: ScenarioKey, steps: int, concurrency: int) -> Cell | None:
    """The cell, if measured."""
    for cell in cells:
        if (cell.scenario, cell.steps, cell.concurrency) == (scenario, steps, concurrency):
            return cell
    return None


def cell_p50(cells: Sequence[Cell], scenario: ScenarioKey, steps: int, concurrency: int) -> float | None:
    """p50 end-to-end of a cell, if measured."""
    cell = find_cell(cells, scenario, steps, concurrency)
    return p50(cell.e2e) if cell and cell.samples else None


def per_step(cells: Sequence[Cell], scenario: ScenarioKey, steps: int, concurrency: int) -> float | None:
    """Per-step overhead: (p50(K=steps) - p50(K=1)) / (steps - 1)."""
    high = cell_p50(cells, scenario, steps, concurrency)
    low = cell_p50(cells, scenario, 1, concurrency)
    if high is None or low is None:
        return None
    return (high - low) / (steps - 1)


# ---------------------------------------------------------------------------------- histories


def activity_category(activity_type: str) -> str:
    """Group activity types: ``noop``, ``model``, ``tool``, ``bookkeeping``, ``other``."""
    if activity_type == NOOP_ACTIVITY:
        return "noop"
    if "model_request" in activity_type:
        return "model"
    if "call_tool" in activity_type:
        return "tool"
    if activity_type in ("mark_run_started", "finish_run"):
        return "bookkeeping"
    return "other"


def _ms(event: HistoryEvent) -> float:
    return event.event_time.ToNanoseconds() / 1e6


def history_breakdown(events: Sequence[HistoryEvent]) -> dict[str, float]:
    """Where a workflow's time went, from its history's server timestamps (ms).

    Workflow tasks and activities each split into queue time (scheduled → started: matching,
    polling, dispatch) and execution time (started → completed: the worker's code plus the
    completion RPC). ``other`` is what the rest does not explain.
    """
    parts: defaultdict[str, float] = defaultdict(float)
    scheduled: dict[int, float] = {}
    started: dict[int, float] = {}
    activity_types: dict[int, str] = {}
    for item in events:
        at = _ms(item)
        kind = item.event_type
        if kind in (
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        ):
            scheduled[item.event_id] = at
            if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = item.activity_task_scheduled_event_attributes
                activity_types[item.event_id] = attributes.activity_type.name
                parts["n_activities"] += 1
                parts[f"n_activity:{attributes.activity_type.name}"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            scheduled_id = item.workflow_task_started_event_attributes.scheduled_event_id
            started[item.event_id] = at
            parts["workflow_task_queue"] += at - scheduled.get(scheduled_id, at)
            parts["n_workflow_tasks"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            started_id = item.workflow_task_completed_event_attributes.started_event_id
            parts["workflow_task_exec"] += at - started.get(started_id, at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            scheduled_id = item.activity_task_started_event_attributes.scheduled_event_id
            started[item.event_id] = at
            parts["activity_queue"] += at - scheduled.get(scheduled_id, at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = item.activity_task_completed_event_attributes
            category = activity_category(activity_types.get(attributes.scheduled_event_id, ""))
            parts[f"activity_exec:{category}"] += at - started.get(attributes.started_event_id, at)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            parts["n_markers"] += 1
    total = _ms(events[-1]) - _ms(events[0]) if events else math.nan
    explained = sum(value for key, value in parts.items() if not key.startswith("n_"))
    parts["server_total"] = total
    parts["other"] = total - explained
    return dict(parts)


async def breakdowns(client: Client, samples: Sequence[Sample]) -> list[dict[str, float]]:
    """History breakdown of each sample's workflow, plus its client-side latency."""
    results: list[dict[str, float]] = []
    for sample in samples:
        history = await client.get_workflow_handle(sample.workflow_id).fetch_history()
        parts = history_breakdown(list(history.events))
        parts["client_e2e"] = sample.e2e_ms
        parts["outside_workflow"] = sample.e2e_ms - parts["server_total"]
        for name in ("post_ms", "wait_ms", "get_ms"):
            value = getattr(sample, name)
            if value is not None:
                parts[f"client:{name.removesuffix('_ms')}"] = value
        results.append(parts)
    return results


def mean_breakdown(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    """Component-wise mean (a component missing from a run counts as 0)."""
    keys = sorted({key for row in rows for key in row})
    return {key: mean([row.get(key, 0.0) for row in rows]) for key in keys}


# ------------------------------------------------------------------------------------ profile


def runs_for_steps(count: int, steps: int) -> int:
    """Profile runs at ``steps``: all of ``count`` at K=1, half beyond (they take K times longer)."""
    return count if steps == 1 else max(4, count // 2)


async def profile_ours(
    bench: Bench, database: Database, probe: WorkerProbe, steps: int, count: int
) -> dict[str, Any]:
    """Runs of (c) with the worker probe: per activity type, Python time, database and Redis work."""
    probe.reset()
    label = f"profile/c/K{steps}"
    bench.timer.label = label
    with probe.installed(database.engine):
        batch = await run_batch(bench.runner("c", steps), count, 1)
    bench.timer.label = "idle"
    runs = max(1, len(batch.samples))
    python = bench.timer.samples[label]
    by_type: dict[str, dict[str, float]] = {}
    for name in sorted(set(python) | set(probe.stats)):
        stats = probe.stats.get(name, ActivityDbStats())
        values = python.get(name, [])
        by_type[name] = {
            "executions_per_run": len(values) / runs,
            "python_exec_p50_ms": p50(values),
            "python_exec_ms_per_run": sum(values) / runs,
            "db_transactions_per_run": stats.transactions / runs,
            "db_connection_held_ms_per_run": stats.connection_held_ms / runs,
            "sql_statements_per_run": stats.statements / runs,
            "events_per_run": stats.events_inserted / runs,
            "redis_publishes_per_run": stats.redis_publishes / runs,
            "redis_publish_ms_per_run": stats.redis_publish_ms / runs,
        }
    return {
        "steps": steps,
        "runs": len(batch.samples),
        "errors": batch.errors[:3],
        "e2e_p50_ms": p50([sample.e2e_ms for sample in batch.samples]),
        "by_activity_type": by_type,
    }


async def profile_post_path(bench: Bench, settings: Settings, count: int) -> dict[str, Any]:
    """The API's POST /v1/runs path, in this process, split into its parts (p50 ms).

    The service is built by the route's own dependency (``deps.get_run_service``) on an
    ``AppState`` like the API's lifespan builds; ``create`` is what the route awaits. Its
    ``_write_run`` (the transaction: agent, version, run row, ``run.queued`` event, and the
    event's publication where there is one) and ``_start_workflow`` are timed when present. The
    raw ``start_workflow`` of scenario (a) is measured alongside.
    """
    from agent_runtime_api.deps import AppState, get_run_service
    from agent_runtime_api.temporal_connection import TemporalConnection
    from agent_runtime_core.db import UnitOfWork
    from agent_runtime_core.schemas import RunCreate

    state = AppState(
        settings=settings,
        database=Database(settings.database_url, pool_size=settings.database_pool_size),
        temporal=TemporalConnection(settings.temporal_address, settings.temporal_namespace),
    )
    service = get_run_service(state, UnitOfWork(state.database, DEFAULT_TENANT_ID))
    timings: defaultdict[str, list[float]] = defaultdict(list)

    def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(method):

            def plain(*args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return method(*args, **kwargs)
                finally:
                    timings[name].append(ms_since(start))

            return plain

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                timings[name].append(ms_since(start))

        return wrapper

    for name in ("_write_run", "_publish", "_start_workflow"):
        if hasattr(service, name):
            setattr(service, name, timed(name.lstrip("_"), getattr(service, name)))
    bench.timer.label = "profile/post"
    try:
        for _ in range(count):
            start = time.perf_counter()
            created = await service.create(RunCreate(agent_id=bench.agent_id, input=our_prompt(1)), None)
            timings["create_total"].append(ms_since(start))
            await bench.client.get_workflow_handle(created.run.workflow_id).result()
            workflow_id = f"bench-raw-{uuid.uuid4().hex}"
            start = time.perf_counter()
            handle = await bench.client.start_workflow(
                RawActivitiesWorkflow.run,
                RawRunInput(activities=1),
                id=workflow_id,
                task_queue=bench.raw_queue,
            )
            timings["raw_start_workflow"].append(ms_since(start))
            await handle.result()
    finally:
        bench.timer.label = "idle"
        close: Callable[[], Awaitable[None]] | None = getattr(state, "aclose", None)
        if close is not None:
            await close()
        else:
            await state.database.dispose()
        del state, service
        # Collect the closed clients here, on this thread: redis-py's pool finalizer imports a
        # module, which must not happen on a workflow thread inside the sandbox.
        gc.collect()
    return {name: p50(values) for name, values in timings.items()}


async def profile_bookkeeping(bench: Bench, count: int) -> dict[str, float]:
    """What two extra activities per run cost raw Temporal, as regular and as local activities.

    Our run has two activities the agent does not (``mark_run_started``, ``finish_run``): this
    is (a) at K=1 with two more no-op activities, one before and one after, either kind.
    """
    variants: dict[str, Callable[[], Awaitable[Sample]]] = {
        "raw_K1": lambda: bench.run_raw(1),
        "raw_K1_plus_2_activities": lambda: bench.run_raw(1, extra=2),
        "raw_K1_plus_2_local_activities": lambda: bench.run_raw(1, extra_local=2),
    }
    samples: defaultdict[str, list[float]] = defaultdict(list)
    bench.timer.label = "profile/bookkeeping"
    for size in chunk_sizes(count, 2):
        for name, run in variants.items():
            batch = await run_batch(run, size, 1)
            samples[name] += [sample.e2e_ms for sample in batch.samples]
    bench.timer.label = "idle"
    return {name: p50(values) for name, values in samples.items()}


async def profile_converter(bench: Bench, count: int, steps_list: Sequence[int]) -> dict[str, float]:
    """(c) as shipped vs our worker on a client with pydantic-ai's payload converter.

    ``build_worker`` passes ``PydanticAIPlugin`` to the ``Worker`` only, and a worker plugin does
    not change the data converter: the worker keeps ``connect_temporal``'s
    ``pydantic_data_converter``, whose adapter cache lives in a payload converter that the
    sandbox creates anew for every workflow run. ``PydanticAIPayloadConverter`` keeps one
    process-wide cache. Reports p50 ms and the benchmark process's CPU ms per run.
    """
    result: dict[str, float] = {}
    bench.timer.label = "profile/converter"
    pid = os.getpid()
    for fixed in (False, True):  # warm-up
        await run_batch(functools.partial(bench.run_ours, 1, fixed_converter=fixed), 2, 1)
    for steps in steps_list:
        samples: defaultdict[str, list[float]] = defaultdict(list)
        cpu_s: defaultdict[str, float] = defaultdict(float)
        for size in chunk_sizes(runs_for_steps(count, steps), 2):
            for fixed in (False, True):
                name = f"ours_K{steps}_{'pydantic_ai_converter' if fixed else 'shipped'}"
                before = process_cpu_s(pid) or 0.0
                batch = await run_batch(
                    functools.partial(bench.run_ours, steps, fixed_converter=fixed), size, 1
                )
                cpu_s[name] += (process_cpu_s(pid) or 0.0) - before
                samples[name] += [sample.e2e_ms for sample in batch.samples]
        for name, values in samples.items():
            result[f"{name}_p50_ms"] = p50(values)
            result[f"{name}_worker_process_cpu_ms_per_run"] = cpu_s[name] * 1000 / max(1, len(values))
    bench.timer.label = "idle"
    return result


BARE_VARIANTS: Final = ("sandboxed", "sandboxed_passthrough_all", "unsandboxed")
"""(b) in Temporal's default sandbox (as our worker runs), in a sandbox that passes every module
through (restrictions kept, no per-run re-import), and with no sandbox at all."""


async def profile_sandbox(bench: Bench, count: int, steps_list: Sequence[int]) -> dict[str, float]:
    """(b) in each of ``BARE_VARIANTS`` (p50 ms)."""
    samples: defaultdict[str, list[float]] = defaultdict(list)
    bench.timer.label = "profile/sandbox"
    for variant in BARE_VARIANTS:  # warm the other workers too
        await run_batch(functools.partial(bench.run_bare, 1, variant=variant), 2, 1)
    for steps in steps_list:
        for size in chunk_sizes(runs_for_steps(count, steps), 2):
            for variant in BARE_VARIANTS:
                run = functools.partial(bench.run_bare, steps, variant=variant)
                batch = await run_batch(run, size, 1)
                name = f"bare_K{steps}_{variant}"
                samples[name] += [sample.e2e_ms for sample in batch.samples]
    bench.timer.label = "idle"
    return {name: p50(values) for name, values in samples.items()}


SINGLE_STATEMENT_EVENT_APPEND: Final = text(
    """
    WITH bumped AS (
        UPDATE runs SET last_event_seq = last_event_seq + 1
        WHERE id = :run_id AND tenant_id = :tenant_id
          AND NOT EXISTS (SELECT 1 FROM run_events WHERE run_id = :run_id AND dedupe_key = :dedupe_key)
        RETURNING id, last_event_seq
    )
    INSERT INTO run_events (run_id, seq, tenant_id, type, at, data, dedupe_key)
    SELECT id, last_event_seq, :tenant_id, :type, :at, CAST(:data AS jsonb), :dedupe_key FROM bumped
    """
)
"""The same append (next gap-free seq under the run's row lock, idempotent by dedupe key) in one
round trip: the UPDATE takes the row lock ``SELECT ... FOR UPDATE`` takes today, the unique
constraint still guards a concurrent duplicate."""


async def profile_event_append(database_url: str, agent_id: str, count: int) -> dict[str, float]:
    """One event append, four ways, on a run of its own (p50 ms each).

    ``shipped``: ``agent_runtime_worker.events.RunEventWriter.record`` as activities call it (our
    ``Database`` with ``pool_pre_ping=True``; lock the run, dedupe SELECT, UPDATE, INSERT,
    COMMIT; no event bus, the worker publishes in the background). ``repository_transaction``:
    the repository's append inline, without any publish. ``repository_transaction_no_pre_ping``: that on
    an engine without pre-ping. ``single_statement``: ``SINGLE_STATEMENT_EVENT_APPEND``, no
    pre-ping.
    """
    from agent_runtime_worker import events

    run_id = new_run_id()
    ours = Database(database_url, pool_size=10)
    async with session_scope(ours, DEFAULT_TENANT_ID) as session:
        agent = await AgentRepository(session, DEFAULT_TENANT_ID).get(agent_id)
        assert agent is not None
        await RunRepository(session, DEFAULT_TENANT_ID).create(
            Run(
                id=run_id,
                tenant_id=DEFAULT_TENANT_ID,
                agent_id=agent_id,
                agent_version=agent.latest_version,
                input="event append benchmark",
                workflow_id=workflow_id_for_run(run_id),
            ),
            {},
        )
    engine = create_async_engine(ours.url, pool_size=10, max_overflow=10, pool_pre_ping=False)
    no_ping_sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    counter = iter(range(10**9))

    writer = events.RunEventWriter(ours, None)  # no event bus: the publish is off the write's path

    async def shipped() -> None:
        index = next(counter)
        await writer.record(DEFAULT_TENANT_ID, run_id, "bench.event", {"i": index}, dedupe_key=f"b:{index}")

    async def repository(session: AsyncSession) -> None:
        index = next(counter)
        await RunEventRepository(session, DEFAULT_TENANT_ID).append_to_run(
            run_id, [("bench.event", {"i": index}, f"b:{index}")]
        )

    async def repository_transaction() -> None:
        async with session_scope(ours, DEFAULT_TENANT_ID) as session:
            await repository(session)

    async def repository_transaction_no_pre_ping() -> None:
        async with no_ping_sessions() as session, session.begin():
            await repository(session)

    async def single_statement() -> None:
        index = next(counter)
        async with engine.begin() as connection:
            await connection.execute(
                SINGLE_STATEMENT_EVENT_APPEND,
                {
                    "run_id": run_id,
                    "tenant_id": DEFAULT_TENANT_ID,
                    "type": "bench.event",
                    "at": utcnow(),
                    "data": json.dumps({"i": index}),
                    "dedupe_key": f"b:{index}",
                },
            )

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "repository_transaction": repository_transaction,
        "repository_transaction_no_pre_ping": repository_transaction_no_pre_ping,
        "single_statement": single_statement,
    }
    variants = {"shipped": shipped, **variants}
    samples: defaultdict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(2):  # warm the pools
            for variant in variants.values():
                await variant()
        for size in chunk_sizes(count, 4):
            for name, variant in variants.items():
                for _ in range(size):
                    start = time.perf_counter()
                    await variant()
                    samples[name].append(ms_since(start))
        async with engine.connect() as connection:
            gaps = await connection.execute(
                text(
                    "SELECT count(*) = max(seq) "
                    "AND max(seq) = (SELECT last_event_seq FROM runs WHERE id = :id) "
                    "FROM run_events WHERE run_id = :id"
                ),
                {"id": run_id},
            )
            gap_free = bool(gaps.scalar_one())
    finally:
        await engine.dispose()
        await ours.dispose()
    result = {name: p50(values) for name, values in samples.items()}
    result["seq_gap_free"] = float(gap_free)
    return result


async def run_profile(
    bench: Bench,
    database: Database,
    settings: Settings,
    cells: Sequence[Cell],
    count: int,
    max_steps: int,
) -> dict[str, Any]:
    """Where (c)'s time goes: histories of the measured runs, plus targeted extra runs.

    Each part is independent: one that fails (say, after an internal API changed) is reported
    as an error and the others still run.
    """
    log("Profiling...")
    profile: dict[str, Any] = {}

    timings: dict[str, float] = {}
    profile["part_durations_s"] = timings

    async def part(name: str, work: Awaitable[Any]) -> None:
        start = time.perf_counter()
        try:
            profile[name] = await work
            timings[name] = round(time.perf_counter() - start, 1)
            log(f"  {name} done ({timings[name]:.0f} s)")
        except Exception as exc:
            profile[name] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  {name} FAILED: {type(exc).__name__}: {exc}")

    async def histories() -> dict[str, dict[str, float]]:
        result: dict[str, dict[str, float]] = {}
        for cell in cells:
            if cell.concurrency == 1 and cell.samples:
                rows = await breakdowns(bench.client, cell.samples)
                result[f"{cell.scenario}/K{cell.steps}"] = mean_breakdown(rows)
        return result

    async def ours() -> dict[str, Any]:
        probe = WorkerProbe()
        return {
            f"K{steps}": await profile_ours(bench, database, probe, steps, runs_for_steps(count, steps))
            for steps in sorted({1, max_steps})
        }

    async def python_activity_times() -> dict[str, dict[str, float]]:
        return {
            label.removesuffix("/c1"): {name: p50(values) for name, values in sorted(by_type.items())}
            for label, by_type in sorted(bench.timer.samples.items())
            if label.endswith("/c1")
        }

    await part("histories_mean_ms", histories())
    await part("python_activity_exec_p50_ms", python_activity_times())
    await part("ours_by_activity_type", ours())
    await part("post_path_p50_ms", profile_post_path(bench, settings, count))
    await part("bookkeeping_what_if_p50_ms", profile_bookkeeping(bench, count))
    await part(
        "event_append_what_if_p50_ms", profile_event_append(settings.database_url, bench.agent_id, count * 10)
    )
    await part("converter_what_if", profile_converter(bench, count, sorted({1, max_steps})))
    await part("sandbox_what_if_p50_ms", profile_sandbox(bench, count, sorted({1, max_steps})))
    return profile


# ------------------------------------------------------------------------------------- report


@dataclass
class Report:
    """The numbers, the tables and the verdicts."""

    machine: dict[str, Any]
    config: dict[str, Any]
    cells: list[Cell]
    profile: dict[str, Any] | None
    elapsed_s: float = 0.0
    lines: list[str] = field(default_factory=list[str])

    def overhead(self) -> dict[str, Any]:
        """Per-step overhead and K=1 latency per scenario and concurrency, with ratios."""
        rows: dict[str, Any] = {}
        steps_measured = sorted({cell.steps for cell in self.cells})
        for concurrency in sorted({cell.concurrency for cell in self.cells}):
            metrics: dict[str, dict[ScenarioKey, float | None]] = {}
            for steps in steps_measured:
                if steps > 1:
                    metrics[f"per_step_K1_to_K{steps}_ms"] = {
                        scenario: per_step(self.cells, scenario, steps, concurrency) for scenario in SCENARIOS
                    }
            metrics["K1_e2e_p50_ms"] = {
                scenario: cell_p50(self.cells, scenario, 1, concurrency) for scenario in SCENARIOS
            }
            rows[f"concurrency_{concurrency}"] = {
                name: {
                    **{scenario: values[scenario] for scenario in SCENARIOS},
                    "c_over_a": ratio(values["c"], values["a"]),
                    "c_over_b": ratio(values["c"], values["b"]),
                }
                for name, values in metrics.items()
            }
        return rows

    def targets(self) -> list[dict[str, Any]]:
        """Pass/fail per target and concurrency (per-step on the longest K measured for (c))."""
        verdicts: list[dict[str, Any]] = []
        ours = [cell.steps for cell in self.cells if cell.scenario == "c" and cell.samples and cell.steps > 1]
        longest = max(ours, default=None)
        for concurrency in sorted({cell.concurrency for cell in self.cells}):
            if longest is not None:
                value = ratio(
                    per_step(self.cells, "c", longest, concurrency),
                    per_step(self.cells, "a", longest, concurrency),
                )
                verdicts.append(
                    {
                        "target": f"per-step overhead (c) <= {TARGET_PER_STEP_RATIO}x (a)",
                        "basis": f"(p50 K={longest} - p50 K=1)/{longest - 1}",
                        "concurrency": concurrency,
                        "ratio": value,
                        "pass": value is not None and value <= TARGET_PER_STEP_RATIO,
                    }
                )
            value = ratio(
                cell_p50(self.cells, "c", 1, concurrency), cell_p50(self.cells, "a", 1, concurrency)
            )
            verdicts.append(
                {
                    "target": f"API-to-result p50 K=1 (c) <= {TARGET_K1_RATIO}x raw execute_workflow (a)",
                    "basis": "p50 K=1",
                    "concurrency": concurrency,
                    "ratio": value,
                    "pass": value is not None and value <= TARGET_K1_RATIO,
                }
            )
        return verdicts

    def emit(self, line: str = "") -> None:
        """Print a report line and keep it for the Markdown file."""
        print(line, flush=True)
        self.lines.append(line)

    def print_tables(self) -> None:
        """The latency table, the overhead table, the verdicts and the profile."""
        self.emit("Latency per run (ms), K = model requests per run (K - 1 tool calls in between)")
        self.emit("")
        self.emit(
            "| scenario | K | concurrency | runs | p50 ms | p95 ms | runs/s | errors | other load (cores) |"
        )
        self.emit("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cell in sorted(self.cells, key=lambda c: (c.concurrency, c.steps, c.scenario)):
            stats = cell.summary()
            name = SCENARIO_NAMES[cell.scenario] + (" *" if cell.via_steps_hook else "")
            self.emit(
                f"| {name} | {cell.steps} | {cell.concurrency} | {stats['runs']} | {fmt(stats['p50_ms'])} | "
                f"{fmt(stats['p95_ms'])} | {fmt(stats['runs_per_s'])} | {stats['errors']} | "
                f"{fmt(stats['other_load_cores'], 2)} |"
            )
        noisy = [cell for cell in self.cells if cell.other_load_cores() > NOISY_LOAD_CORES]
        if noisy:
            self.emit("")
            self.emit(
                f"WARNING: other processes kept more than {NOISY_LOAD_CORES} cores busy during "
                f"{len(noisy)} cells: their numbers are unreliable; rerun on a quiet machine."
            )
        if any(cell.via_steps_hook for cell in self.cells):
            self.emit("")
            self.emit(
                "\\* K > 2 for (c) uses the in-process `scripted:steps=K` hook on `builtin:scripted` "
                "(bench_workloads.py); the rest of the run is our unchanged code."
            )
        self.emit("")
        self.emit("CPU ms per run, by process (Linux /proc; includes idle polling during the cell)")
        self.emit("")
        names = sorted({name for cell in self.cells for name in cell.cpu_s if name != MACHINE})
        self.emit("| scenario | K | concurrency | " + " | ".join(names) + " | total |")
        self.emit("|---|---:|---:|" + "---:|" * (len(names) + 1))
        for cell in sorted(self.cells, key=lambda c: (c.concurrency, c.steps, c.scenario)):
            per_run = cell.summary()["cpu_ms_per_run"]
            values = [per_run.get(name, math.nan) for name in names]
            self.emit(
                f"| {SCENARIO_NAMES[cell.scenario]} | {cell.steps} | {cell.concurrency} | "
                + " | ".join(fmt(value) for value in values)
                + f" | {fmt(sum(values))} |"
            )
        self.emit("")
        self.emit("Overhead: per-step = (p50(K) - p50(K=1)) / (K - 1); ratios are (c)/(a) and (c)/(b)")
        self.emit("")
        self.emit("| metric | concurrency | (a) raw | (b) bare | (c) ours | (c)/(a) | (c)/(b) |")
        self.emit("|---|---:|---:|---:|---:|---:|---:|")
        for concurrency_key, metrics in self.overhead().items():
            concurrency = concurrency_key.removeprefix("concurrency_")
            for name, values in metrics.items():
                self.emit(
                    f"| {name} | {concurrency} | {fmt(values['a'])} | {fmt(values['b'])} | "
                    f"{fmt(values['c'])} | {fmt(values['c_over_a'], 2)}x | {fmt(values['c_over_b'], 2)}x |"
                )
        self.emit("")
        self.emit("Targets")
        self.emit("")
        for verdict in self.targets():
            outcome = "PASS" if verdict["pass"] else "FAIL"
            self.emit(
                f"- {outcome}: {verdict['target']} at concurrency {verdict['concurrency']} "
                f"[{verdict['basis']}]: {fmt(verdict['ratio'], 2)}x"
            )
        if self.profile:
            self.print_profile(self.profile)

    def print_profile(self, profile: dict[str, Any]) -> None:
        """Where the time goes (concurrency 1). Parts that failed are named, not printed."""
        for name, value in profile.items():
            if isinstance(value, dict) and "error" in value:
                self.emit("")
                self.emit(f"Profile part {name} failed: {value['error']}")
        histories = profile.get("histories_mean_ms", {})
        if histories and "error" not in histories:
            self.print_histories(histories)
        python = profile.get("python_activity_exec_p50_ms", {})
        if python and "error" not in python:
            self.emit("")
            self.emit(
                "Activity execution in Python, p50 ms (interceptor; concurrency 1; payload decoding excluded)"
            )
            self.emit("")
            for label, by_type in python.items():
                listed = ", ".join(f"`{name}` {fmt(value, 2)}" for name, value in by_type.items())
                self.emit(f"- {label}: {listed}")
        ours = profile.get("ours_by_activity_type", {})
        if ours and "error" not in ours:
            self.emit("")
            self.emit(
                "(c) by activity type, with the worker probe (concurrency 1; per run unless p50; "
                "DB held = pool checkout to checkin, pre-ping and COMMIT included; Redis publishes made "
                "with publish_soon run in the background, off the activity's critical path)"
            )
            for key, data in ours.items():
                self.emit("")
                self.emit(f"{key}: {data['runs']} runs, end-to-end p50 {fmt(data['e2e_p50_ms'])} ms")
                self.emit("")
                self.emit(
                    "| activity | runs of it | Python p50 ms | Python ms | DB transactions | DB held ms "
                    "| SQL statements | events | Redis publishes | Redis ms |"
                )
                self.emit("|---|" + "---:|" * 9)
                for activity_type, row in data["by_activity_type"].items():
                    self.emit(
                        f"| `{activity_type}` | {fmt(row['executions_per_run'])} | "
                        f"{fmt(row['python_exec_p50_ms'], 2)} | {fmt(row['python_exec_ms_per_run'])} | "
                        f"{fmt(row['db_transactions_per_run'])} | "
                        f"{fmt(row['db_connection_held_ms_per_run'])} | "
                        f"{fmt(row['sql_statements_per_run'])} | {fmt(row['events_per_run'])} | "
                        f"{fmt(row['redis_publishes_per_run'])} | {fmt(row['redis_publish_ms_per_run'])} |"
                    )
        self.emit("")
        post = profile.get("post_path_p50_ms", {})
        if post and "error" not in post:
            self.emit(
                "- POST path in process (p50 ms): RunService.create "
                f"{fmt(post.get('create_total'), 2)}: _write_run {fmt(post.get('write_run'), 2)} "
                f"(of which _publish {fmt(post.get('publish'), 2)}), "
                f"_start_workflow {fmt(post.get('start_workflow'), 2)}; "
                f"raw start_workflow of (a) {fmt(post.get('raw_start_workflow'), 2)}"
            )
        book = profile.get("bookkeeping_what_if_p50_ms", {})
        if book and "error" not in book:
            self.emit(
                "- Bookkeeping what-if, (a) K=1 p50 (ms): as is "
                f"{fmt(book.get('raw_K1'))}, +2 activities {fmt(book.get('raw_K1_plus_2_activities'))}, "
                f"+2 local activities {fmt(book.get('raw_K1_plus_2_local_activities'))}"
            )
        append = profile.get("event_append_what_if_p50_ms", {})
        if append and "error" not in append:
            self.emit(
                "- Event append what-if (p50 ms per event): "
                + ", ".join(
                    f"{name} {fmt(value, 2)}" for name, value in append.items() if name != "seq_gap_free"
                )
                + f" (seq still gap-free: {bool(append.get('seq_gap_free'))})"
            )
        converter = profile.get("converter_what_if", {})
        if converter and "error" not in converter:
            self.emit(
                "- Payload converter what-if, (c) as shipped vs on pydantic-ai's converter: "
                + ", ".join(f"{name} {fmt(value)}" for name, value in converter.items())
            )
        sandbox = profile.get("sandbox_what_if_p50_ms", {})
        if sandbox and "error" not in sandbox:
            self.emit(
                "- Sandbox what-if, (b) p50 (ms): "
                + ", ".join(f"{name} {fmt(value)}" for name, value in sorted(sandbox.items()))
            )

    def print_histories(self, histories: dict[str, dict[str, float]]) -> None:
        """The history breakdown table and the activity types per run."""
        columns = sorted(histories, key=lambda key: (int(key.split("/K")[1]), key))
        self.emit("")
        self.emit("Profile: mean ms per run at concurrency 1, from the measured runs' workflow histories")
        self.emit("")
        self.emit("| component | " + " | ".join(columns) + " |")
        self.emit("|---|" + "---:|" * len(columns))
        components = [
            ("client end-to-end", "client_e2e"),
            ("  outside the workflow (start/POST, result, GET)", "outside_workflow"),
            ("    (c) POST /v1/runs", "client:post"),
            ("    (c) GET /v1/runs/{id}", "client:get"),
            ("  workflow start → close (server)", "server_total"),
            ("    workflow tasks: queue", "workflow_task_queue"),
            ("    workflow tasks: execution (local activities included)", "workflow_task_exec"),
            ("    activities: queue", "activity_queue"),
            ("    activities: no-op", "activity_exec:noop"),
            ("    activities: model request", "activity_exec:model"),
            ("    activities: tool call", "activity_exec:tool"),
            ("    activities: mark_run_started + finish_run", "activity_exec:bookkeeping"),
            ("    activities: other", "activity_exec:other"),
            ("    unexplained", "other"),
            ("workflow tasks per run", "n_workflow_tasks"),
            ("activities per run", "n_activities"),
            ("markers per run (local activities, patches)", "n_markers"),
        ]
        for title, key in components:
            values = [fmt(histories[column].get(key)) for column in columns]
            self.emit(f"| {title} | " + " | ".join(values) + " |")
        self.emit("")
        self.emit("Activities per run, by type:")
        self.emit("")
        for column in columns:
            types = {
                key.removeprefix("n_activity:"): value
                for key, value in histories[column].items()
                if key.startswith("n_activity:")
            }
            listed = ", ".join(f"`{name}` x{fmt(count)}" for name, count in sorted(types.items()))
            self.emit(f"- {column}: {listed}")

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-able."""
        return {
            "machine": self.machine,
            "config": self.config,
            "elapsed_s": round(self.elapsed_s, 1),
            "definitions": {
                "step": "one model request; a K-step run = K model requests and K-1 tool calls",
                "e2e_a_b": "client.execute_workflow: start until the result arrived",
                "e2e_c": "POST /v1/runs sent until GET /v1/runs/{id} answered succeeded "
                "(POST, then await the workflow result via a handle on run-<id>, then one GET)",
                "per_step": "(p50(K) - p50(K=1)) / (K - 1), per scenario and concurrency",
            },
            "cells": [cell.summary() for cell in self.cells],
            "overhead": self.overhead(),
            "targets": self.targets(),
            "profile": self.profile,
        }

    def markdown(self) -> str:
        """The Markdown summary: machine, configuration, then the printed tables."""
        machine = self.machine
        packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
        header = [
            f"# Overhead benchmark, {machine['date_utc']}",
            "",
            f"- CPU: {machine['cpu_model']}, {machine['nproc']} CPUs available; "
            f"memory {machine['memory_gib']} GiB",
            f"- OS: {machine['os']}; Python {machine['python']}",
            "- Load average (1, 5, 15 min) at start "
            + ", ".join(f"{value:.2f}" for value in self.config["load_average_at_start"])
            + ", at end "
            + ", ".join(f"{value:.2f}" for value in machine["load_average_at_end"])
            + " (see the other-load column for what other processes used during each cell)",
            f"- Temporal: {machine['temporal_cli']}",
            f"- Postgres: {machine['postgres']} ({machine['postgres_source']})",
            f"- Redis for live events: {machine['redis'] or '-'} ({machine['redis_source']})",
            f"- Packages: {packages}",
            f"- Commit: {machine['git_commit']}"
            + (
                f" plus uncommitted changes in: {', '.join(machine['git_changed_files'])}"
                if machine["git_changed_files"]
                else ""
            ),
            f"- Run: `{self.config['command']}`, {self.elapsed_s:.0f} s; runs per cell: "
            f"{self.config['runs_per_concurrency']}; warm-up: {self.config['warmup']}",
            "",
            "Method and definitions: see bench/README.md.",
            "",
        ]
        return "\n".join(header + self.lines) + "\n"


# --------------------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Clients:
    """The benchmark process's Temporal clients (all with the activity timer)."""

    ours: Client
    """Like ``connect_temporal`` (pydantic data converter): raw (a), ours (c), the load."""
    pydantic_ai: Client
    """``plugins=[PydanticAIPlugin()]`` on the client, as pydantic-ai documents: bare (b)."""
    ours_fixed: Client
    """Pydantic-ai's memoizing payload converter: our worker in the converter what-if."""


@dataclass(frozen=True)
class Queues:
    """One task queue per worker."""

    raw: str
    bare: str
    bare_variants: dict[str, str]
    ours_fixed: str


@contextlib.asynccontextmanager
async def workers(
    clients: Clients, settings: Settings, database: Database, queues: Queues
) -> AsyncIterator[None]:
    """Every worker, all in this process, with our worker's tuning.

    Raw (a) on our client; bare (b) on the pydantic-ai client, which brings the plugin (passing it
    to the worker too would register its activities twice); ours (c) with ``build_worker`` as
    ``agent-runtime worker`` builds it; and the what-if workers (bare in other sandboxes, ours on
    pydantic-ai's payload converter).
    """
    from agent_runtime_worker.main import build_worker

    tuning: dict[str, Any] = {
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.worker_max_concurrent_workflow_tasks,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=settings.worker_sticky_queue_timeout_s),
        "graceful_shutdown_timeout": timedelta(seconds=10),
    }
    raw = Worker(
        clients.ours,
        task_queue=queues.raw,
        workflows=[RawActivitiesWorkflow],
        activities=[noop_activity],
        **tuning,
    )
    bare = Worker(clients.pydantic_ai, task_queue=queues.bare, workflows=[BareAgentWorkflow], **tuning)
    ours = build_worker(clients.ours, settings, database)
    ours_fixed = build_worker(clients.ours_fixed, settings, database, task_queue=queues.ours_fixed)
    runners: dict[str, WorkflowRunner] = {
        "sandboxed_passthrough_all": SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
        "unsandboxed": UnsandboxedWorkflowRunner(),
    }
    variants = [
        Worker(
            clients.pydantic_ai,
            task_queue=queues.bare_variants[name],
            workflows=[BareAgentWorkflow],
            workflow_runner=runner,
            **tuning,
        )
        for name, runner in runners.items()
    ]
    async with raw, bare, variants[0], variants[1], ours, ours_fixed:
        yield


async def create_agent(http: httpx.AsyncClient) -> str:
    """The agent of scenario (c): ``builtin:scripted`` with ``calculator``."""
    response = await http.post(
        "/v1/agents",
        json={
            "name": f"bench-{uuid.uuid4().hex[:8]}",
            "version": {
                "model": "builtin:scripted",
                "instructions": "Answer briefly.",
                "tools": [{"name": "calculator"}],
            },
        },
    )
    response.raise_for_status()
    agent_id: str = response.json()["id"]
    return agent_id


async def run(options: argparse.Namespace) -> int:
    """Start the servers, measure, profile, report. Returns the exit code."""
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    phases: dict[str, float] = {}
    steps_list: list[int] = sorted(set(options.steps))
    concurrencies: list[int] = sorted(set(options.concurrency))
    runs_serial: int = options.runs_serial
    runs_concurrent: int = options.runs_concurrent

    def runs_for(concurrency: int) -> int:
        return runs_serial if concurrency == 1 else runs_concurrent

    if options.steps_hook:
        install_scripted_steps_hook()
    with contextlib.ExitStack() as stack:
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ar-bench-")))
        log("Starting the Temporal dev server...")
        temporal = stack.enter_context(temporal_dev_server())
        log(f"  Temporal at {temporal.address}")
        log("Creating and migrating the database...")
        bench_db = stack.enter_context(
            benchmark_database(options.postgres_url, force_embedded=options.embedded_postgres)
        )
        log(f"  {bench_db.url} (Postgres {bench_db.postgres_version}, {bench_db.source})")
        redis = stack.enter_context(benchmark_redis(options.redis_url))
        log(f"  Redis for live events: {redis.url or '(none)'} ({redis.source})")
        suffix = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "database_url": bench_db.url,
            "temporal_address": temporal.address,
            "temporal_task_queue": f"bench-ours-{suffix}",
            "temporal_ui_url": temporal.ui_url,
        }
        if "redis_url" in Settings.model_fields:
            values["redis_url"] = redis.url
        settings = Settings.model_validate(values)
        log("Starting the API (subprocess)...")
        api_url, api_pid = stack.enter_context(api_server(settings, log_dir))
        log(f"  API at {api_url}")
        queues = Queues(
            raw=f"bench-raw-{suffix}",
            bare=f"bench-bare-{suffix}",
            bare_variants={
                variant: f"bench-bare-{variant}-{suffix}".replace("_", "-")
                for variant in BARE_VARIANTS
                if variant != "sandboxed"
            },
            ours_fixed=f"bench-ours-fixed-converter-{suffix}",
        )
        api_fixed_url, _ = stack.enter_context(
            api_server(
                settings.model_copy(update={"temporal_task_queue": queues.ours_fixed}), log_dir, "api-fixed"
            )
        )
        timer = ActivityTimer()
        connect = functools.partial(
            Client.connect, temporal.address, namespace=settings.temporal_namespace, interceptors=[timer]
        )
        clients = Clients(
            ours=await connect(data_converter=pydantic_data_converter),
            pydantic_ai=await connect(plugins=[PydanticAIPlugin()]),
            ours_fixed=await connect(
                data_converter=DataConverter(payload_converter_class=PydanticAIPayloadConverter)
            ),
        )
        database = Database(settings.database_url, pool_size=settings.database_pool_size)
        # Below uvicorn's 5 s keep-alive timeout: reusing a connection the server is closing fails.
        limits = httpx.Limits(
            max_connections=max(concurrencies) * 2,
            max_keepalive_connections=max(concurrencies) * 2,
            keepalive_expiry=2.0,
        )
        temporal_pid = temporal.pid
        cpu = CpuMeter(
            {
                "benchmark process (load + workers)": lambda: [os.getpid()],
                "API": lambda: [api_pid],
                "Temporal server": lambda: [temporal_pid] if temporal_pid else [],
                "Postgres (our backends)": lambda: processes_mentioning(bench_db.name),
            }
        )
        try:
            auth = await bench_auth_headers(settings.database_url)
            async with (
                httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60, headers=auth) as http,
                httpx.AsyncClient(
                    base_url=api_fixed_url,
                    limits=httpx.Limits(keepalive_expiry=2.0),
                    timeout=60,
                    headers=auth,
                ) as http_fixed,
                workers(clients, settings, database, queues),
            ):
                bench = Bench(
                    client=clients.ours,
                    bare_client=clients.pydantic_ai,
                    http=http,
                    http_fixed=http_fixed,
                    raw_queue=queues.raw,
                    bare_queue=queues.bare,
                    bare_variant_queues=queues.bare_variants,
                    agent_id=await create_agent(http),
                    timer=timer,
                    cpu=cpu,
                    steps_hook=options.steps_hook,
                    scenarios=tuple(options.scenarios),
                )
                log("Warming up...")
                phase = time.perf_counter()
                await warm_up(bench, steps_list, burst=max(concurrencies), sequential=options.warmup)
                phases["warmup_s"] = round(time.perf_counter() - phase, 1)
                log("Measuring...")
                phase = time.perf_counter()
                cells = await measure(bench, steps_list, concurrencies, runs_for)
                phases["measure_s"] = round(time.perf_counter() - phase, 1)
                profile = None
                if options.profile and set(options.scenarios) != set(SCENARIOS):
                    log("Skipping the profile: it needs all three scenarios.")
                elif options.profile:
                    ours_steps = [s for s in steps_list if bench.supports("c", s)]
                    profile = await run_profile(
                        bench, database, settings, cells, options.profile_runs, max(ours_steps)
                    )
        finally:
            await database.dispose()
        machine = describe_machine(bench_db.postgres_version, bench_db.source, redis)
    report = Report(
        machine=machine,
        config={
            "command": "uv run python bench/overhead.py " + " ".join(sys.argv[1:]),
            "steps": steps_list,
            "concurrency": concurrencies,
            "runs_per_concurrency": {str(c): runs_for(c) for c in concurrencies},
            "warmup": f"{options.warmup} sequential + one burst of {max(concurrencies)} per scenario and K",
            "profile_runs": options.profile_runs if options.profile else 0,
            "steps_hook": options.steps_hook,
            "dynamic_config": DYNAMIC_CONFIG,
            "load_average_at_start": load_at_start,
            "phase_durations_s": phases,
            "workers": "all in the benchmark process; the API is a subprocess",
        },
        cells=cells,
        profile=profile,
    )
    report.elapsed_s = time.perf_counter() - started
    print()
    report.print_tables()
    if options.write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if options.quick else "")
        json_path = RESULTS_DIR / f"overhead-{stamp}.json"
        json_path.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        md_path = RESULTS_DIR / f"overhead-{stamp}.md"
        md_path.write_text(report.markdown())
        log(f"\nWrote {json_path.relative_to(REPO_ROOT)} and {md_path.relative_to(REPO_ROOT)}")
    log(f"Done in {report.elapsed_s:.0f} s.")
    return 1 if any(cell.errors for cell in cells) else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="uv run python bench/overhead.py",
        description=(
            "Measure Agent Runtime's overhead against raw Temporal (a) and a bare pydantic-ai "
            "durable agent (b): end-to-end latency of K-step runs at several concurrencies, "
            "per-step overhead, target verdicts and a profile. Starts its own Temporal dev server, "
            "database and API; writes bench/results/overhead-<time>.json and .md."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke test, not a measurement")
    parser.add_argument("--steps", type=int, nargs="+", default=None, help="K values (default: 1 2 10)")
    parser.add_argument(
        "--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="scenarios to run"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16], help="concurrency levels")
    parser.add_argument(
        "--runs-serial", type=int, default=None, help="runs per cell at concurrency 1 (default 30; quick 8)"
    )
    parser.add_argument(
        "--runs-concurrent",
        type=int,
        default=None,
        help="runs per cell at higher concurrency (default 64; quick 32)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="sequential warm-up runs per scenario and K (default 3; quick 1)",
    )
    parser.add_argument(
        "--profile-runs", type=int, default=None, help="runs per profile measurement (default 20; quick 5)"
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the profile")
    parser.add_argument(
        "--no-steps-hook",
        dest="steps_hook",
        action="store_false",
        help="measure (c) only at K <= 2 (what builtin:scripted supports without the in-process hook)",
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="Postgres server to create the database on"
    )
    parser.add_argument("--embedded-postgres", action="store_true", help="always use an embedded Postgres")
    parser.add_argument(
        "--redis-url",
        default="auto",
        help="Redis for live events: auto (127.0.0.1:6379 db 14, else embedded Valkey), '' (none), a URL",
    )
    parser.add_argument("--no-write", dest="write", action="store_false", help="do not write bench/results/")
    options = parser.parse_args(argv)
    quick: bool = options.quick
    options.steps = options.steps or [1, 2, 10]
    options.runs_serial = options.runs_serial or (8 if quick else 30)
    options.runs_concurrent = options.runs_concurrent or (32 if quick else 64)
    options.warmup = options.warmup if options.warmup is not None else (1 if quick else 3)
    options.profile_runs = options.profile_runs or (5 if quick else 20)
    if 1 not in options.steps or any(steps < 1 for steps in options.steps):
        parser.error("--steps must include 1 (per-step overhead is measured against K=1) and be >= 1")
    return options


def main() -> None:
    """Entry point."""
    options = parse_args()
    # SIGTERM (e.g. from `timeout`) cleans up like Ctrl-C: servers stopped, database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
