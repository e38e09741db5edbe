"""Queries on runs and run events."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, or_, text
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.lifecycle import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    DedupeKey,
    EventSpec,
    EventType,
    can_transition,
)
from agent_runtime_core.models import Run, RunEvent, RunStatus, Thread
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.base import TenantRepository
from agent_runtime_core.repositories.threads import ThreadRepository

_LOCK_RUN: Final = text(
    "SELECT last_event_seq FROM runs WHERE id = :run_id AND tenant_id = :tenant_id FOR UPDATE"
)

# Under the run's row lock (taken by the statement before, so this one's snapshot sees every
# event committed before the lock): skip keys written before or repeated in the batch, number
# the rest after `last_event_seq` in batch order, insert them and move the run's counter.
_APPEND_EVENTS: Final = text(
    """
    WITH incoming AS (
        SELECT e.ord, e.type, e.data, e.dedupe_key
        FROM jsonb_to_recordset(CAST(:events AS jsonb))
             AS e(ord integer, type varchar, data jsonb, dedupe_key varchar)
    ), fresh AS (
        SELECT DISTINCT ON (i.dedupe_key) i.*
        FROM incoming AS i
        WHERE NOT EXISTS (
            SELECT 1 FROM run_events AS x
            WHERE x.run_id = CAST(:run_id AS varchar) AND x.dedupe_key = i.dedupe_key
        )
        ORDER BY i.dedupe_key, i.ord
    ), numbered AS (
        SELECT fresh.*,
               CAST(:last_seq AS integer) + CAST(row_number() OVER (ORDER BY fresh.ord) AS integer) AS seq
        FROM fresh
    ), inserted AS (
        INSERT INTO run_events (run_id, seq, tenant_id, type, at, data, dedupe_key)
        SELECT CAST(:run_id AS varchar), seq, CAST(:tenant_id AS varchar), type,
               CAST(:at AS timestamptz), data, dedupe_key
        FROM numbered
        RETURNING seq, type, at, data, dedupe_key
    ), moved AS (
        UPDATE runs SET last_event_seq = CAST(:last_seq AS integer) + (SELECT count(*) FROM numbered)
        WHERE id = CAST(:run_id AS varchar) AND EXISTS (SELECT 1 FROM numbered)
    )
    SELECT seq, type, at, data, dedupe_key FROM inserted ORDER BY seq
    """
)

EventsFor = Sequence[EventSpec] | Callable[[Run], Sequence[EventSpec]]
"""A transition's events, or a function of the run after the transition that builds them."""


@dataclass
class TransitionResult:
    """What :meth:`RunRepository.transition` did."""

    run: Run
    """The run after the transition (or as it was, when it was not applied)."""
    previous: RunStatus
    """The status the run had before."""
    applied: bool
    """The run was allowed to move to the target: its status, fields and events were written."""
    events: list[RunEvent] = field(default_factory=list[RunEvent])
    """The events written now (those written before under the same dedupe key are left out):
    publish them to live readers after the transaction commits."""
    next_thread_run_id: str | None = None
    """For a run on a thread that reached a terminal status: the run that has the thread's turn
    now (signal its workflow, ``thread_turn``, after the commit); also reported when the run had
    ended before, so a retried writer signals again."""


RUN_CREATION_LOCK_CLASS = 7_343_002
"""First key of the per-tenant advisory lock around run creation (the second: hash of the tenant)."""


async def count_active_runs_by_status(session: AsyncSession) -> dict[str, int]:
    """Unfinished runs of ALL tenants by status, for operators' metrics (never shown to a tenant).

    One grouped query over the partial index ``ix_runs_active_status``: its size is the number
    of unfinished runs, not of all runs ever.
    """
    statement = (
        select(Run.status, func.count())
        .where(col(Run.status).in_([status.value for status in ACTIVE_STATUSES]))
        .group_by(Run.status)
    )
    rows = (await session.exec(statement)).all()
    return {RunStatus(status).value: int(count) for status, count in rows}


