"""The task-queue backlog, published where an autoscaler can read it.

Workers scale on work waiting, not on CPU: an agent run spends most of its time waiting for a
model, so a worker at 5 % CPU may already hold all the activities it can run. Temporal knows how
many tasks wait in a task queue and for how long; each worker asks it every
``worker_backlog_metrics_interval_s`` and publishes the answer as the Prometheus gauges
``agent_runtime_temporal_task_queue_backlog`` and ``..._backlog_age_seconds`` (labels
``task_queue``, ``type``). On AWS, the ADOT collector beside the worker sends them to CloudWatch,
where the worker service's target-tracking policy reads them (``infra/aws``).

Every worker reports the same queue-wide figure: read them with ``max``, not ``sum``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from agent_runtime_core.metrics import set_task_queue_backlog

logger = logging.getLogger(__name__)

TASK_QUEUE_TYPES = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


@dataclass(frozen=True, slots=True)
class Backlog:
    """Tasks waiting in one task queue type, and the age of the oldest (seconds)."""

    count: int
    age_seconds: float


async def read_backlog(client: Client, task_queue: str) -> dict[str, Backlog]:
    """The backlog of ``task_queue`` per type (``workflow``, ``activity``), as Temporal reports it."""
    backlogs: dict[str, Backlog] = {}
    for name, task_queue_type in TASK_QUEUE_TYPES.items():
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=task_queue_type,
                report_stats=True,
            ),
            retry=True,  # the client's retry policy: a busy server's transient errors pass
            timeout=timedelta(seconds=10),
        )
        stats = response.stats
        backlogs[name] = Backlog(
            count=stats.approximate_backlog_count,
            age_seconds=stats.approximate_backlog_age.ToTimedelta().total_seconds(),
        )
    return backlogs


async def report_backlog(client: Client, task_queue: str, interval_s: float) -> None:
    """Publish the backlog of ``task_queue`` every ``interval_s`` until cancelled. A failed read
    keeps the last figures (logged); the next interval tries again."""
    while True:
        try:
            for name, backlog in (await read_backlog(client, task_queue)).items():
                set_task_queue_backlog(task_queue, name, backlog.count, backlog.age_seconds)
        except RPCError as error:
            logger.warning("could not read the backlog of task queue %r: %s", task_queue, error)
        await asyncio.sleep(interval_s)
