"""Build and run the worker: workflows, activities, the pydantic-ai plugin, tuning."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from genai_prices import Usage, calc_price
from opentelemetry.trace import TracerProvider
from pydantic_ai.durable_exec.temporal import PydanticAIPayloadConverter, PydanticAIPlugin
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from agent_runtime_core.catalog import (
    ARTIFACT_TOOL_NAMES,
    BUILTIN_TOOL_NAMES,
    MEMORY_TOOL_NAMES,
    RETIRED_TOOLS,
)
from agent_runtime_core.db import Database
from agent_runtime_core.metrics import start_metrics_server
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal import connect_temporal
from agent_runtime_core.temporal.data_converter import (
    check_converter_matches,
    close_data_converter,
    data_converter_from_settings,
)
from agent_runtime_core.temporal.security import temporal_security
from agent_runtime_core.tracing import tracer_provider_from_settings
from agent_runtime_worker.activities.human_requests import HumanRequestActivities
from agent_runtime_worker.activities.reconcile import ReconcileActivities
from agent_runtime_worker.activities.retention import RetentionActivities
from agent_runtime_worker.activities.runs import RunActivities
from agent_runtime_worker.agents.activities import AgentActivities
from agent_runtime_worker.agents.runtime_agent import (
    activity_side,
    artifacts_toolset,
    builtin_toolset,
    installed_tool_packages,
    memory_toolset,
)
from agent_runtime_worker.backlog import report_backlog
from agent_runtime_worker.contracts import (
    HumanRequestActivityContract,
    RunActivityContract,
    ThreadActivityContract,
)
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.observability import instrument_agent, worker_interceptors
from agent_runtime_worker.schedules import ensure_reconcile_schedule, ensure_retention_schedule
from agent_runtime_worker.tool_catalog import CatalogRegistration, describe, served_tools
from agent_runtime_worker.workflows.agent_run import AgentRunWorkflow
from agent_runtime_worker.workflows.reconcile import RunReconcileWorkflow
from agent_runtime_worker.workflows.retention import RetentionWorkflow

logger = logging.getLogger(__name__)


def warm_price_table() -> None:
    """Load genai-prices' table now (~0.2 s), not in the first model request."""
    calc_price(Usage(input_tokens=1, output_tokens=1), "gpt-4o-mini", provider_id="openai")


def check_catalog() -> None:
    """The worker must define exactly the tools of the catalog: those agent versions may enable,
    and the retired ones (kept so that histories of runs that called them replay)."""
    implemented = sorted(builtin_toolset.tools)
    expected = sorted({*BUILTIN_TOOL_NAMES, *RETIRED_TOOLS})
    if implemented != expected:
        raise RuntimeError(f"worker tools {implemented} differ from the catalog's {expected}")
    if sorted(memory_toolset.tools) != sorted(MEMORY_TOOL_NAMES):
        raise RuntimeError(
            f"worker memory tools {sorted(memory_toolset.tools)} differ from {MEMORY_TOOL_NAMES}"
        )
    if sorted(artifacts_toolset.tools) != sorted(ARTIFACT_TOOL_NAMES):
        raise RuntimeError(
            f"worker artifact tools {sorted(artifacts_toolset.tools)} differ from {ARTIFACT_TOOL_NAMES}"
        )
    # Installed tool packages that break the contract stop the worker here, each one named.
    installed_tool_packages.check()


def with_pydantic_ai_converter(client: Client) -> Client:
    """``client`` with pydantic-ai's payload converter (same JSON on the wire, memoized adapters).

    A worker plugin cannot replace the data converter of a client connected without it, and the
    plain pydantic converter rebuilds a ``TypeAdapter`` per workflow run inside the sandbox:
    measured 29% of worker CPU at one model request per run (bench/results/overhead-*.md).
    """
    converter = client.data_converter
    if issubclass(converter.payload_converter_class, PydanticAIPayloadConverter):
        return client
    config = client.config()
    faster = dataclasses.replace(converter, payload_converter_class=PydanticAIPayloadConverter)
    config["data_converter"] = faster
    return Client(**config)