async def run_owner(session: AsyncSession, run_id: str) -> str | None:
    """The tenant of run ``run_id`` (``None``: no such run), whichever tenant that is.

    A system (cross-tenant) read for a system session: the worker uses it only on the error path,
    to tell a missing run from another tenant's.
    """
    return (await session.exec(select(Run.tenant_id).where(Run.id == run_id))).first()


ERROR_STATUSES: Final = (RunStatus.FAILED, RunStatus.TIMED_OUT)
"""Terminal statuses that count as an agent's error (a cancelled run is someone's decision)."""


class RunRepository(TenantRepository[Run]):
    """Runs of one tenant (``add`` flushes, so a repeated idempotency key surfaces there)."""

    model = Run

    async def get(self, run_id: str, *, for_update: bool = False) -> Run | None:
        """Return run ``run_id`` of this tenant, or ``None``."""
        return await self.get_for_tenant(run_id, for_update=for_update)

    async def mark_rolled_back(self, run_id: str, by_run_id: str) -> None:
        """Mark run ``run_id`` rolled back by ``by_run_id`` (the first mark stays): its turn is
        never appended to its thread. Under its thread's lock, taken before."""
        run = await self.get(run_id, for_update=True)
        if run is not None and run.rolled_back_by is None:
            run.rolled_back_by = by_run_id
            self.session.add(run)
            await self.session.flush()

    async def get_by_idempotency_key(self, key: str) -> Run | None:
        """Return the run created with ``Idempotency-Key: key``, or ``None``."""
        statement = select(Run).where(Run.tenant_id == self.tenant_id, Run.idempotency_key == key)
        return (await self.session.exec(statement)).first()

    async def list(
        self,
        *,
        limit: int,
        before_id: str | None = None,
        agent_id: str | None = None,
        statuses: Sequence[RunStatus] = (),
        created_since: datetime | None = None,
        created_until: datetime | None = None,
    ) -> Sequence[Run]:
        """Return up to ``limit`` runs, newest first, optionally filtered (creation time in
        ``[created_since, created_until)``)."""
        statement = self.scoped()
        if agent_id is not None:
            statement = statement.where(Run.agent_id == agent_id)
        if statuses:
            statement = statement.where(col(Run.status).in_(list(statuses)))
        if created_since is not None:
            statement = statement.where(col(Run.created_at) >= created_since)
        if created_until is not None:
            statement = statement.where(col(Run.created_at) < created_until)
        return await self.page(statement, limit=limit, cursor_id=before_id)

    async def count_active_for_agent(self, agent_id: str) -> int:
        """Number of runs of ``agent_id`` that have not reached a terminal status."""
        statement = (
            select(func.count())
            .select_from(Run)
            .where(
                Run.tenant_id == self.tenant_id,
                Run.agent_id == agent_id,
                col(Run.status).in_(list(ACTIVE_STATUSES)),
            )
        )
        return (await self.session.exec(statement)).one()

    async def count_active_for_agent_by_status(self, agent_id: str) -> dict[RunStatus, int]:
        """The unfinished runs of ``agent_id`` by status (one grouped query)."""
        statement = (
            select(Run.status, func.count())
            .where(
                Run.tenant_id == self.tenant_id,
                Run.agent_id == agent_id,
                col(Run.status).in_(list(ACTIVE_STATUSES)),
            )
            .group_by(Run.status)
        )
        rows = (await self.session.exec(statement)).all()
        return {RunStatus(status): int(count) for status, count in rows}

    async def last_finished_and_last_error(self, agent_id: str) -> tuple[Run | None, Run | None]:
        """The most recently finished run of ``agent_id`` and its most recent failed or
        timed-out run (either may be the same run, or ``None``), in one statement."""

        def latest(statuses: Collection[RunStatus]) -> Any:
            return (
                select(Run.id)
                .where(
                    Run.tenant_id == self.tenant_id,
                    Run.agent_id == agent_id,
                    col(Run.status).in_(list(statuses)),
                )
                .order_by(col(Run.finished_at).desc().nulls_last(), col(Run.id).desc())
                .limit(1)
                .scalar_subquery()
            )

        statement = self.scoped().where(
            or_(Run.id == latest(TERMINAL_STATUSES), Run.id == latest(ERROR_STATUSES))
        )
        rows = list((await self.session.exec(statement)).all())

        def order(run: Run) -> tuple[float, str]:
            return (run.finished_at.timestamp() if run.finished_at is not None else float("-inf"), run.id)

        def newest(runs: list[Run]) -> Run | None:
            return max(runs, key=order) if runs else None

        return newest(rows), newest([run for run in rows if run.status in ERROR_STATUSES])

    async def count_active(self) -> int:
        """Number of this tenant's runs that are queued, running or waiting."""
        statement = (
            select(func.count())
            .select_from(Run)
            .where(Run.tenant_id == self.tenant_id, col(Run.status).in_(list(ACTIVE_STATUSES)))
        )
        return (await self.session.exec(statement)).one()

    async def lock_tenant_run_creation(self) -> None:
        """Serialize run creation of this tenant until the transaction ends (advisory lock)."""
        await self.session.exec(
            select(func.pg_advisory_xact_lock(RUN_CREATION_LOCK_CLASS, func.hashtext(self.tenant_id)))
        )

    async def create(self, run: Run, queued_data: dict[str, Any]) -> list[RunEvent]:
        """Insert ``run`` (``queued``; flushed, so constraint violations surface here) with its
        ``run.queued`` event; return the event to publish after the commit."""
        if run.status != RunStatus.QUEUED:
            raise ValueError(f"a run is created queued, not {run.status.value}")
        self.session.add(run)
        await self.session.flush()
        spec = EventSpec(EventType.RUN_QUEUED, queued_data, DedupeKey.RUN_QUEUED)
        # The row was inserted by this transaction: nobody else can lock it, its counter is 0.
        events = RunEventRepository(self.session, self.tenant_id)
        return await events.append_to_locked_run(run.id, run.last_event_seq, [spec])

    async def transition(
        self,
        run_id: str,
        target: RunStatus,
        *,
        events: EventsFor = (),
        only_from: Collection[RunStatus] | None = None,
        apply: Callable[[Run], Awaitable[None]] | None = None,
        turn_messages: Sequence[dict[str, Any]] | None = None,
    ) -> TransitionResult | None:
        """Move run ``run_id`` to ``target``: the one place a run's status changes.

        Under the run's row lock (held until the transaction ends), the move is applied when the
        lifecycle allows it (:func:`~agent_runtime_core.lifecycle.can_transition`: never out of
        a terminal status; staying in an active status re-records it) and, with ``only_from``,
        when the run is in one of those statuses. Applied means: the status is written with its
        timestamps (``started_at`` on the first ``running``, ``finished_at`` on a terminal
        status), then ``apply(run)`` sets the transition's other fields, then ``events`` are
        appended through the single append path (idempotent per dedupe key).

        A run on a thread that reaches a terminal status ends its turn in the same transaction
        (:meth:`ThreadRepository.end_turn`): ``turn_messages`` (a succeeded run's new messages)
        are appended to the thread, and the next queued run gets the turn. The thread's row is
        locked before the run's (the order every writer of both follows).

        Returns ``None`` when this tenant has no run ``run_id``; otherwise what was done. The
        caller publishes ``result.events`` after the transaction commits.
        """
        thread: Thread | None = None
        threads = ThreadRepository(self.session, self.tenant_id)
        if target.is_terminal:
            thread_id = (
                await self.session.exec(
                    select(Run.thread_id).where(Run.id == run_id, Run.tenant_id == self.tenant_id)
                )
            ).first()
            if thread_id is not None:
                thread = await threads.lock_including_deleted(thread_id)
        run = await self.get(run_id, for_update=True)
        if run is None:
            return None
        previous = run.status
        if not can_transition(previous, target) or (only_from is not None and previous not in only_from):
            waiting = None
            if thread is not None and previous.is_terminal and thread.active_run_id != run.id:
                waiting = thread.active_run_id
            return TransitionResult(run=run, previous=previous, applied=False, next_thread_run_id=waiting)
        if target != previous:
            run.status = target
            now = utcnow()
            if target == RunStatus.RUNNING and run.started_at is None:
                run.started_at = now
            if target.is_terminal:
                run.finished_at = run.finished_at or now
        if apply is not None:
            await apply(run)
        self.session.add(run)
        await self.session.flush()
        specs = events(run) if callable(events) else events
        # `run` was read under the row lock held since `get` (a locked read refreshes it), and
        # every append of this session keeps its `last_event_seq` current: no second lock.
        written = await RunEventRepository(self.session, self.tenant_id).append_to_locked_run(
            run.id, run.last_event_seq, specs
        )
        next_run_id = None
        if thread is not None and target.is_terminal:
            messages = turn_messages if target == RunStatus.SUCCEEDED else None
            next_run_id = await threads.end_turn(thread, run, messages)
        return TransitionResult(
            run=run, previous=previous, applied=True, events=written, next_thread_run_id=next_run_id
        )


