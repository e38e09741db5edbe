"""Events of model requests, written from inside the model-request activity (live stream).

pydantic-ai runs the event stream handler inside the model-request activity, on the model's
live response, so the events below are written while the model is still answering:

* ``model.request.started`` when the response starts (``step``, ``model``, ``attempt``);
* ``model.text.delta`` for the text as it streams (``step``, ``attempt``, ``index``, ``delta``);
* ``model.request.finished`` when it ends (the whole text and the tool calls).

Text deltas are coalesced so a fast model does not cost one transaction per token: the first
chunk is written at once (together with ``model.request.started`` when the response opens with
text), then at most one write per :data:`DELTA_FLUSH_INTERVAL_S`, and the rest is written with
``model.request.finished`` in the same transaction. A fast model therefore costs no more
transactions than without deltas (two per request).

Dedupe keys include the activity attempt for deltas (``model:<step>:a<attempt>:delta:<n>``):
a retried request may stream different text. A retry also writes its own
``model.request.started`` and ``model.request.finished`` (keys ``model:<step>:a<attempt>:…``;
attempt 1 keeps ``model:<step>:started|finished``); a ``model.request.started`` with a new
``attempt`` tells readers to drop the text they collected for that step. The deltas of an
attempt concatenate to the text of its ``model.request.finished``.

The recorder is the activity half of the agent's event stream handler: ``AgentActivities``
(:mod:`agent_runtime_worker.agents.activities`) builds one per model request with the worker's
dependencies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

from pydantic_ai import RunContext
from pydantic_ai.messages import (
    AgentStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
)
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from agent_runtime_core.lifecycle import DedupeKey, EventSpec, EventType
from agent_runtime_worker.agents.runtime_agent import RunDeps
from agent_runtime_worker.dependencies import WorkerDependencies

DELTA_FLUSH_INTERVAL_S: Final = 0.05
"""At most one ``model.text.delta`` write per this interval (after the first, written at once)."""
DELTA_MAX_CHARS: Final = 4096
"""A buffer this large is written without waiting for the interval (bounds event size)."""


class TextDeltaCoalescer:
    """Turns a stream of text chunks into few, ordered writes.

    The first chunk is written at once; later chunks are buffered and written by a background
    timer at most once per ``interval_s`` (or at once when the buffer reaches ``max_chars``).
    :meth:`drain` stops the timer and hands back what is still unwritten, so the caller can
    write it together with its final event. Writes never overlap and keep their order; each
    gets the next ``index`` (0, 1, ...).
    """

    def __init__(
        self,
        write: Callable[[str, int], Awaitable[None]],
        *,
        interval_s: float = DELTA_FLUSH_INTERVAL_S,
        max_chars: int = DELTA_MAX_CHARS,
    ) -> None:
        """Configure the coalescer.

        Args:
            write: Writes one delta: ``(text, index)``.
            interval_s: Minimum time between the starts of two timer writes.
            max_chars: Buffer size written without waiting for the timer.
        """
        self._write = write
        self.interval_s = interval_s
        self.max_chars = max_chars
        self._buffer: list[str] = []
        self._buffered_chars = 0
        self._next_index = 0
        self._last_write_at = float("-inf")
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._timer_writing = False
        self._closing = False

    @property
    def writes(self) -> int:
        """Number of deltas handed out so far (written, or returned by :meth:`drain`)."""
        return self._next_index

    async def add(self, text: str) -> None:
        """Buffer ``text``; write now if it is the first chunk or the buffer is full."""
        if not text or self._closing:
            return
        self._buffer.append(text)
        self._buffered_chars += len(text)
        if self._next_index == 0 or self._buffered_chars >= self.max_chars:
            await self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_periodically())

    async def drain(self) -> tuple[str, int]:
        """Stop the timer (letting a write in progress finish) and return ``(rest, index)``:
        the text not written yet and the index it must be written under."""
        self._closing = True
        timer, self._timer = self._timer, None
        if timer is not None:
            if not self._timer_writing:
                timer.cancel()
            await asyncio.wait([timer])
            if not timer.cancelled() and (error := timer.exception()) is not None:
                raise error
        async with self._lock:
            rest = self._take()
            index = self._next_index
            if rest:
                self._next_index += 1
            return rest, index

    def abort(self) -> None:
        """Stop the timer without writing anything more (the request failed)."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _take(self) -> str:
        text = "".join(self._buffer)
        self._buffer.clear()
        self._buffered_chars = 0
        return text

    async def _flush(self) -> None:
        async with self._lock:
            text = self._take()
            if not text:
                return
            index = self._next_index
            self._next_index += 1
            self._last_write_at = asyncio.get_running_loop().time()
            await self._write(text, index)

    async def _flush_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            delay = self._last_write_at + self.interval_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._closing:
                return
            self._timer_writing = True
            try:
                await self._flush()
            finally:
                self._timer_writing = False
            if self._closing or not self._buffer:
                self._timer = None
                return


