"""The retention cleanup on real servers (Postgres, Temporal, S3): it deletes exactly what
expired under each tenant's periods (rows and objects), nothing else, never the audit log, and a
second cleanup deletes nothing more. The daily schedule exists once the worker has started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from temporalio.client import (
    Client,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleRange,
    WorkflowHistory,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from agent_runtime_core.db import Database, session_scope, system_session_scope
from agent_runtime_core.ids import new_run_id
from agent_runtime_core.models import (
    Artifact,
    ArtifactStatus,
    AuditLogEntry,
    HumanRequest,
    HumanRequestKind,
    HumanRequestStatus,
    Thread,
    ThreadMessage,
)
from agent_runtime_core.repositories import TenantRetentionRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage, tenant_object_key
from agent_runtime_core.temporal.retention import RetentionInput, RetentionResult
from agent_runtime_worker.activities.retention import RetentionActivities
from agent_runtime_worker.main import retention_activities
from agent_runtime_worker.schedules import ensure_reconcile_schedule, ensure_retention_schedule
from agent_runtime_worker.workflows.retention import RetentionWorkflow

from .support import HISTORIES, new_run

RETENTION_HISTORIES = HISTORIES / "retention"
"""Saved cleanup histories (a folder of their own: ``test_replay.py`` replays the runs' ones)."""
NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=2)


@pytest.fixture
async def storage(s3_settings: dict[str, object]) -> AsyncGenerator[ObjectStorage]:
    store = ObjectStorage(Settings.model_validate(s3_settings))
    yield store
    await store.aclose()


@dataclass
class Made:
    """What a tenant was given, by what should happen to it."""

    expired_runs: list[str] = field(default_factory=list[str])
    kept_runs: list[str] = field(default_factory=list[str])
    expired_threads: list[str] = field(default_factory=list[str])
    kept_threads: list[str] = field(default_factory=list[str])
    expired_artifacts: list[str] = field(default_factory=list[str])
    kept_artifacts: list[str] = field(default_factory=list[str])
    keys: dict[str, str] = field(default_factory=dict[str, str])


async def finished_run(
    database: Database, tenant_id: str, finished_at: datetime, *, status: str = "succeeded"
) -> str:
    """A run with its ``run.queued`` event and an approval, moved to ``status`` at ``finished_at``."""
    run_id = await new_run(database, tenant_id)
    async with session_scope(database, tenant_id) as session:
        session.add(
            HumanRequest(
                id=new_run_id(),
                tenant_id=tenant_id,
                run_id=run_id,
                kind=HumanRequestKind.APPROVAL,
                status=HumanRequestStatus.APPROVED,
                tool_call_id="call-1",
                tool="send_email",
                expires_at=finished_at,
            )
        )
    async with system_session_scope(database) as session:
        await session.execute(
            text("UPDATE runs SET status = :status, finished_at = :at, created_at = :created WHERE id = :id"),
            {
                "status": status,
                "at": finished_at if status != "running" else None,
                "created": finished_at,
                "id": run_id,
            },
        )
    return run_id


async def thread(
    database: Database, tenant_id: str, updated_at: datetime, *, active_run: str | None = None
) -> str:
    thread_id = f"thr_{uuid.uuid4().hex[:20]}"
    async with session_scope(database, tenant_id) as session:
        session.add(
            Thread(
                id=thread_id,
                tenant_id=tenant_id,
                active_run_id=active_run,
                created_at=updated_at,
                updated_at=updated_at,
            )
        )
        await session.flush()
        session.add(
            ThreadMessage(thread_id=thread_id, seq=1, tenant_id=tenant_id, run_id="run_x", messages=[])
        )
    return thread_id


async def artifact(
    database: Database,
    storage: ObjectStorage,
    tenant_id: str,
    created_at: datetime,
    *,
    pending_until: datetime | None = None,
    size: int = 5,
) -> tuple[str, str]:
    artifact_id = f"art_{uuid.uuid4().hex[:20]}"
    key = tenant_object_key(tenant_id, "artifacts", artifact_id)
    upload = await storage.upload(key, content_type="text/plain", max_bytes=100)
    await upload.write(b"hello")
    await upload.finish()
    async with session_scope(database, tenant_id) as session:
        session.add(
            Artifact(
                id=artifact_id,
                tenant_id=tenant_id,
                name="a.txt",
                content_type="text/plain",
                size=size,
                status=ArtifactStatus.PENDING if pending_until else ArtifactStatus.READY,
                created_by="test",
                object_key=key,
                upload_expires_at=pending_until,
                created_at=created_at,
                updated_at=created_at,
            )
        )
    return artifact_id, key


