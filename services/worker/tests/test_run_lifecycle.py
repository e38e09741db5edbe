"""Property: whatever order and however often the lifecycle activities run (retries, races),
a run only moves along the lifecycle, never leaves a terminal status, and its events stay
gap-free with exactly one terminal event."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.testing import ActivityEnvironment

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.lifecycle import TERMINAL_STATUSES, EventSpec, can_transition
from agent_runtime_core.models import RunStatus
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.settings import Settings
from agent_runtime_worker.activities.runs import RunActivities
from agent_runtime_worker.contracts import FinishRunInput, RunRef

from .support import new_run, worker_dependencies

actions = st.lists(
    st.one_of(
        st.just(("start", None)),
        st.tuples(st.just("finish"), st.sampled_from(sorted(s.value for s in TERMINAL_STATUSES))),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=actions)
async def test_lifecycle_activities_keep_the_run_consistent(
    database: Database, tenant_id: str, steps: list[tuple[str, str | None]]
) -> None:
    run_id = await new_run(database, tenant_id)
    activities = RunActivities(worker_dependencies(database))
    env = ActivityEnvironment()
    ref = RunRef(run_id=run_id, tenant_id=tenant_id)
    status = RunStatus.QUEUED
    for action, target in steps:
        if action == "start":
            proceed = await env.run(activities.mark_run_started, ref)
            assert proceed == (not status.is_terminal)
        else:
            assert target is not None
            result = await env.run(
                activities.finish_run, FinishRunInput(run_id=run_id, tenant_id=tenant_id, status=target)
            )
            if not status.is_terminal:
                assert result == target
        async with session_scope(database, tenant_id) as session:
            run = await RunRepository(session, tenant_id).get(run_id)
            events = await RunEventRepository(session, tenant_id).list(run_id, limit=100)
        assert run is not None
        assert run.status == status or can_transition(status, run.status), (status, run.status)
        if status.is_terminal:
            assert run.status == status  # nothing leaves a terminal status
        status = run.status
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        terminal_events = [e for e in events if e.type in {f"run.{s.value}" for s in TERMINAL_STATUSES}]
        assert len(terminal_events) == (1 if status.is_terminal else 0)
        assert [e.type for e in events].count("run.started") <= 1
        if status.is_terminal:
            assert run.finished_at is not None
            assert terminal_events[0].type == f"run.{status.value}"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(st.integers(min_value=0, max_value=12), min_size=0, max_size=5), min_size=1, max_size=12
    )
)
async def test_concurrent_event_writers_keep_events_gap_free_and_each_key_once(
    database: Database, worker_settings: Settings, tenant_id: str, batches: list[list[int]]
) -> None:
    """Many activities appending to one run at once, with overlapping and repeated dedupe keys
    (retries): every key is written once, ``seq`` is 1..n without gaps, in each batch's order."""
    events = worker_dependencies(database, worker_settings).events
    run_id = await new_run(database, tenant_id)
    specs = [[EventSpec("test.event", {"key": key}, f"k{key}") for key in batch] for batch in batches]
    written = await asyncio.gather(*(events.record_many(tenant_id, run_id, batch) for batch in specs))
    async with session_scope(database, tenant_id) as session:
        run = await RunRepository(session, tenant_id).get(run_id)
        events = await RunEventRepository(session, tenant_id).list(run_id, limit=1000)
    assert run is not None
    assert (
        [e.seq for e in events] == list(range(1, len(events) + 1)) == list(range(1, run.last_event_seq + 1))
    )
    keys = [e.dedupe_key for e in events[1:]]  # after run.queued
    assert sorted(keys) == sorted({f"k{key}" for batch in batches for key in batch})
    # What each writer was told it wrote is exactly what is stored, once overall.
    reported = sorted(e.dedupe_key for batch in written for e in batch)
    assert reported == sorted(keys)
    for batch in written:  # a batch's new events are consecutive, in the batch's order
        if batch:
            assert [e.seq for e in batch] == list(range(batch[0].seq, batch[0].seq + len(batch)))
