"""Temporal Schedules the worker keeps in place: the daily retention cleanup and the periodic
run reconciliation.

Every worker calls :func:`ensure_retention_schedule` and :func:`ensure_reconcile_schedule` when it
starts: the first creates each schedule (its id, ``retention_schedule_id`` or
``reconcile_schedule_id``, is fixed per deployment, so a second creation is refused), the others
update it to the
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
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.reconcile import (
    RECONCILE_WORKFLOW,
    RECONCILE_WORKFLOW_ID,
    ReconcileInput,
)
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


def reconcile_schedule(settings: Settings) -> Schedule:
    """The run reconciliation every ``reconcile_interval_s``; one still running when the next is
    due makes that one skipped, not queued."""
    interval = timedelta(seconds=settings.reconcile_interval_s)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILE_WORKFLOW,
            ReconcileInput(),
            id=RECONCILE_WORKFLOW_ID,
            task_queue=settings.temporal_task_queue,
            execution_timeout=max(interval * 6, timedelta(minutes=30)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=interval),
    )


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create or update the retention schedule (or delete it when disabled); idempotent."""
    await _ensure_schedule(
        client,
        settings.retention_schedule_id,
        retention_schedule(settings) if settings.retention_schedule_enabled else None,
        "retention",
    )


async def ensure_reconcile_schedule(client: Client, settings: Settings) -> None:
    """Create or update the run reconciliation schedule (or delete it when disabled); idempotent."""
    await _ensure_schedule(
        client,
        settings.reconcile_schedule_id,
        reconcile_schedule(settings) if settings.reconcile_schedule_enabled else None,
        "reconciliation",
    )


async def _ensure_schedule(client: Client, schedule_id: str, schedule: Schedule | None, what: str) -> None:
    """Create ``schedule`` under ``schedule_id`` or update it; ``None``: delete it."""
    handle = client.get_schedule_handle(schedule_id)
    if schedule is None:
        try:
            await handle.delete()
            logger.info("deleted the %s schedule %r (disabled)", what, schedule_id)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        return
    try:
        await client.create_schedule(schedule_id, schedule)
        logger.info("created the %s schedule %r", what, schedule_id)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        logger.info("updated the %s schedule %r", what, schedule_id)