async def populate(database: Database, storage: ObjectStorage, tenant_id: str, *, runs_expire: bool) -> Made:
    """Old and recent runs, threads and artifacts of ``tenant_id``."""
    made = Made()
    old_run = await finished_run(database, tenant_id, OLD)
    (made.expired_runs if runs_expire else made.kept_runs).append(old_run)
    made.kept_runs.append(await finished_run(database, tenant_id, RECENT))
    # Old but never finished: never expires.
    made.kept_runs.append(await finished_run(database, tenant_id, OLD, status="running"))

    idle_old = await thread(database, tenant_id, OLD)
    made.expired_threads.append(idle_old)
    # An old thread a run still has the turn of stays.
    made.kept_threads.append(await thread(database, tenant_id, OLD, active_run=made.kept_runs[-1]))
    made.kept_threads.append(await thread(database, tenant_id, RECENT))
    # A kept run of the expired thread loses its link, not its row.
    async with system_session_scope(database) as session:
        await session.execute(
            text("UPDATE runs SET thread_id = :thread WHERE id = :id"),
            {"thread": idle_old, "id": made.kept_runs[0]},
        )

    for created, pending, size, expires in (
        (OLD, None, 5, True),
        (RECENT, None, 5, False),
        (RECENT, NOW - timedelta(days=1, hours=1), 5, True),  # an upload abandoned over a day ago
        (NOW, NOW + timedelta(hours=1), 5, False),  # an upload under way
        # The platform's own write (through the API, or a run's file) whose process died after
        # the bytes and before the row turned ready (its row says size 0), over a day ago.
        (RECENT, NOW - timedelta(days=1, hours=1), 0, True),
    ):
        artifact_id, key = await artifact(
            database, storage, tenant_id, created, pending_until=pending, size=size
        )
        (made.expired_artifacts if expires else made.kept_artifacts).append(artifact_id)
        made.keys[artifact_id] = key

    async with session_scope(database, tenant_id) as session:
        session.add(
            AuditLogEntry(
                id=f"aud_{uuid.uuid4().hex[:20]}",
                tenant_id=tenant_id,
                at=OLD - timedelta(days=1000),
                actor="test",
                auth_method="api_key",
                action="runs.create",
                resource_type="run",
                method="POST",
                path="/v1/runs",
                status_code=201,
                outcome="success",
            )
        )
    return made


