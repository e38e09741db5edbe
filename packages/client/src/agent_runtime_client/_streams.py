"""Event streams that survive dropped connections: every event once, in order, until the end.

The API's streams are Server-Sent Events that can be resumed: a reconnecting client sends the
last ``id:`` it got as ``Last-Event-ID`` and the server replays what came after, then goes on
live. Proxies, load balancers and deploys cut long connections, so a caller following a run would
otherwise have to write that loop itself. :class:`EventStream` (and :class:`AsyncEventStream`)
write it once: when the connection breaks, or closes before the run's terminal event, they
reconnect from the last whole event they delivered (a message cut in half is never delivered),
skip anything they already delivered, and stop after the terminal event. The tenant-wide stream
resumes by ``<run_id>:<seq>`` and may repeat a few events after a reconnect (the server replays a
short window), so those are dropped by id.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from types import TracebackType
from typing import Protocol, Self

import httpx
from pydantic import ValidationError as PydanticValidationError

from agent_runtime_client._errors import StreamError, WaitTimeoutError
from agent_runtime_client._events import RunEvent
from agent_runtime_client._http import AsyncHTTP, Call, SyncHTTP
from agent_runtime_client._sse import SSEDecoder, SSEMessage

__all__ = ["AsyncEventStream", "EventStream", "RunPosition", "TenantPosition", "make_resumer"]

logger = logging.getLogger("agent_runtime_client")

DEFAULT_MAX_RECONNECTS = 10
"""Reconnections in a row that deliver no event before the stream gives up (``StreamError``)."""


class Position(Protocol):
    """Where a stream is, and which events it has already delivered."""

    ends_at_terminal: bool

    @property
    def last_event_id(self) -> str | None:
        """The ``Last-Event-ID`` to resume from (``None``: from the start)."""
        ...

    def accept(self, event: RunEvent) -> bool:
        """Record ``event``; ``False`` if it was already delivered (drop it)."""
        ...


class RunPosition:
    """A run stream's position: the ``seq`` of the last event delivered."""

    ends_at_terminal = True

    def __init__(self, after_seq: int | None = None) -> None:
        self.last_seq = after_seq

    @property
    def last_event_id(self) -> str | None:
        """The last delivered ``seq``, as the run stream's ``Last-Event-ID``."""
        return None if self.last_seq is None else str(self.last_seq)

    def accept(self, event: RunEvent) -> bool:
        """Deliver events after the last one only."""
        if self.last_seq is not None and event.seq <= self.last_seq:
            return False
        self.last_seq = event.seq
        return True


class TenantPosition:
    """The tenant stream's position: the last event's id, and the ids recently delivered."""

    ends_at_terminal = False
    remembered = 10_000

    def __init__(self, last_event_id: str | None = None) -> None:
        self._last_event_id = last_event_id
        self._seen: OrderedDict[str, None] = OrderedDict()

    @property
    def last_event_id(self) -> str | None:
        """``<run_id>:<seq>`` of the last event delivered."""
        return self._last_event_id

    def accept(self, event: RunEvent) -> bool:
        """Deliver each event id once (a reconnection replays a short window)."""
        if event.id in self._seen:
            return False
        self._seen[event.id] = None
        if len(self._seen) > self.remembered:
            self._seen.popitem(last=False)
        self._last_event_id = event.id
        return True


def _event(message: SSEMessage) -> RunEvent | None:
    if message.comment is not None or not message.data:
        return None
    try:
        return RunEvent.from_json(message.data)
    except (ValueError, PydanticValidationError):
        logger.warning("skipping a stream message that is not an event: %.200s", message.data)
        return None