class ModelEventRecorder:
    """Writes the events of one model request (one activity attempt)."""

    def __init__(self, ctx: RunContext[RunDeps], dependencies: WorkerDependencies) -> None:
        """Record the events of ``ctx``'s current request (inside its model-request activity)."""
        self.tenant_id = ctx.deps.tenant_id
        self.run_id = ctx.deps.run_id
        self.step = ctx.run_step
        self.events = dependencies.events
        self.budgets = dependencies.budgets
        # The governed model's handoff: the request's model and budget ticket.
        self.request = dependencies.streamed_requests.current()
        # The model as the agent version names it (`openai:gpt-4o`): with fallback, the one that answered.
        self.model_name = self.request.model_ref if self.request is not None else ctx.model.model_name
        self.attempt = activity.info().attempt
        self.started_written = False
        self.text_parts: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []
        self.deltas = TextDeltaCoalescer(self._write_delta)

    def _started(self) -> EventSpec:
        return EventSpec(
            EventType.MODEL_REQUEST_STARTED,
            {"step": self.step, "model": self.model_name, "attempt": self.attempt},
            DedupeKey.model_started(self.step, self.attempt),
        )

    def _delta(self, text: str, index: int) -> EventSpec:
        return EventSpec(
            EventType.MODEL_TEXT_DELTA,
            {"step": self.step, "attempt": self.attempt, "index": index, "delta": text},
            DedupeKey.model_delta(self.step, self.attempt, index),
        )

    async def _write(
        self, specs: list[EventSpec], also: Callable[[AsyncSession], Awaitable[object]] | None = None
    ) -> None:
        if not self.started_written:
            specs = [self._started(), *specs]
        await self.events.record_many(self.tenant_id, self.run_id, specs, also=also)
        self.started_written = True

    async def _write_delta(self, text: str, index: int) -> None:
        await self._write([self._delta(text, index)])

    async def on_event(self, event: AgentStreamEvent) -> None:
        """Record what ``event`` adds to the response."""
        text = ""
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            text = event.part.content
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            text = event.delta.content_delta
        if text:
            await self.deltas.add(text)  # the first write carries model.request.started
        elif not self.started_written:
            await self._write([])
        if isinstance(event, PartEndEvent):
            if isinstance(event.part, TextPart):
                self.text_parts.append(event.part.content)
            elif isinstance(event.part, ToolCallPart):
                self.tool_calls.append(
                    {
                        "tool_call_id": event.part.tool_call_id,
                        "tool": event.part.tool_name,
                        "args": event.part.args_as_dict(),
                    }
                )

    async def finish(self) -> None:
        """Write the unwritten text and ``model.request.finished`` in one transaction, with the
        request's ledger row when the request is a governed one of a run (the governed model
        leaves it to this transaction, see
        :class:`~agent_runtime_worker.governance.budgets.StreamedRequest`)."""
        rest, index = await self.deltas.drain()
        specs = [self._delta(rest, index)] if rest else []
        specs.append(
            EventSpec(
                EventType.MODEL_REQUEST_FINISHED,
                {
                    "step": self.step,
                    "model": self.model_name,
                    "attempt": self.attempt,
                    "text": "".join(self.text_parts) or None,
                    "tool_calls": self.tool_calls,
                },
                DedupeKey.model_finished(self.step, self.attempt),
            )
        )
        request = self.request
        ticket = request.ticket if request is not None else None
        stream = request.stream if request is not None else None
        if ticket is None or stream is None:
            await self._write(specs)
            return

        async def write_ledger(session: AsyncSession) -> None:
            # The handler has consumed the stream: its usage is final.
            await self.budgets.after_request(ticket, stream.get().usage, session=session)

        await self._write(specs, also=write_ledger)