async def ids(database: Database, tenant_id: str, table: str) -> set[str]:
    async with system_session_scope(database) as session:
        rows = await session.execute(text(f"SELECT id FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})
        return {str(row[0]) for row in rows}


async def count(database: Database, sql: str, **params: object) -> int:
    async with system_session_scope(database) as session:
        return int((await session.execute(text(sql), params)).scalar_one())


async def run_cleanup(client: Client, task_queue: str, *, record: str | None = None) -> RetentionResult:
    """One cleanup, as the schedule starts it; ``record``: save its history under that name
    (with ``AGENT_RUNTIME_RECORD_HISTORIES`` set) for the replay test."""
    handle = await client.start_workflow(
        RetentionWorkflow.run,
        RetentionInput(),
        id=f"retention-test-{uuid.uuid4()}",
        task_queue=task_queue,
        execution_timeout=timedelta(minutes=2),
    )
    result = await handle.result()
    if record and os.environ.get("AGENT_RUNTIME_RECORD_HISTORIES"):
        history = await handle.fetch_history()
        await asyncio.to_thread((RETENTION_HISTORIES / f"{record}.json").write_text, history.to_json())
    return result


async def test_cleanup_deletes_exactly_what_expired_per_tenant_and_is_idempotent(
    temporal_env: WorkflowEnvironment,
    database: Database,
    storage: ObjectStorage,
    s3_settings: dict[str, object],
    tenant_id: str,
    other_tenant_id: str,
    task_queue: str,
) -> None:
    # Deployment defaults: threads 30 days, runs and artifacts forever.
    settings = Settings.model_validate(
        {**s3_settings, "retention_threads_days": 30, "retention_batch_size": 2}
    )
    async with system_session_scope(database) as session:
        # tenant: runs and artifacts 30 days; the other: runs a year (its old run stays), artifacts 30.
        await TenantRetentionRepository(session, tenant_id).put(
            {"runs_days": 30, "threads_days": None, "artifacts_days": 30}, updated_by="test"
        )
        await TenantRetentionRepository(session, other_tenant_id).put(
            {"runs_days": 365, "threads_days": None, "artifacts_days": 30}, updated_by="test"
        )
    mine = await populate(database, storage, tenant_id, runs_expire=True)
    theirs = await populate(database, storage, other_tenant_id, runs_expire=False)
    audit_before = await count(
        database, "SELECT count(*) FROM audit_log WHERE tenant_id IN (:a, :b)", a=tenant_id, b=other_tenant_id
    )

    activities = RetentionActivities(settings, database, storage)
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[RetentionWorkflow],
        activities=retention_activities(activities),
    ):
        first = await run_cleanup(temporal_env.client, task_queue, record="cleanup")
        for tenant, made in ((tenant_id, mine), (other_tenant_id, theirs)):
            assert await ids(database, tenant, "runs") >= set(made.kept_runs)
            assert not await ids(database, tenant, "runs") & set(made.expired_runs)
            assert await ids(database, tenant, "threads") >= set(made.kept_threads)
            assert not await ids(database, tenant, "threads") & set(made.expired_threads)
            assert await ids(database, tenant, "artifacts") >= set(made.kept_artifacts)
            assert not await ids(database, tenant, "artifacts") & set(made.expired_artifacts)
            for artifact_id in made.kept_artifacts:
                assert await storage.head(made.keys[artifact_id]) is not None
            for artifact_id in made.expired_artifacts:
                assert await storage.head(made.keys[artifact_id]) is None
            for run_id in made.expired_runs:
                assert (
                    await count(database, "SELECT count(*) FROM run_events WHERE run_id = :r", r=run_id) == 0
                )
                assert (
                    await count(database, "SELECT count(*) FROM human_requests WHERE run_id = :r", r=run_id)
                    == 0
                )
            for run_id in made.kept_runs:
                assert (
                    await count(database, "SELECT count(*) FROM run_events WHERE run_id = :r", r=run_id) >= 1
                )
            for thread_id in made.expired_threads:
                assert (
                    await count(
                        database, "SELECT count(*) FROM thread_messages WHERE thread_id = :t", t=thread_id
                    )
                    == 0
                )
            # The kept run of the expired thread is there, detached.
            assert (
                await count(
                    database,
                    "SELECT count(*) FROM runs WHERE id = :r AND thread_id IS NULL",
                    r=made.kept_runs[0],
                )
                == 1
            )
        assert (
            await count(
                database,
                "SELECT count(*) FROM audit_log WHERE tenant_id IN (:a, :b)",
                a=tenant_id,
                b=other_tenant_id,
            )
            == audit_before
        )
        assert first.failed == []
        assert first.deleted.get("runs", 0) >= 1
        assert first.deleted.get("threads", 0) >= 2
        assert first.deleted.get("artifacts", 0) >= 4

        snapshot = {
            (tenant, table): await ids(database, tenant, table)
            for tenant in (tenant_id, other_tenant_id)
            for table in ("runs", "threads", "artifacts")
        }
        await run_cleanup(temporal_env.client, task_queue)
        for (tenant, table), before in snapshot.items():
            assert await ids(database, tenant, table) == before


async def test_an_interrupted_artifact_batch_is_finished_by_the_next_call(
    database: Database, storage: ObjectStorage, s3_settings: dict[str, object], tenant_id: str
) -> None:
    """A crash after the marking (or after the objects went) leaves rows the next call deletes."""
    from agent_runtime_core.repositories import RetentionRepository
    from agent_runtime_core.temporal.retention import PurgeBatchInput

    artifact_id, key = await artifact(database, storage, tenant_id, OLD)
    cutoff = NOW - timedelta(days=30)
    async with session_scope(database, tenant_id) as session:
        marked = await RetentionRepository(session, tenant_id).mark_expired_artifacts(cutoff, NOW, limit=10)
    assert [item.artifact_id for item in marked] == [artifact_id]
    await storage.delete(key)  # ... and the worker died here, before deleting the row.

    activities = RetentionActivities(Settings.model_validate(s3_settings), database, storage)
    batch = PurgeBatchInput(
        tenant_id=tenant_id, kind="artifacts", cutoff=cutoff, pending_cutoff=NOW, limit=10
    )
    result = await ActivityEnvironment().run(activities.purge_expired, batch)
    assert (result.deleted, result.examined) == (1, 1)
    assert artifact_id not in await ids(database, tenant_id, "artifacts")
    assert (await ActivityEnvironment().run(activities.purge_expired, batch)).deleted == 0


async def describe_schedule(client: Client, schedule_id: str) -> ScheduleDescription | None:
    """The schedule, or None once it is deleted (``describe`` reads the schedule itself, unlike
    ``list_schedules``, which reads eventually consistent visibility records)."""
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def test_the_daily_schedule_exists_after_start_up_and_follows_the_settings(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = temporal_env.client
    # Its own schedule id: the Temporal server is shared with tests that start whole workers.
    settings = Settings(temporal_task_queue=task_queue, retention_schedule_id=f"retention-{task_queue}")
    try:
        await ensure_retention_schedule(client, settings)
        await ensure_retention_schedule(client, settings)  # a second worker: no error, same schedule
        described = await describe_schedule(client, settings.retention_schedule_id)
        assert described is not None
        (calendar,) = described.schedule.spec.calendars
        assert list(calendar.hour) == [ScheduleRange(3, 3)]
        assert list(calendar.minute) == [ScheduleRange(0, 0)]
        action = described.schedule.action
        assert getattr(action, "workflow", None) == "RetentionWorkflow"
        assert getattr(action, "task_queue", None) == task_queue

        await ensure_retention_schedule(
            client, settings.model_copy(update={"retention_schedule_hour_utc": 5})
        )
        described = await describe_schedule(client, settings.retention_schedule_id)
        assert described is not None
        assert list(described.schedule.spec.calendars[0].hour) == [ScheduleRange(5, 5)]

        await ensure_retention_schedule(
            client, settings.model_copy(update={"retention_schedule_enabled": False})
        )
        assert await describe_schedule(client, settings.retention_schedule_id) is None
    finally:
        await ensure_retention_schedule(
            client, settings.model_copy(update={"retention_schedule_enabled": False})
        )


async def test_saved_cleanup_history_replays() -> None:
    """A change to ``RetentionWorkflow`` that breaks determinism for cleanups in flight fails here
    (record again with ``AGENT_RUNTIME_RECORD_HISTORIES=1`` after an intended, patched change)."""
    path = RETENTION_HISTORIES / "cleanup.json"
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(workflows=[RetentionWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def test_the_worker_creates_its_schedules_when_it_starts(
    temporal_env: WorkflowEnvironment, worker_settings: Settings
) -> None:
    """``agent-runtime worker`` (``run_worker``) puts both its schedules in place at start-up: the
    daily retention cleanup and the run reconciliation (ids of this test's own: the Temporal
    server is shared)."""
    from agent_runtime_worker.main import run_worker

    client = temporal_env.client
    queue = worker_settings.temporal_task_queue
    settings = worker_settings.model_copy(
        update={
            "redis_url": None,
            "worker_metrics_port": None,
            "retention_schedule_id": f"retention-{queue}",
            "reconcile_schedule_id": f"reconcile-{queue}",
            "reconcile_interval_s": 120,
        }
    )
    worker = asyncio.create_task(run_worker(settings))
    try:
        retention: ScheduleDescription | None = None
        reconcile: ScheduleDescription | None = None
        for _ in range(150):
            retention = await describe_schedule(client, settings.retention_schedule_id)
            reconcile = await describe_schedule(client, settings.reconcile_schedule_id)
            if retention is not None and reconcile is not None:
                break
            await asyncio.sleep(0.2)
        assert retention is not None and reconcile is not None, "the worker did not create both schedules"
        assert [list(calendar.hour) for calendar in retention.schedule.spec.calendars] == [
            [ScheduleRange(3, 3)]
        ]
        assert reconcile.schedule.spec.intervals == [ScheduleIntervalSpec(every=timedelta(minutes=2))]
        for described in (retention, reconcile):
            assert getattr(described.schedule.action, "task_queue", None) == queue
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        disabled = {"retention_schedule_enabled": False, "reconcile_schedule_enabled": False}
        await ensure_retention_schedule(client, settings.model_copy(update=disabled))
        await ensure_reconcile_schedule(client, settings.model_copy(update=disabled))