class RuntimeWorker(Worker):
    """A Temporal ``Worker`` that closes the dependencies it opened, once it has shut down."""

    def __init__(
        self,
        client: Client,
        *,
        owned_dependencies: WorkerDependencies | None,
        catalog_registration: CatalogRegistration | None = None,
        **config: Any,
    ) -> None:
        """A worker of ``client`` (``config``: ``Worker``'s options); it closes
        ``owned_dependencies`` (``None``: its caller owns them) when it stops running, and keeps
        its tools in the catalog (``catalog_registration``) while it runs."""
        # The SDK's activities parameter is typed `Callable[..., Unknown]`.
        super().__init__(client, **config)  # pyright: ignore[reportUnknownMemberType]
        self._owned_dependencies = owned_dependencies
        self._catalog_registration = catalog_registration

    async def run(self) -> None:
        """Run until shut down, then close the owned dependencies (Redis clients).

        The catalog registration runs beside the worker (it retries on its own and never stops
        the worker) and ends with it.
        """
        registering = (
            asyncio.create_task(self._catalog_registration.run(), name="tool-catalog-registration")
            if self._catalog_registration is not None
            else None
        )
        try:
            await super().run()
        finally:
            if registering is not None:
                registering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await registering
            if self._owned_dependencies is not None:
                await self._owned_dependencies.aclose()


def bookkeeping_activities(
    runs: RunActivityContract,
    humans: HumanRequestActivityContract,
    threads: ThreadActivityContract | None = None,
) -> list[Callable[..., Any]]:
    """The worker's own activities (the agent's come from pydantic-ai's plugin); ``threads``
    defaults to ``runs`` when it implements them too (``RunActivities`` does)."""
    if threads is None and isinstance(runs, ThreadActivityContract):
        threads = runs
    thread_activities: list[Callable[..., Any]] = (
        [threads.acquire_thread_turn, threads.finish_thread_run, threads.summarize_thread]
        if threads is not None
        else []
    )
    return [
        runs.mark_run_started,
        runs.finish_run,
        runs.record_budget_wait,
        humans.open_human_requests,
        humans.resolve_human_request,
        humans.close_human_wait,
        *thread_activities,
    ]


def retention_activities(retention: RetentionActivities) -> list[Callable[..., Any]]:
    """The retention cleanup's activities."""
    return [retention.plan_retention, retention.purge_expired]


def reconcile_activities(reconcile: ReconcileActivities) -> list[Callable[..., Any]]:
    """The run reconciliation's activities."""
    return [reconcile.find_closed_runs, reconcile.finish_closed_run]


def build_worker(
    client: Client,
    settings: Settings,
    database: Database,
    *,
    task_queue: str | None = None,
    tracer_provider: TracerProvider | None = None,
    dependencies: WorkerDependencies | None = None,
) -> Worker:
    """A worker for ``task_queue`` (default: the settings') executing agent runs.

    The activity half gets its dependencies from one :class:`WorkerDependencies` (opened here
    from ``settings`` and ``database`` unless given): the worker's activity classes take it in
    ``__init__``, and the agent's activities reach it through ``AgentActivities``, bound to the
    agent definition's ``activity_side``. Dependencies opened here are closed when the worker
    stops; given ones are their caller's to close (``run_worker`` does).

    With ``tracer_provider``, runs, model requests and tool calls are traced (pydantic-ai's
    instrumentation) and the trace context travels through Temporal headers; without, nothing
    is instrumented.
    """
    check_catalog()
    for problem in check_converter_matches(client.data_converter, settings):
        logger.warning("%s", problem)
    client = with_pydantic_ai_converter(client)
    warm_price_table()
    owned: WorkerDependencies | None = None
    if dependencies is None:
        dependencies = owned = WorkerDependencies.open(settings, database)
    # The agent is defined at import (pydantic-ai makes its activities then); its activities
    # do their I/O with this worker's dependencies from now on.
    activity_side.bind(AgentActivities(dependencies))
    instrument_agent(tracer_provider, include_content=settings.tracing_include_content)
    tools = served_tools(
        builtin_toolset, installed_tool_packages, memory=memory_toolset, artifacts=artifacts_toolset
    )
    logger.info("worker serves tools: %s", describe(tools))
    return RuntimeWorker(
        client,
        owned_dependencies=owned,
        catalog_registration=CatalogRegistration(database, tools, worker=client.identity),
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[AgentRunWorkflow, RetentionWorkflow, RunReconcileWorkflow],
        activities=[
            *bookkeeping_activities(RunActivities(dependencies), HumanRequestActivities(dependencies)),
            *retention_activities(RetentionActivities(settings, database, dependencies.storage)),
            *reconcile_activities(ReconcileActivities(settings, database, dependencies.events, client)),
        ],
        # Redis clients belong to the activity half, but a connection pool collected while a
        # workflow activation runs imports redis' metrics recorder (and OpenTelemetry) from its
        # `__del__` inside the sandbox: passed through, that is the host's module, loaded once.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("redis", "opentelemetry")
        ),
        plugins=[PydanticAIPlugin()],
        interceptors=worker_interceptors(tracer_provider),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        # Measured: ~1 s (default 10 s) plus heartbeats cut crash recovery from ~13 s to ~4 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_queue_timeout_s),
        # On shutdown: no more polling at once; running activities get this long to finish, then
        # they are cancelled and reported, so Temporal retries them on another worker right away
        # (the heartbeat timeout catches any that could not be reported).
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_s),
        # Without it the SDK hashes every loaded module at start-up (~4 s on a cold machine);
        # we do not use worker versioning, so the package version identifies the build.
        build_id=f"agent-runtime-worker-{version('agent-runtime-worker')}",
    )


