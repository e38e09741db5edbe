"""Queries on threads and their turns, and the turn-taking rules (pure functions, so a
property test can check them without a server).

Turn-taking (docs/decisions.md, "Threads"): a thread row holds the run that has the turn
(``active_run_id``) and the runs waiting for it (``queued_run_ids``, in order). Both change only
under the thread's row lock: in the API when a run is admitted (:func:`admit`), and in the same
transaction as a run's terminal status (:meth:`ThreadRepository.end_turn`, called by
``RunRepository.transition``). Locks are always taken thread first, then run.

Every change of a thread row, in any process, deletes its read-cache entry after the commit
(an ORM flush of a :class:`Thread`: :mod:`agent_runtime_core.cache`); a new summary does too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlmodel import col, select

from agent_runtime_core.cache import THREAD, invalidate_after_commit
from agent_runtime_core.models import Run, Thread, ThreadMessage, ThreadSummary
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.models.thread import MultitaskStrategy
from agent_runtime_core.repositories.base import TenantRepository

__all__ = [
    "Admission",
    "MultitaskStrategy",
    "ThreadRepository",
    "admit",
    "hand_over",
]


@dataclass(frozen=True)
class Admission:
    """What admitting a run to a thread decided (:func:`admit`)."""

    active_run_id: str | None
    queued_run_ids: list[str]
    rejected: bool = False
    cancel_run_id: str | None = None
    """The active run to cancel (``interrupt``/``rollback``)."""
    roll_back: bool = False
    """Mark ``cancel_run_id`` rolled back."""

    @property
    def decision(self) -> str:
        """``active`` (the run has the turn), ``queued``, ``interrupting`` or ``rejected``."""
        if self.rejected:
            return "rejected"
        if self.cancel_run_id is not None:
            return "interrupting"
        return "queued" if self.queued_run_ids and self.active_run_id is not None else "active"


def admit(
    active_run_id: str | None,
    queued: Sequence[tuple[str, MultitaskStrategy]],
    run_id: str,
    strategy: MultitaskStrategy,
) -> Admission:
    """Admit ``run_id`` (asking for ``strategy``) to a thread whose active run and queue
    (each queued run with the strategy it asked for) are given.

    Idle thread: the run has the turn, whatever its strategy. Busy: ``reject`` refuses it;
    ``enqueue`` puts it last; ``interrupt``/``rollback`` cancel the active run and put the run
    ahead of enqueued runs, after earlier interrupters still waiting (so they run in the order
    they were admitted).
    """
    queue = [queued_id for queued_id, _ in queued]
    if active_run_id is None:
        return Admission(active_run_id=run_id, queued_run_ids=queue)
    if strategy == MultitaskStrategy.REJECT:
        return Admission(active_run_id=active_run_id, queued_run_ids=queue, rejected=True)
    if strategy == MultitaskStrategy.ENQUEUE:
        return Admission(active_run_id=active_run_id, queued_run_ids=[*queue, run_id])
    position = 0
    while position < len(queued) and queued[position][1].interrupts:
        position += 1
    return Admission(
        active_run_id=active_run_id,
        queued_run_ids=[*queue[:position], run_id, *queue[position:]],
        cancel_run_id=active_run_id,
        roll_back=strategy == MultitaskStrategy.ROLLBACK,
    )


def hand_over(
    active_run_id: str | None, queued_run_ids: Sequence[str], finished_run_id: str
) -> tuple[str | None, list[str]]:
    """The thread's active run and queue after run ``finished_run_id`` ended: the next queued
    run gets the turn if the finished one had it; a queued run that ended leaves the queue."""
    queue = [run_id for run_id in queued_run_ids if run_id != finished_run_id]
    if active_run_id != finished_run_id:
        return active_run_id, queue
    return (queue[0], queue[1:]) if queue else (None, [])


_APPEND_TURN: Final = text(
    """
    INSERT INTO thread_messages (thread_id, seq, tenant_id, run_id, messages, created_at)
    VALUES (:thread_id, :seq, :tenant_id, :run_id, CAST(:messages AS jsonb), :at)
    ON CONFLICT (thread_id, run_id) DO NOTHING
    RETURNING seq
    """
)


_ADD_SUMMARY: Final = text(
    """
    INSERT INTO thread_summaries (thread_id, through_seq, tenant_id, run_id, from_seq, model, summary,
                                  input_tokens, output_tokens, created_at)
    VALUES (:thread_id, :through_seq, :tenant_id, :run_id, :from_seq, :model, :summary,
            :input_tokens, :output_tokens, :at)
    ON CONFLICT (thread_id, through_seq) DO NOTHING
    RETURNING through_seq
    """
)


class ThreadRepository(TenantRepository[Thread]):
    """Threads of one tenant and their turns."""

    model = Thread

    async def get(self, thread_id: str, *, for_update: bool = False) -> Thread | None:
        """Thread ``thread_id`` of this tenant (not deleted), or ``None``."""
        return await self.get_for_tenant(thread_id, for_update=for_update)

    async def lock_including_deleted(self, thread_id: str) -> Thread | None:
        """The thread, locked for update, even if deleted (a run's end still hands it over)."""
        return await self.get_for_tenant(thread_id, for_update=True, include_deleted=True)

    async def list(
        self, *, limit: int, before_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Sequence[Thread]:
        """Up to ``limit`` threads, newest first; with ``metadata``, those whose metadata
        contains it (JSON containment, ``@>``: served by the GIN index)."""
        statement = self.scoped()
        if metadata:
            statement = statement.where(col(Thread.thread_metadata).contains(metadata))
        return await self.page(statement, limit=limit, cursor_id=before_id)

    async def queued_strategies(self, run_ids: Sequence[str]) -> list[tuple[str, MultitaskStrategy]]:
        """The queued runs ``run_ids`` with the strategy each asked for, in the given order."""
        if not run_ids:
            return []
        rows = (
            await self.session.exec(
                select(Run.id, Run.multitask_strategy).where(
                    Run.tenant_id == self.tenant_id, col(Run.id).in_(list(run_ids))
                )
            )
        ).all()
        strategies = {run_id: strategy for run_id, strategy in rows}
        return [
            (run_id, MultitaskStrategy(strategies.get(run_id) or MultitaskStrategy.ENQUEUE))
            for run_id in run_ids
        ]

    async def turns(
        self, thread_id: str, *, from_seq: int = 1, limit: int | None = None
    ) -> Sequence[ThreadMessage]:
        """Turns of the thread with ``seq >= from_seq``, in order."""
        statement = (
            select(ThreadMessage)
            .where(
                ThreadMessage.tenant_id == self.tenant_id,
                ThreadMessage.thread_id == thread_id,
                col(ThreadMessage.seq) >= from_seq,
            )
            .order_by(col(ThreadMessage.seq))
        )
        if limit is not None:
            statement = statement.limit(limit)
        return (await self.session.exec(statement)).all()

    async def last_turns(self, thread_id: str, count: int) -> Sequence[ThreadMessage]:
        """The thread's last ``count`` turns, in order."""
        statement = (
            select(ThreadMessage)
            .where(ThreadMessage.tenant_id == self.tenant_id, ThreadMessage.thread_id == thread_id)
            .order_by(col(ThreadMessage.seq).desc())
            .limit(count)
        )
        return list(reversed((await self.session.exec(statement)).all()))

    async def latest_summary(
        self, thread_id: str, *, through_at_most: int | None = None
    ) -> ThreadSummary | None:
        """The summary covering the most turns (up to ``through_at_most``), or ``None``."""
        statement = select(ThreadSummary).where(
            ThreadSummary.tenant_id == self.tenant_id, ThreadSummary.thread_id == thread_id
        )
        if through_at_most is not None:
            statement = statement.where(col(ThreadSummary.through_seq) <= through_at_most)
        statement = statement.order_by(col(ThreadSummary.through_seq).desc()).limit(1)
        return (await self.session.exec(statement)).first()

    async def summaries(self, thread_id: str) -> Sequence[ThreadSummary]:
        """Every summary of the thread, oldest first."""
        statement = (
            select(ThreadSummary)
            .where(ThreadSummary.tenant_id == self.tenant_id, ThreadSummary.thread_id == thread_id)
            .order_by(col(ThreadSummary.through_seq))
        )
        return (await self.session.exec(statement)).all()

    async def summary(self, thread_id: str, through_seq: int) -> ThreadSummary | None:
        """The summary of turns ``1 .. through_seq``, if one was written."""
        return await self.session.get(ThreadSummary, (thread_id, through_seq))

    async def add_summary(self, summary: ThreadSummary) -> bool:
        """Store ``summary`` unless one for its ``(thread, through_seq)`` exists (``False``: the
        earlier one is kept)."""
        connection = await self.session.connection()
        written = await connection.execute(
            _ADD_SUMMARY,
            {
                "thread_id": summary.thread_id,
                "through_seq": summary.through_seq,
                "tenant_id": self.tenant_id,
                "run_id": summary.run_id,
                "from_seq": summary.from_seq,
                "model": summary.model,
                "summary": summary.summary,
                "input_tokens": summary.input_tokens,
                "output_tokens": summary.output_tokens,
                "at": summary.created_at,
            },
        )
        created = written.scalar() is not None
        if created:  # the thread's head shows its latest summary (an SQL insert: no ORM flush)
            invalidate_after_commit(self.session, THREAD, self.tenant_id, summary.thread_id)
        return created

    async def prior_messages(self, thread_id: str) -> list[dict[str, Any]]:
        """Every message of the thread's turns, in order (pydantic-ai's JSON form)."""
        return [message for turn in await self.turns(thread_id) for message in turn.messages]

    async def end_turn(
        self, thread: Thread, run: Run, messages: Sequence[dict[str, Any]] | None
    ) -> str | None:
        """Run ``run`` reached a terminal status: append its turn (``messages``, when given and
        the run was not rolled back), and hand the thread over. The caller holds the thread's
        lock (taken before the run's) and commits with the run's terminal status.

        Returns the run that has the turn now, if it is another run (its workflow is waiting for
        the ``thread_turn`` signal).
        """
        if messages and run.rolled_back_by is None:
            connection = await self.session.connection()
            appended = (
                await connection.execute(
                    _APPEND_TURN,
                    {
                        "thread_id": thread.id,
                        "seq": thread.last_message_seq + 1,
                        "tenant_id": self.tenant_id,
                        "run_id": run.id,
                        "messages": json.dumps(list(messages)),
                        "at": utcnow(),
                    },
                )
            ).scalar()
            if appended is not None:
                thread.last_message_seq = appended
        active, queue = hand_over(thread.active_run_id, thread.queued_run_ids, run.id)
        if (active, queue) != (thread.active_run_id, thread.queued_run_ids):
            thread.active_run_id, thread.queued_run_ids = active, queue
            thread.updated_at = utcnow()
        self.session.add(thread)
        await self.session.flush()
        return active if active != run.id else None