class RunEventRepository:
    """Events of the runs of one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def append_to_run(
        self, run_id: str, events: Sequence[tuple[str, dict[str, Any], str]]
    ) -> list[RunEvent] | None:
        """Lock run ``run_id`` and append ``(type, data, dedupe_key)`` events in order; return those
        written now, or ``None`` when this tenant has no such run.

        The ONE way run events are written (two statements: lock the run, then skip known keys,
        number, insert and move the run's counter). ``seq`` stays gap-free and ordered under
        concurrent writers, and each ``dedupe_key`` is written once per run, so a retried
        activity or request writes nothing twice; keys repeated in ``events`` are written once.
        A ``Run`` of the same run loaded in this session gets its ``last_event_seq`` updated.
        """
        connection = await self.session.connection()
        last_seq = (
            await connection.execute(_LOCK_RUN, {"run_id": run_id, "tenant_id": self.tenant_id})
        ).scalar()
        if last_seq is None:
            return None
        return await self.append_to_locked_run(run_id, last_seq, events)

    async def append_to_locked_run(
        self, run_id: str, last_seq: int, events: Sequence[tuple[str, dict[str, Any], str]]
    ) -> list[RunEvent]:
        """:meth:`append_to_run` for a caller that already holds the run's row lock in this
        transaction and read its ``last_event_seq`` under it (``RunRepository.transition`` and
        ``create``): the same insert, without locking again."""
        if not events:
            return []
        batch = [
            {"ord": index, "type": str(event_type), "data": data, "dedupe_key": key}
            for index, (event_type, data, key) in enumerate(events)
        ]
        connection = await self.session.connection()
        rows = await connection.execute(
            _APPEND_EVENTS,
            {
                "run_id": run_id,
                "tenant_id": self.tenant_id,
                "events": json.dumps(batch),
                "last_seq": last_seq,
                "at": utcnow(),
            },
        )
        written = [
            RunEvent(
                run_id=run_id,
                seq=row.seq,
                tenant_id=self.tenant_id,
                type=row.type,
                at=row.at,
                data=row.data,
                dedupe_key=row.dedupe_key,
            )
            for row in rows
        ]
        loaded = self.session.identity_map.get(identity_key(Run, run_id))
        if written and isinstance(loaded, Run):
            set_committed_value(loaded, "last_event_seq", written[-1].seq)
        return written

    async def list(self, run_id: str, *, after_seq: int = 0, limit: int = 100) -> Sequence[RunEvent]:
        """Return up to ``limit`` events of ``run_id`` with ``seq > after_seq``, in order."""
        statement = (
            select(RunEvent)
            .where(
                RunEvent.tenant_id == self.tenant_id,
                RunEvent.run_id == run_id,
                col(RunEvent.seq) > after_seq,
            )
            .order_by(col(RunEvent.seq))
            .limit(limit)
        )
        return (await self.session.exec(statement)).all()
