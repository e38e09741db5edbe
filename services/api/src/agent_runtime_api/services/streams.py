"""Live event streams: one run's events, and every event of a tenant.

Postgres is the record and Redis the fast path. A stream first replays from Postgres, then
follows the Redis stream from a position taken *before* that replay, so nothing committed in
between is missed; events seen twice are dropped by their per-run ``seq``. Whatever Redis lost
(it was down, trimmed, or an event was published out of order) is filled in from Postgres: on a
gap in a run's ``seq``, and by a Postgres check every ``reconcile_interval_s``. Without Redis
(disabled, unreachable) streams poll Postgres every ``poll_interval_s``, and go back to Redis
when it answers again.

Run stream (``GET /v1/runs/{id}/stream``): SSE ``id`` = ``seq``; resumes after any ``seq``
exactly (each event once, in order); ends after the terminal event.

Tenant stream (``GET /v1/events/stream``): SSE ``id`` = ``<run_id>:<seq>``; never ends. Runs
interleave, so there is no tenant-wide sequence: resuming after ``<run_id>:<seq>`` replays the
tenant's events from ``replay_overlap_s`` before that event's time. Nothing is lost, but events
of *other* runs in that short window may come again (the same ``id``: clients drop them).
Within one connection, each event comes once and each run's events in ``seq`` order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from agent_runtime_core.db import UnitOfWork
from agent_runtime_core.errors import InvalidRequestError, NotFoundError
from agent_runtime_core.event_bus import (
    EventBus,
    EventBusUnavailable,
    StreamEntry,
    envelope_json,
)
from agent_runtime_core.lifecycle import TERMINAL_EVENT_TYPES
from agent_runtime_core.models import RunEvent
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import AgentRepository, RunRepository
from agent_runtime_core.repositories.event_feeds import FeedPosition, RunEventFeedRepository

LAST_EVENT_ID_LOC: Final[list[str | int]] = ["header", "Last-Event-ID"]
_SEQ = re.compile(r"^[0-9]{1,18}$")
MAX_SEQ: Final = 2**31 - 1
"""The largest ``seq`` there can be (``run_events.seq`` is a Postgres integer). Positions beyond
it are clamped to it: they come after every event, and Postgres would refuse them as parameters."""
_REMEMBERED_RUNS: Final = 10_000
"""Runs whose last delivered ``seq`` a tenant stream remembers (least recently seen dropped)."""


@dataclass(frozen=True)
class StreamOptions:
    """Timing of live streams."""

    keepalive_s: float = 15.0
    """Interval of SSE keep-alive comments (proxies close idle connections)."""
    poll_interval_s: float = 0.25
    """How often Postgres is polled when Redis is unavailable."""
    reconcile_interval_s: float = 2.0
    """With Redis: how often Postgres is checked for events Redis missed."""
    replay_overlap_s: float = 2.0
    """Tenant streams re-read this much before their position (late commits, clock skew)."""
    page_size: int = 500


@dataclass(frozen=True)
class OutgoingEvent:
    """One event as a stream sends it."""

    id: str
    """SSE ``id``: ``<seq>`` on run streams, ``<run_id>:<seq>`` on tenant streams."""
    type: str
    data: str
    """The envelope, JSON."""

    @property
    def is_terminal(self) -> bool:
        """Whether the run ends with this event."""
        return self.type in TERMINAL_EVENT_TYPES


@dataclass(frozen=True)
class TenantCursor:
    """Where a tenant stream resumes: after event ``seq`` of ``run_id``."""

    run_id: str
    seq: int


def _invalid_last_event_id(detail: str) -> InvalidRequestError:
    return InvalidRequestError(detail, loc=LAST_EVENT_ID_LOC, code="invalid_last_event_id")


def parse_run_position(run_id: str, last_event_id: str | None, after: int | None) -> int:
    """The ``seq`` a run stream resumes after: ``Last-Event-ID`` (``<seq>`` or
    ``<run_id>:<seq>``, as a reconnecting client sends it) wins over ``?after=``.

    Raises:
        InvalidRequestError: ``Last-Event-ID`` is malformed or names another run (422).
    """
    if last_event_id is None:
        return after or 0
    value = last_event_id.strip()
    prefix, separator, seq = value.rpartition(":")
    if not _SEQ.match(seq):
        raise _invalid_last_event_id(
            f"Last-Event-ID must be an event's seq or '<run_id>:<seq>', not {value[:60]!r}."
        )
    if separator and prefix != run_id:
        raise _invalid_last_event_id(f"Last-Event-ID names an event of another run ({prefix[:60]!r}).")
    return min(int(seq), MAX_SEQ)


def parse_tenant_cursor(last_event_id: str | None) -> TenantCursor | None:
    """The position a tenant stream resumes after (``Last-Event-ID: <run_id>:<seq>``).

    Raises:
        InvalidRequestError: ``Last-Event-ID`` is malformed (422).
    """
    if last_event_id is None:
        return None
    value = last_event_id.strip()
    run_id, separator, seq = value.rpartition(":")
    if not separator or not run_id or not _SEQ.match(seq):
        raise _invalid_last_event_id(f"Last-Event-ID must be '<run_id>:<seq>', not {value[:60]!r}.")
    return TenantCursor(run_id=run_id, seq=min(int(seq), MAX_SEQ))


def _row_event(event: RunEvent, event_id: str) -> OutgoingEvent:
    return OutgoingEvent(id=event_id, type=event.type, data=envelope_json(event))


class StreamService:
    """Opens the live streams of one tenant."""

    def __init__(self, unit_of_work: UnitOfWork, event_bus: EventBus | None, options: StreamOptions) -> None:
        self.unit_of_work = unit_of_work
        self.event_bus = event_bus
        self.tenant_id = unit_of_work.tenant_id
        self.options = options

    async def open_run_stream(self, run_id: str, *, after_seq: int) -> AsyncGenerator[OutgoingEvent]:
        """The events of ``run_id`` after ``after_seq``: replayed, then live, until the
        terminal event (at once for a finished run).

        Raises:
            NotFoundError: No such run for this tenant (before anything is streamed).
        """
        async with self.unit_of_work.begin() as session:
            run = await RunRepository(session, self.tenant_id).get(run_id)
        if run is None:
            raise NotFoundError("Run", run_id)
        finished = run.status.is_terminal and after_seq >= run.last_event_seq
        return _RunFollower(self, run_id, after_seq).events(finished=finished)

    async def open_tenant_stream(
        self, *, cursor: TenantCursor | None, run_id: str | None, agent_id: str | None
    ) -> AsyncGenerator[OutgoingEvent]:
        """Every event of the tenant (optionally of one run or one agent's runs) from now, or
        after ``cursor``; never ends.

        Raises:
            NotFoundError: The run or agent filtered on does not exist for this tenant.
            InvalidRequestError: ``cursor`` names no event of this tenant (422).
        """
        resume_at: datetime | None = None
        async with self.unit_of_work.begin() as session:
            if run_id is not None and await RunRepository(session, self.tenant_id).get(run_id) is None:
                raise NotFoundError("Run", run_id)
            if agent_id is not None and await AgentRepository(session, self.tenant_id).get(agent_id) is None:
                raise NotFoundError("Agent", agent_id)
            if cursor is not None:
                event = await RunEventFeedRepository(session, self.tenant_id).get(cursor.run_id, cursor.seq)
                if event is None:
                    raise _invalid_last_event_id(
                        f"Last-Event-ID {cursor.run_id}:{cursor.seq} is not an event of yours."
                    )
                resume_at = event.at
        follower = _TenantFollower(self, cursor=cursor, resume_at=resume_at, run_id=run_id, agent_id=agent_id)
        return follower.events()


class _RunFollower:
    """One run's events after ``last``, each exactly once and in order."""

    def __init__(self, service: StreamService, run_id: str, after_seq: int) -> None:
        self.service = service
        self.options = service.options
        self.run_id = run_id
        self.last = after_seq
        """The ``seq`` of the last event sent."""
        self.done = False
        """Whether the terminal event was sent."""

    async def events(self, *, finished: bool) -> AsyncGenerator[OutgoingEvent]:
        if finished:
            return
        bus = self.service.event_bus
        key = bus.run_key(self.run_id) if bus is not None else ""
        position: str | None = None
        block_ms = int(self.options.reconcile_interval_s * 1000)
        check_postgres = True
        while True:
            if bus is not None and position is None and bus.available:
                with contextlib.suppress(EventBusUnavailable):
                    # Before the Postgres read: whatever commits after it is published after this.
                    position = await bus.last_entry_id(key)
                    check_postgres = True
            if check_postgres or position is None:
                async with contextlib.aclosing(self._catch_up()) as replay:
                    async for event in replay:
                        yield event
                if self.done:
                    return
                check_postgres = False
            if bus is None or position is None:
                await asyncio.sleep(self.options.poll_interval_s)
                continue
            try:
                entries = await bus.read(key, position, block_ms=block_ms)
            except EventBusUnavailable:
                position = None
                continue
            # Idle for a while: check Postgres for anything Redis missed (e.g. the last event).
            check_postgres = not entries
            for entry in entries:
                position = entry.entry_id
                if entry.seq <= self.last:
                    continue  # already sent (replayed, or published twice)
                if entry.seq > self.last + 1:
                    # A gap (lost or reordered in Redis): Postgres has everything up to here.
                    check_postgres = True
                    break
                yield self._entry_event(entry)
                if self.done:
                    return

    def _entry_event(self, entry: StreamEntry) -> OutgoingEvent:
        self.last = entry.seq
        self.done = entry.is_terminal
        return OutgoingEvent(id=str(entry.seq), type=entry.type, data=entry.envelope)

    async def _catch_up(self) -> AsyncGenerator[OutgoingEvent]:
        page = self.options.page_size
        while True:
            async with self.service.unit_of_work.begin() as session:
                rows = await RunEventFeedRepository(session, self.service.tenant_id).list_for_run(
                    self.run_id, after_seq=self.last, limit=page
                )
            for row in rows:
                self.last = row.seq
                self.done = row.type in TERMINAL_EVENT_TYPES
                yield _row_event(row, str(row.seq))
                if self.done:
                    return
            if len(rows) < page:
                return


class _TenantFollower:
    """A tenant's events from a point in time, each once per connection, per-run in order."""

    def __init__(
        self,
        service: StreamService,
        *,
        cursor: TenantCursor | None,
        resume_at: datetime | None,
        run_id: str | None,
        agent_id: str | None,
    ) -> None:
        self.service = service
        self.options = service.options
        self.overlap = timedelta(seconds=service.options.replay_overlap_s)
        self.run_id = run_id
        self.agent_id = agent_id
        start = resume_at if resume_at is not None else utcnow()
        self.floor = start - self.overlap
        """Events older than this are not this stream's (unless a run's gap needs them)."""
        self.newest_at = start
        self.position = FeedPosition(self.floor)
        self.delivered: OrderedDict[str, int] = OrderedDict()
        """Last ``seq`` sent per run."""
        if cursor is not None:
            self.delivered[cursor.run_id] = cursor.seq
        self.agents: dict[str, str] = {}

    async def events(self) -> AsyncGenerator[OutgoingEvent]:
        bus = self.service.event_bus
        key = bus.tenant_key(self.service.tenant_id) if bus is not None else ""
        position: str | None = None
        while True:
            if bus is not None and position is None and bus.available:
                with contextlib.suppress(EventBusUnavailable):
                    position = await bus.last_entry_id(key)
            async with contextlib.aclosing(self._catch_up()) as replay:
                async for event in replay:
                    yield event
            if bus is None or position is None:
                await asyncio.sleep(self.options.poll_interval_s)
                continue
            # Follow Redis; check Postgres every reconcile interval even when busy (an event
            # Redis lost may be the last of its run, so no later gap would reveal it).
            deadline = time.monotonic() + self.options.reconcile_interval_s
            try:
                while (remaining := deadline - time.monotonic()) > 0:
                    entries = await bus.read(key, position, block_ms=max(1, int(remaining * 1000)))
                    for entry in entries:
                        position = entry.entry_id
                        async with contextlib.aclosing(self._deliver_entry(entry)) as delivered:
                            async for event in delivered:
                                yield event
            except EventBusUnavailable:
                position = None

    async def _catch_up(self) -> AsyncGenerator[OutgoingEvent]:
        position = self.position
        page = self.options.page_size
        while True:
            async with self.service.unit_of_work.begin() as session:
                rows = await RunEventFeedRepository(session, self.service.tenant_id).list_after(
                    position, run_id=self.run_id, agent_id=self.agent_id, limit=page
                )
            for row in rows:
                async with contextlib.aclosing(self._deliver_row(row)) as delivered:
                    async for event in delivered:
                        yield event
            if len(rows) < page:
                break
            last = rows[-1]
            position = FeedPosition(last.at, last.run_id, last.seq)
        # Next time, look again a little before the newest event seen (late commits), never in
        # the future (a writer's clock ahead of ours), never before the stream's floor.
        self.position = FeedPosition(max(self.floor, min(self.newest_at, utcnow()) - self.overlap))

    async def _deliver_row(self, row: RunEvent) -> AsyncGenerator[OutgoingEvent]:
        """An event read from Postgres (already filtered there)."""
        self.newest_at = max(self.newest_at, row.at)
        last = self.delivered.get(row.run_id)
        if last is not None and row.seq <= last:
            return
        if last is not None and row.seq > last + 1:
            async with contextlib.aclosing(self._fill(row.run_id, last, row.seq)) as filled:
                async for event in filled:
                    yield event
        yield self._sent(row.run_id, row.seq, _row_event(row, f"{row.run_id}:{row.seq}"))

    async def _deliver_entry(self, entry: StreamEntry) -> AsyncGenerator[OutgoingEvent]:
        """An event read from Redis."""
        if self.run_id is not None and entry.run_id != self.run_id:
            return
        if self.agent_id is not None and await self._agent_of(entry.run_id) != self.agent_id:
            return
        self.newest_at = max(self.newest_at, entry.at)
        last = self.delivered.get(entry.run_id)
        if last is not None and entry.seq <= last:
            return
        if last is None:
            # First event of this run on this connection: Redis may have it before earlier
            # events of the run (concurrent writers publish in any order).
            since = max(self.floor, entry.at - self.overlap)
            fill = self._fill(entry.run_id, 0, entry.seq, since=since)
        else:
            fill = self._fill(entry.run_id, last, entry.seq)
        async with contextlib.aclosing(fill) as filled:
            async for event in filled:
                yield event
        if entry.seq > self.delivered.get(entry.run_id, 0):
            event = OutgoingEvent(id=f"{entry.run_id}:{entry.seq}", type=entry.type, data=entry.envelope)
            yield self._sent(entry.run_id, entry.seq, event)

    async def _fill(
        self, run_id: str, after_seq: int, before_seq: int, *, since: datetime | None = None
    ) -> AsyncGenerator[OutgoingEvent]:
        """Events of ``run_id`` between ``after_seq`` and ``before_seq`` from Postgres."""
        if before_seq <= after_seq + 1:
            return
        async with self.service.unit_of_work.begin() as session:
            rows = await RunEventFeedRepository(session, self.service.tenant_id).list_for_run(
                run_id, after_seq=after_seq, before_seq=before_seq, since=since, limit=before_seq
            )
        for row in rows:
            if row.seq > self.delivered.get(run_id, 0):
                yield self._sent(run_id, row.seq, _row_event(row, f"{run_id}:{row.seq}"))

    def _sent(self, run_id: str, seq: int, event: OutgoingEvent) -> OutgoingEvent:
        self.delivered[run_id] = seq
        self.delivered.move_to_end(run_id)
        if len(self.delivered) > _REMEMBERED_RUNS:
            self.delivered.popitem(last=False)
        return event

    async def _agent_of(self, run_id: str) -> str | None:
        agent = self.agents.get(run_id)
        if agent is None:
            async with self.service.unit_of_work.begin() as session:
                found = await RunEventFeedRepository(session, self.service.tenant_id).agent_ids([run_id])
            agent = found.get(run_id, "")
            if len(self.agents) >= _REMEMBERED_RUNS:
                self.agents.clear()
            self.agents[run_id] = agent
        return agent
