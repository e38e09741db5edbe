"""The worker publishes its task queue's backlog (what the autoscaler follows on AWS)."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
import uuid

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.settings import Settings
from agent_runtime_worker.backlog import Backlog, read_backlog, report_backlog


async def _start_unserved_workflows(client: Client, task_queue: str, count: int) -> None:
    """Workflows nobody polls for: their first workflow tasks wait in the backlog."""
    for _ in range(count):
        await client.start_workflow("NobodyServesThis", id=f"backlog-{uuid.uuid4()}", task_queue=task_queue)


async def _eventually_backlog(client: Client, task_queue: str, expected: int) -> dict[str, Backlog]:
    backlog: dict[str, Backlog] = {}
    for _ in range(150):  # Temporal's figures are approximate and refreshed asynchronously
        try:
            backlog = await read_backlog(client, task_queue)
        except RPCError:  # a loaded dev server may drop one call; the reporter logs and retries too
            await asyncio.sleep(0.2)
            continue
        if backlog["workflow"].count >= expected:
            return backlog
        await asyncio.sleep(0.2)
    return backlog


async def test_waiting_workflow_tasks_show_in_the_backlog(temporal_env: WorkflowEnvironment) -> None:
    client = temporal_env.client
    task_queue = f"backlog-{uuid.uuid4()}"
    assert await read_backlog(client, task_queue) == {
        "workflow": Backlog(count=0, age_seconds=0.0),
        "activity": Backlog(count=0, age_seconds=0.0),
    }
    await _start_unserved_workflows(client, task_queue, 3)
    backlog = await _eventually_backlog(client, task_queue, 3)
    assert backlog["workflow"].count == 3
    assert backlog["workflow"].age_seconds > 0
    assert backlog["activity"].count == 0

    reporter = asyncio.create_task(report_backlog(client, task_queue, interval_s=60))
    try:
        value: float | None = None
        for _ in range(100):
            value = REGISTRY.get_sample_value(
                "agent_runtime_temporal_task_queue_backlog", {"task_queue": task_queue, "type": "workflow"}
            )
            if value is not None:
                break
            await asyncio.sleep(0.05)
        assert value == 3
        age = REGISTRY.get_sample_value(
            "agent_runtime_temporal_task_queue_backlog_age_seconds",
            {"task_queue": task_queue, "type": "workflow"},
        )
        assert age is not None and age > 0
    finally:
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter


def _scrape(port: int) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.labels.get("task_queue", ""), sample.labels.get("type", "")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "agent_runtime_temporal_task_queue_backlog"
        for sample in family.samples
    }


async def test_a_running_worker_serves_its_backlog_on_its_metrics_port(
    temporal_env: WorkflowEnvironment, worker_settings: Settings
) -> None:
    """``agent-runtime worker`` with a metrics port publishes the backlog of the queue it polls
    (zeros here: it serves everything that arrives; the test above shows non-zero figures)."""
    from agent_runtime_worker.main import run_worker

    port = find_free_port()
    settings = worker_settings.model_copy(
        update={
            "redis_url": None,
            "worker_metrics_port": port,
            "worker_metrics_host": "127.0.0.1",
            "worker_backlog_metrics_interval_s": 0.2,
            "retention_schedule_enabled": False,
            "reconcile_schedule_enabled": False,
        }
    )
    worker = asyncio.create_task(run_worker(settings))
    try:
        samples: dict[tuple[str, str], float] = {}
        for _ in range(150):
            with contextlib.suppress(OSError):
                samples = await asyncio.to_thread(_scrape, port)
            if (settings.temporal_task_queue, "activity") in samples:
                break
            await asyncio.sleep(0.2)
        assert samples.get((settings.temporal_task_queue, "workflow")) == 0
        assert samples.get((settings.temporal_task_queue, "activity")) == 0
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
