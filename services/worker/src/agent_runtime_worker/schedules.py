"""Temporal Schedules the worker keeps in place: the daily retention cleanup.

Every worker calls :func:`ensure_retention_schedule` when it starts: the first creates the
schedule (its id, ``retention_schedule_id``, is fixed per deployment, so a second creation is
refused), the others update it to the
settings they run with, so a changed hour or task queue takes effect with the next deployment.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.retention import (
    RETENTION_WORKFLOW,
    RETENTION_WORKFLOW_ID,
    RetentionInput,
)

logger = logging.getLogger(__name__)


def retention_schedule(settings: Settings) -> Schedule:
    """The daily cleanup at ``retention_schedule_hour_utc``:00 UTC; a cleanup still running when
    the next is due makes that one skipped, not queued."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RETENTION_WORKFLOW,
            RetentionInput(),
            id=RETENTION_WORKFLOW_ID,
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(hours=23),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(settings.retention_schedule_hour_utc)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ],
            time_zone_name="UTC",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=12)),
    )


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create or update the retention schedule (or delete it when disabled); idempotent."""
    schedule_id = settings.retention_schedule_id
    handle = client.get_schedule_handle(schedule_id)
    if not settings.retention_schedule_enabled:
        try:
            await handle.delete()
            logger.info("deleted the retention schedule %r (disabled)", schedule_id)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    schedule = retention_schedule(settings)
    try:
        await client.create_schedule(schedule_id, schedule)
        logger.info("created the retention schedule %r", schedule_id)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        logger.info("updated the retention schedule %r", schedule_id)