HEALTH_BEAT_S = 5.0
"""How often a running worker touches ``settings.worker_health_file``."""


async def beat_health_file(worker: Worker, path: Path) -> None:
    """Touch ``path`` every :data:`HEALTH_BEAT_S` while ``worker`` runs (a fresh file says: the
    event loop turns and the worker has not stopped); remove it when cancelled."""
    try:
        while True:
            if not worker.is_shutdown:
                try:
                    await asyncio.to_thread(path.touch)
                except OSError:
                    logger.warning("cannot touch the health file %s", path, exc_info=True)
            await asyncio.sleep(HEALTH_BEAT_S)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def run_worker(settings: Settings) -> None:
    """Connect, run until SIGINT/SIGTERM, then shut down gracefully and return (exit code 0).

    On the first signal the worker stops polling at once; running activities get
    ``settings.worker_graceful_shutdown_s`` to finish, then they are cancelled (Temporal retries
    them on another worker). Then the dependencies are closed and queued spans exported. Further
    signals are logged and change nothing: the shutdown is bounded already.
    """
    # First, so that a signal while connecting is not lost (PID 1 in a container ignores signals
    # it has no handler for) and shuts the worker down as soon as it has started.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("%s again: the worker is already shutting down", signum.name)
            return
        logger.info(
            "%s: stop polling; running activities get %.0f s to finish before they are cancelled",
            signum.name,
            settings.worker_graceful_shutdown_s,
        )
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    # No pre-ping: a dropped connection fails one activity attempt, which Temporal retries.
    database = Database(settings.database_url, pool_size=settings.database_pool_size, pre_ping=False)
    # The API's converter too (encryption, offloaded payloads): each side reads what the other wrote.
    data_converter = data_converter_from_settings(settings)
    client = await connect_temporal(
        settings.temporal_address,
        settings.temporal_namespace,
        security=temporal_security(settings),
        data_converter=data_converter,
    )
    tracer_provider = tracer_provider_from_settings(settings, "agent-runtime-worker")
    if settings.worker_metrics_port:
        start_metrics_server(settings.worker_metrics_host, settings.worker_metrics_port)
    dependencies = WorkerDependencies.open(settings, database)
    try:
        await ensure_retention_schedule(client, settings)
    except RPCError:
        # Runs matter more than tomorrow's cleanup: the next worker to start tries again.
        logger.exception("could not create or update the retention schedule")
    try:
        await ensure_reconcile_schedule(client, settings)
    except RPCError:
        logger.exception("could not create or update the run reconciliation schedule")
    worker = build_worker(
        client, settings, database, tracer_provider=tracer_provider, dependencies=dependencies
    )
    logger.info("worker polling task queue %r on %s", settings.temporal_task_queue, settings.temporal_address)
    backlog: asyncio.Task[None] | None = None
    if settings.worker_metrics_port and settings.worker_backlog_metrics_interval_s:
        backlog = asyncio.create_task(
            report_backlog(client, settings.temporal_task_queue, settings.worker_backlog_metrics_interval_s)
        )
    try:
        async with worker:
            health = (
                asyncio.create_task(beat_health_file(worker, Path(settings.worker_health_file)))
                if settings.worker_health_file
                else None
            )
            try:
                await stop.wait()
            finally:
                if backlog is not None:
                    backlog.cancel()
                if health is not None:  # unhealthy from now on: the worker is going away
                    health.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await health
            logger.info("shutting down worker")
        # Leaving the block shut the worker down: polling stopped, running activities finished
        # or were cancelled after the grace period, and their outcomes were reported.
        logger.info("worker stopped")
    finally:
        await dependencies.aclose()  # publish what is queued before exiting
        await database.dispose()
        await close_data_converter(data_converter)
        if tracer_provider is not None:
            tracer_provider.shutdown()  # exports the spans still queued
