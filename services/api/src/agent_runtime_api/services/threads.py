"""Threads: create, read, search by metadata, update metadata, delete, page through messages.

Runs join a thread through ``POST /v1/runs`` (:class:`~agent_runtime_api.services.runs.RunService`
admits them); this service only reads and writes the thread rows, in the request's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.hot_reads import HotReads
from agent_runtime_api.services.pages import Window
from agent_runtime_core.errors import ConflictError, InvalidRequestError, NotFoundError
from agent_runtime_core.ids import new_thread_id
from agent_runtime_core.models import Thread, ThreadMessage, ThreadSummary
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import RunRepository, ThreadRepository, encode_cursor
from agent_runtime_core.schemas import ThreadMessagePublic, ThreadPublic, ThreadStatus


class ThreadService:
    """Rules for the threads of one tenant (another tenant's thread is a 404).

    ``GET`` of one thread reads its head through the read cache (``hot_reads``) when given; the
    status of its active run, if any, is always read from Postgres.
    """

    def __init__(self, session: AsyncSession, tenant_id: str, hot_reads: HotReads | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.threads = ThreadRepository(session, tenant_id)
        self.hot_reads = hot_reads

    async def _run_status(self, run_id: str | None) -> str | None:
        if run_id is None:
            return None
        run = await RunRepository(self.session, self.tenant_id).get(run_id)
        return run.status.value if run is not None else None

    async def _head(self, thread: Thread) -> ThreadPublic:
        """The thread with its latest summary; status ``busy`` if a run has the turn."""
        summary = await self.threads.latest_summary(thread.id) if thread.last_message_seq else None
        return ThreadPublic.from_row(thread, active_run_status=None, summary=summary)

    async def _present(self, thread: Thread) -> ThreadPublic:
        return await self._with_run_status(await self._head(thread))

    async def _with_run_status(self, head: ThreadPublic) -> ThreadPublic:
        """``head`` with its status given by its active run's (``interrupted`` while it waits)."""
        if await self._run_status(head.active_run_id) == "waiting":
            return head.model_copy(update={"status": ThreadStatus.INTERRUPTED})
        return head

    async def _load_head(self, thread_id: str) -> ThreadPublic | None:
        thread = await self.threads.get(thread_id)
        return await self._head(thread) if thread is not None else None

    async def _get(self, thread_id: str, *, for_update: bool = False) -> Thread:
        thread = await self.threads.get(thread_id, for_update=for_update)
        if thread is None:
            raise NotFoundError("Thread", thread_id)
        return thread

    async def create(self, metadata: dict[str, Any]) -> ThreadPublic:
        """A new, idle thread."""
        thread = await self.threads.add(
            Thread(id=new_thread_id(), tenant_id=self.tenant_id, thread_metadata=metadata)
        )
        return await self._present(thread)

    async def get(self, thread_id: str) -> ThreadPublic:
        """One thread with its state, or 404."""
        if self.hot_reads is None:
            return await self._present(await self._get(thread_id))
        head = await self.hot_reads.threads.get(self.tenant_id, thread_id, lambda: self._load_head(thread_id))
        if head is None:
            raise NotFoundError("Thread", thread_id)
        return await self._with_run_status(head)

    async def list(
        self, *, limit: int, before: str | None, metadata: dict[str, Any] | None
    ) -> Window[ThreadPublic]:
        """A page of threads, newest first, optionally those whose metadata contains ``metadata``."""
        rows = await self.threads.list(limit=limit + 1, before_id=before, metadata=metadata)
        items = [await self._present(thread) for thread in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
        return Window(items=items, next_cursor=next_cursor)

    async def update(self, thread_id: str, metadata: dict[str, Any]) -> ThreadPublic:
        """Merge ``metadata`` into the thread's (top-level keys replaced)."""
        thread = await self._get(thread_id, for_update=True)
        thread.thread_metadata = {**thread.thread_metadata, **metadata}
        thread.updated_at = utcnow()
        self.session.add(thread)
        await self.session.flush()
        return await self._present(thread)

    async def delete(self, thread_id: str) -> None:
        """Soft-delete the thread with its history (409 ``thread_busy`` while a run has the turn)."""
        thread = await self._get(thread_id, for_update=True)
        if thread.active_run_id is not None:
            raise ConflictError(
                f"Thread '{thread_id}' is busy with run '{thread.active_run_id}'; cancel it or wait "
                "for it to end, then delete the thread.",
                code="thread_busy",
            )
        await self.threads.soft_delete(thread)

    async def copy(self, thread_id: str) -> ThreadPublic:
        """A new, idle thread with the same metadata, turns and summaries as ``thread_id``.

        A run in progress on the source is not copied: its turn is not in the history until it
        ends, so the copy holds exactly the turns that ended before this call. The copy is
        independent: later turns of either thread do not reach the other."""
        source = await self._get(thread_id)
        copied = await self.threads.add(
            Thread(
                id=new_thread_id(),
                tenant_id=self.tenant_id,
                thread_metadata=dict(source.thread_metadata),
                last_message_seq=source.last_message_seq,
            )
        )
        for turn in await self.threads.turns(thread_id):
            self.session.add(
                ThreadMessage(
                    thread_id=copied.id,
                    seq=turn.seq,
                    tenant_id=self.tenant_id,
                    run_id=turn.run_id,
                    messages=list(turn.messages),
                    created_at=turn.created_at,
                )
            )
        for summary in await self.threads.summaries(thread_id):
            self.session.add(
                ThreadSummary(
                    **summary.model_dump(exclude={"thread_id", "tenant_id"}),
                    thread_id=copied.id,
                    tenant_id=self.tenant_id,
                )
            )
        await self.session.flush()
        return await self._present(copied)

    async def messages(self, thread_id: str, *, after: str | None, limit: int) -> Window[ThreadMessagePublic]:
        """Messages of the thread's history in order, after the message ``after`` (``<seq>.<index>``)."""
        await self._get(thread_id)
        after_seq, after_index = _message_position(after)
        turns = await self.threads.turns(thread_id, from_seq=max(after_seq, 1), limit=limit + 2)
        items: list[ThreadMessagePublic] = []
        for turn in turns:
            for index, message in enumerate(turn.messages):
                if (turn.seq, index) <= (after_seq, after_index):
                    continue
                items.append(_message(turn.seq, index, turn.run_id, message, turn.created_at))
        page = items[:limit]
        next_cursor = encode_cursor(page[-1].id) if len(items) > limit and page else None
        return Window(items=page, next_cursor=next_cursor)


def _message_position(after: str | None) -> tuple[int, int]:
    if after is None:
        return 0, -1
    seq, _, index = after.partition(".")
    if not (seq.isdigit() and index.isdigit()):
        raise InvalidRequestError(
            "cursor is not valid; pass the next_cursor of a previous page",
            loc=["query", "cursor"],
            code="invalid_cursor",
        )
    return int(seq), int(index)


def _message(seq: int, index: int, run_id: str, message: dict[str, Any], at: Any) -> ThreadMessagePublic:
    kind = str(message.get("kind", "request"))
    parts: Sequence[Any] = message.get("parts") or []
    return ThreadMessagePublic(
        id=f"{seq}.{index}",
        seq=seq,
        index=index,
        run_id=run_id,
        kind=kind,
        role="assistant" if kind == "response" else "user",
        parts=[part for part in parts if isinstance(part, dict)],
        created_at=at,
    )
