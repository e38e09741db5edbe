"""State machine over the run lifecycle, on the real repository and a real Postgres.

Hypothesis drives one run through every operation the API and the worker perform on it, in any
order and any number of times (retries and duplicates included), each through
``RunRepository.transition`` exactly as its caller does, and checks after every step:

* the stored status follows the transition table, and nothing leaves a terminal status;
* the run has exactly one terminal event once it is terminal (none before), of its status;
* ``seq`` is gap-free (1..n) and matches the run's counter;
* a retried or duplicated operation writes no event twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_agent_id, new_run_id
from agent_runtime_core.lifecycle import (
    TERMINAL_EVENT_TYPES,
    DedupeKey,
    EventSpec,
    EventType,
    RunStatus,
    can_transition,
    human_request_event,
    terminal_event,
)
from agent_runtime_core.models import Agent, AgentVersion, Run, RunEvent
from agent_runtime_core.repositories import RunEventRepository, RunRepository
from agent_runtime_core.repositories.runs import TransitionResult

T = TypeVar("T")
TENANT = "ten_test_lifecycle_machine"
ACTIVE_OR_WAITING = (RunStatus.RUNNING, RunStatus.WAITING)


class RunLifecycleMachine(RuleBasedStateMachine):
    """One run; rules are the operations of the API and the worker."""

    database_url: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self.database = Database(self.database_url, pool_size=2)
        self.run_id = new_run_id()
        self.expected = RunStatus.QUEUED
        self.waits = 0  # human waits opened so far (each has its own request ids)
        self.budget_waits = 0
        self.history: list[RunStatus] = [RunStatus.QUEUED]
        self._sync(self._create())

    def _sync(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    def teardown(self) -> None:
        self._sync(self.database.dispose())
        self.runner.close()

    # ------------------------------------------------------------------ database

    async def _create(self) -> None:
        agent_id = new_agent_id()
        async with session_scope(self.database, TENANT) as session:
            session.add(Agent(id=agent_id, tenant_id=TENANT, name=agent_id, latest_version=1))
            await session.flush()
            session.add(
                AgentVersion(agent_id=agent_id, version=1, tenant_id=TENANT, model="builtin:scripted")
            )
            await session.flush()
            run = Run(
                id=self.run_id,
                tenant_id=TENANT,
                agent_id=agent_id,
                agent_version=1,
                input="x",
                workflow_id=f"run-{self.run_id}",
            )
            await RunRepository(session, TENANT).create(run, {"agent_id": agent_id, "agent_version": 1})

    async def _transition_async(
        self,
        target: RunStatus,
        events: list[EventSpec] | Callable[[Run], list[EventSpec]],
        only_from: tuple[RunStatus, ...] | None,
        error: dict[str, str] | None,
    ) -> TransitionResult:
        async def set_error(run: Run) -> None:
            run.error = error

        async with session_scope(self.database, TENANT) as session:
            result = await RunRepository(session, TENANT).transition(
                self.run_id,
                target,
                events=events,
                only_from=only_from,
                apply=set_error if error is not None else None,
            )
        assert result is not None
        return result

    def _transition(
        self,
        target: RunStatus,
        events: list[EventSpec] | Callable[[Run], list[EventSpec]],
        *,
        only_from: tuple[RunStatus, ...] | None = None,
        error: dict[str, str] | None = None,
    ) -> TransitionResult:
        result = self._sync(self._transition_async(target, events, only_from, error))
        allowed = can_transition(self.expected, target) and (only_from is None or self.expected in only_from)
        assert result.applied == allowed, (self.expected, target, only_from, result)
        assert result.previous == self.expected
        if allowed:
            self.expected = target
            self.history.append(target)
        return result

    async def _state(self) -> tuple[Run, list[RunEvent]]:
        async with session_scope(self.database, TENANT) as session:
            run = await RunRepository(session, TENANT).get(self.run_id)
            events = await RunEventRepository(session, TENANT).list(self.run_id, limit=1000)
        assert run is not None
        return run, list(events)

    # ------------------------------------------------------------------ worker operations

    @rule()
    def start(self) -> None:
        """``mark_run_started`` (also its retries)."""
        self._transition(
            RunStatus.RUNNING,
            [EventSpec(EventType.RUN_STARTED, {"attempt": 1}, DedupeKey.RUN_STARTED)],
            only_from=(RunStatus.QUEUED, RunStatus.RUNNING),
        )

    @rule(retry=st.booleans())
    def wait_for_human(self, retry: bool) -> None:
        """``open_human_requests``: the run waits for approvals (a retry reuses the last ids)."""
        if not retry or self.waits == 0:
            self.waits += 1
        request_id = f"apr_{self.waits}"
        self._sync(
            self._append([EventSpec(EventType.APPROVAL_REQUESTED, {}, DedupeKey.human_requested(request_id))])
        )
        self._transition(
            RunStatus.WAITING,
            [EventSpec(EventType.RUN_WAITING, {}, DedupeKey.waiting_for_humans(request_id))],
            only_from=ACTIVE_OR_WAITING,
        )

    @precondition(lambda self: self.waits > 0)
    @rule(approve=st.booleans())
    def decide(self, approve: bool) -> None:
        """``resolve_human_request``: a decision on the latest request (no status change)."""
        request_id = f"apr_{self.waits}"
        status = "approved" if approve else "rejected"
        self._sync(
            self._append(
                [EventSpec(human_request_event("approval", status), {}, DedupeKey.human_resolved(request_id))]
            )
        )

    @rule()
    def resume_after_humans(self) -> None:
        """``close_human_wait`` with ``resume``: ``waiting → running`` once per wait."""
        self._transition(
            RunStatus.RUNNING,
            lambda run: [EventSpec(EventType.RUN_RESUMED, {}, DedupeKey.resumed_after(run.last_event_seq))],
            only_from=(RunStatus.WAITING,),
        )

    @rule(waiting=st.booleans(), retry=st.booleans())
    def budget_wait(self, waiting: bool, retry: bool) -> None:
        """``record_budget_wait``: wait for a budget's reset, or resume after it."""
        if waiting and (not retry or self.budget_waits == 0):
            self.budget_waits += 1
        key = f"s1:w{self.budget_waits}"
        if waiting:
            event = EventSpec(EventType.RUN_WAITING, {}, DedupeKey.budget_waiting(key))
            self._transition(RunStatus.WAITING, [event], only_from=ACTIVE_OR_WAITING)
        else:
            event = EventSpec(EventType.RUN_RESUMED, {}, DedupeKey.budget_resumed(key))
            self._transition(RunStatus.RUNNING, [event], only_from=ACTIVE_OR_WAITING)

    @rule(status=st.sampled_from(sorted(s for s in RunStatus if s.is_terminal)))
    def finish(self, status: RunStatus) -> None:
        """``finish_run``: succeeded, failed, cancelled or timed out (also its retries)."""
        error = None if status == RunStatus.SUCCEEDED else {"code": status.value, "message": "x"}
        self._transition(
            status,
            [EventSpec(terminal_event(status), {"error": error}, DedupeKey.RUN_FINISHED)],
            error=error,
        )

    # ------------------------------------------------------------------ API operations

    @rule()
    def fail_unstarted(self) -> None:
        """The API could not start the workflow: a queued run fails."""
        error = {"code": "start_failed", "message": "Temporal was unreachable."}
        self._transition(
            RunStatus.FAILED,
            [EventSpec(EventType.RUN_FAILED, {"error": error}, DedupeKey.RUN_FINISHED)],
            only_from=(RunStatus.QUEUED,),
            error=error,
        )

    @rule()
    def cancel_unstarted(self) -> None:
        """Cancel of a run whose workflow does not exist."""
        error = {"code": "cancelled", "message": "Cancelled before it started."}
        self._transition(
            RunStatus.CANCELLED,
            [EventSpec(EventType.RUN_CANCELLED, {"error": error}, DedupeKey.RUN_FINISHED)],
            error=error,
        )

    async def _append(self, specs: list[EventSpec]) -> list[RunEvent]:
        async with session_scope(self.database, TENANT) as session:
            written = await RunEventRepository(session, TENANT).append_to_run(self.run_id, specs)
        assert written is not None
        return written

    # ------------------------------------------------------------------ invariants

    @invariant()
    def stored_run_is_consistent(self) -> None:
        run, events = self._sync(self._state())
        assert run.status == self.expected
        seqs = [event.seq for event in events]
        assert seqs == list(range(1, len(events) + 1)) == list(range(1, run.last_event_seq + 1))
        keys = [event.dedupe_key for event in events]
        assert len(keys) == len(set(keys)), "an event was written twice"
        terminal = [event for event in events if event.type in TERMINAL_EVENT_TYPES]
        if run.status.is_terminal:
            assert len(terminal) == 1
            assert terminal[0].type == terminal_event(run.status)
            assert terminal[0].seq == seqs[-1] or all(
                event.type not in {EventType.RUN_STARTED, EventType.RUN_WAITING, EventType.RUN_RESUMED}
                for event in events[terminal[0].seq :]
            ), "a status event was written after the terminal one"
            assert run.finished_at is not None
        else:
            assert terminal == []
            assert run.finished_at is None
        if run.status != RunStatus.QUEUED:
            assert run.started_at is not None or RunStatus.RUNNING not in self.history
        for previous, following in zip(self.history, self.history[1:], strict=False):
            assert not previous.is_terminal, f"left terminal {previous} for {following}"


@pytest.mark.timeout(300)
def test_run_lifecycle_state_machine(database_url: str) -> None:
    RunLifecycleMachine.database_url = database_url
    run_state_machine_as_test(
        RunLifecycleMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