class _Resumer:
    """What both stream kinds share: the call to (re)open, the deadline, the failure count."""

    def __init__(
        self,
        call: Callable[[str | None], Call],
        position: Position,
        *,
        stream_read_timeout_s: float,
        backoff: Callable[[int], float],
        deadline: float | None,
        max_reconnects: int,
    ) -> None:
        self.call = call
        self.position = position
        self.stream_read_timeout_s = stream_read_timeout_s
        self.backoff = backoff
        self.deadline = deadline
        self.max_reconnects = max_reconnects
        self.failures = 0
        self.reconnects = 0

    def read_timeout(self) -> float:
        """The read timeout of the next connection: the stream's, or the time left."""
        if self.deadline is None:
            return self.stream_read_timeout_s
        return max(0.01, min(self.stream_read_timeout_s, self.deadline - time.monotonic()))

    def check_deadline(self) -> None:
        """Raise ``WaitTimeoutError`` once the deadline has passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WaitTimeoutError("the stream's deadline passed before the run finished", run=None)

    def delivered(self) -> None:
        """An event got through: the connection works."""
        self.failures = 0

    def broke(self, error: BaseException | None) -> float:
        """The connection broke (``error``) or ended early (``None``): the wait before the next.

        Raises:
            StreamError: Too many reconnections in a row delivered nothing.
        """
        self.check_deadline()
        self.failures += 1
        if self.failures > self.max_reconnects:
            raise StreamError(
                f"the event stream failed {self.failures} times in a row "
                f"(last event id {self.position.last_event_id}): {error!r}"
            ) from error
        self.reconnects += 1
        # The first reconnection is immediate: a cut connection is the common case.
        delay = 0.0 if self.failures == 1 else self.backoff(self.failures - 1)
        if self.deadline is not None:
            delay = min(delay, max(0.0, self.deadline - time.monotonic()))
        logger.info(
            "event stream %s; resuming after %s in %.2f s",
            "ended early" if error is None else f"broke ({error!r})",
            self.position.last_event_id,
            delay,
        )
        return delay


class EventStream:
    """Run events as they happen, resumed transparently after a dropped connection.

    Iterate it; it ends after the run's terminal event (the tenant stream never ends). Close it
    (or use ``with``) to stop early.

    Example:
        >>> with client.runs.stream(run_id) as events:
        ...     for event in events:
        ...         print(event.seq, event.type)

    Attributes:
        reconnects: How many times the stream reconnected.
    """

    def __init__(self, http: SyncHTTP, resumer: _Resumer) -> None:
        self._http = http
        self._resumer = resumer
        self._events = self._follow()

    @property
    def last_event_id(self) -> str | None:
        """The id to resume from: the last event delivered."""
        return self._resumer.position.last_event_id

    @property
    def reconnects(self) -> int:
        """How many times the stream reconnected."""
        return self._resumer.reconnects

    def __iter__(self) -> Iterator[RunEvent]:
        return self

    def __next__(self) -> RunEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop: the connection is closed."""
        self._events.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _follow(self) -> Generator[RunEvent]:
        resumer, position = self._resumer, self._resumer.position
        while True:
            error: BaseException | None = None
            try:
                call = resumer.call(position.last_event_id)
                with self._http.stream(call, read_timeout_s=resumer.read_timeout()) as response:
                    decoder = SSEDecoder()
                    for line in response.iter_lines():
                        message = decoder.feed(line)
                        if message is None:
                            continue
                        resumer.check_deadline()
                        event = _event(message)
                        if event is None or not position.accept(event):
                            continue
                        resumer.delivered()
                        yield event
                        if position.ends_at_terminal and event.is_terminal:
                            return
            except httpx.TransportError as exc:  # the connection broke mid-stream
                error = exc
            self._http.sleep(resumer.broke(error))


class AsyncEventStream:
    """Run events as they happen, for ``async for``; resumed transparently after a dropped
    connection (see :class:`EventStream`).

    Example:
        >>> async with client.runs.stream(run_id) as events:
        ...     async for event in events:
        ...         print(event.seq, event.type)
    """

    def __init__(self, http: AsyncHTTP, resumer: _Resumer) -> None:
        self._http = http
        self._resumer = resumer
        self._events = self._follow()

    @property
    def last_event_id(self) -> str | None:
        """The id to resume from: the last event delivered."""
        return self._resumer.position.last_event_id

    @property
    def reconnects(self) -> int:
        """How many times the stream reconnected."""
        return self._resumer.reconnects

    def __aiter__(self) -> AsyncIterator[RunEvent]:
        return self

    async def __anext__(self) -> RunEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop: the connection is closed."""
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _follow(self) -> AsyncGenerator[RunEvent]:
        resumer, position = self._resumer, self._resumer.position
        while True:
            error: BaseException | None = None
            try:
                call = resumer.call(position.last_event_id)
                async with self._http.stream(call, read_timeout_s=resumer.read_timeout()) as response:
                    decoder = SSEDecoder()
                    async for line in response.aiter_lines():
                        message = decoder.feed(line)
                        if message is None:
                            continue
                        resumer.check_deadline()
                        event = _event(message)
                        if event is None or not position.accept(event):
                            continue
                        resumer.delivered()
                        yield event
                        if position.ends_at_terminal and event.is_terminal:
                            return
            except httpx.TransportError as exc:  # the connection broke mid-stream
                error = exc
            await self._http.sleep(resumer.broke(error))


def make_resumer(
    call: Callable[[str | None], Call],
    position: Position,
    *,
    stream_read_timeout_s: float,
    backoff: Callable[[int], float],
    timeout_s: float | None = None,
    max_reconnects: int = DEFAULT_MAX_RECONNECTS,
) -> _Resumer:
    """The resumption state of a new stream (``timeout_s``: give up after that long)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    return _Resumer(
        call,
        position,
        stream_read_timeout_s=stream_read_timeout_s,
        backoff=backoff,
        deadline=deadline,
        max_reconnects=max_reconnects,
    )
