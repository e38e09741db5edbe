"""The raw-Temporal side of ``bench/crash_recovery.py``: a plain workflow with a short local
activity first (as our ``mark_run_started``, a local activity too), then a heartbeating HTTP call
(what a model request or a tool call is to us), then a second HTTP call.

Its shape mirrors ours because it decides whether Temporal makes the next workflow task wait out
the sticky queue timeout after the kill: the dead worker's sticky queue counts as alive while it
was polled within the last 10 s (a worker re-polls it after each sticky task, and every minute).

It is tuned like our worker: the activity's heartbeat timeout, retry policy and cancellation type
are those of our model and tool activities, it beats every heartbeat timeout / 2 like
pydantic-ai's ``heartbeating()``, and the worker's sticky queue timeout is our default.
``bench/crash_recovery.py`` checks these values against the product's before measuring.

The worker runs as its own process (so that it can be killed)::

    python -c "import crash_recovery_raw; crash_recovery_raw.main()" --address HOST:PORT --task-queue Q

(with ``bench/`` on ``PYTHONPATH``: the workflow must live in an importable module, not
``__main__``, for the workflow sandbox).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    import httpx

RAW_WORKFLOW: Final = "RawCrashWorkflow"
HEARTBEAT_TIMEOUT: Final = timedelta(seconds=2)
"""= ``agent_runtime_worker.agents.runtime_agent.HEARTBEAT_TIMEOUT``."""
RETRY_POLICY: Final = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
"""= ``agent_runtime_worker.agents.runtime_agent.MODEL_RETRY_POLICY``."""
STICKY_QUEUE_TIMEOUT: Final = timedelta(seconds=1)
"""= the default ``Settings.worker_sticky_queue_timeout_s``."""


@dataclass
class RawCrashInput:
    """URLs of the two steps: the slow one (killed) and the next one (progress)."""

    slow_url: str
    next_url: str


async def _get(url: str) -> str:
    async with httpx.AsyncClient(timeout=None) as client:
        response = await client.get(url)
        return response.text


@activity.defn(name="raw_prepare")
async def prepare(key: str) -> str:
    """A short step before the slow one (no I/O)."""
    return key


@activity.defn(name="raw_slow_step")
async def slow_step(url: str) -> str:
    """GET ``url`` while heartbeating every heartbeat timeout / 2 (as pydantic-ai does)."""

    async def beat() -> None:
        timeout = activity.info().heartbeat_timeout
        interval = timeout.total_seconds() / 2 if timeout else 5.0
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    beating = asyncio.create_task(beat())
    try:
        return await _get(url)
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


@activity.defn(name="raw_next_step")
async def next_step(url: str) -> str:
    """GET ``url`` (the server notes when the run progressed past the killed step)."""
    return await _get(url)


@workflow.defn(name=RAW_WORKFLOW)
class RawCrashWorkflow:
    """A short step, the slow step, then the next step."""

    @workflow.run
    async def run(self, run_input: RawCrashInput) -> str:
        """Execute the steps."""
        await workflow.execute_local_activity(
            prepare,
            run_input.slow_url,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RETRY_POLICY,
        )
        await workflow.execute_activity(
            slow_step,
            run_input.slow_url,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY_POLICY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        return await workflow.execute_activity(
            next_step,
            run_input.next_url,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY_POLICY,
        )


async def run_worker(address: str, task_queue: str) -> None:
    """Poll ``task_queue`` until SIGTERM/SIGINT."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[RawCrashWorkflow],
        activities=[prepare, slow_step, next_step],
        sticky_queue_schedule_to_start_timeout=STICKY_QUEUE_TIMEOUT,
    ):
        await stop.wait()


def main() -> None:
    """Entry point of the raw worker process."""
    parser = argparse.ArgumentParser(description="The raw-Temporal worker of bench/crash_recovery.py")
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    args = parser.parse_args()
    asyncio.run(run_worker(args.address, args.task_queue))
