"""Live fan-out of run events through Redis (or Valkey) streams.

Postgres is the record of every event (gap-free ``seq`` per run); Redis only carries committed
events to live readers quickly. Every writer appends events in Postgres, commits, **then** calls
:meth:`EventBus.publish`. A reader that misses something here (Redis down, trimmed, restarted)
fills the gap from Postgres, so Redis may lose anything without losing an event.

Two streams per event:

* ``<prefix>:run:<run_id>``: the events of one run, for ``GET /v1/runs/{id}/stream``. It expires
  :attr:`EventBus.finished_run_ttl_s` after the run's terminal event (and at the latest
  :attr:`EventBus.active_run_ttl_s` after its first event, for runs that never finish).
* ``<prefix>:tenant:<tenant_id>``: every event of a tenant, for dashboards
  (``GET /v1/events/stream``). Capped, never expires.

Both are capped with an approximate ``MAXLEN`` (``settings.event_stream_maxlen``). Each entry
holds the event's ``run_id``, ``seq``, ``type``, ``at`` and its public envelope as JSON, so a
reader sends the entry as it is.

Publishing never raises: a Redis failure is logged and publishing pauses for
:attr:`EventBus.retry_after_failure_s` (so a dead Redis costs activities nothing), after which
it is tried again. Reads raise :class:`EventBusUnavailable`; readers then fall back to Postgres.
Writers on a hot path use :meth:`EventBus.publish_soon`: it returns at once and a background task
publishes, in order, batching what piles up into one round trip.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from agent_runtime_core.lifecycle import TERMINAL_EVENT_TYPES
from agent_runtime_core.models import RunEvent
from agent_runtime_core.schemas import RunEventPublic
from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

"""Event types after which a run has no more events (its stream closes)."""

DEFAULT_KEY_PREFIX: Final = "agent_runtime"
MAX_PENDING: Final = 10_000
"""Events :meth:`EventBus.publish_soon` holds at most (the oldest are dropped beyond: readers
recover them from Postgres)."""
_BATCH: Final = 500
MAX_BLOCK_MS: Final = 10_000
"""Longest blocking read; the read connection's socket timeout is set above it."""


class EventBusUnavailable(Exception):
    """Redis could not be read (down, timed out, or paused after a recent failure)."""


def run_event_envelope(event: RunEvent) -> RunEventPublic:
    """The public envelope: ``{"id": "<run_id>:<seq>", "seq", "run_id", "type", "at", "data"}``."""
    return RunEventPublic.from_row(event)


def envelope_json(event: RunEvent) -> str:
    """The envelope as compact JSON: what SSE ``data:`` carries, from Redis and Postgres alike."""
    return run_event_envelope(event).model_dump_json()


@dataclass(frozen=True)
class StreamEntry:
    """One event as read back from a Redis stream."""

    entry_id: str
    """The Redis stream entry id (``<ms>-<n>``); only meaningful within one stream."""
    run_id: str
    seq: int
    type: str
    at: datetime
    envelope: str
    """The public envelope, JSON."""

    @property
    def is_terminal(self) -> bool:
        """Whether this is the run's last event."""
        return self.type in TERMINAL_EVENT_TYPES


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(entry_id: Any, fields: Mapping[Any, Any]) -> StreamEntry | None:
    decoded = {_text(key): _text(value) for key, value in fields.items()}
    try:
        return StreamEntry(
            entry_id=_text(entry_id),
            run_id=decoded["run_id"],
            seq=int(decoded["seq"]),
            type=decoded["type"],
            at=datetime.fromisoformat(decoded["at"]),
            envelope=decoded["envelope"],
        )
    except (KeyError, ValueError):
        logger.warning("ignoring malformed event stream entry %s", _text(entry_id))
        return None


class EventBus:
    """Publishes committed run events to Redis streams and reads them back.

    Two connection pools: one for publishing (short timeouts: a slow Redis must not slow an
    activity down) and one for blocking reads.
    """

    def __init__(
        self,
        url: str,
        *,
        maxlen: int,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        finished_run_ttl_s: int = 3600,
        active_run_ttl_s: int = 7 * 24 * 3600,
        retry_after_failure_s: float = 5.0,
        timeout_s: float = 1.0,
    ) -> None:
        """Describe the bus; nothing connects until the first command.

        Args:
            url: ``redis://host:port/db`` (``rediss://`` for TLS, ``unix://`` for a socket).
            maxlen: Approximate cap of each stream.
            key_prefix: First part of every key.
            finished_run_ttl_s: A run's stream expires this long after its terminal event.
            active_run_ttl_s: ...and at the latest this long after its first event.
            retry_after_failure_s: After a failure, publishing is skipped (and reads raise
                :class:`EventBusUnavailable`) for this long before Redis is tried again.
            timeout_s: Connect and command timeout of publishing.
        """
        self.url = url
        self.maxlen = maxlen
        self.key_prefix = key_prefix
        self.finished_run_ttl_s = finished_run_ttl_s
        self.active_run_ttl_s = active_run_ttl_s
        self.retry_after_failure_s = retry_after_failure_s
        self._writer: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._reader: Redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_connect_timeout=timeout_s, socket_timeout=MAX_BLOCK_MS / 1000 + 5
        )
        self._paused_until = 0.0
        self._healthy = True
        self._pending: deque[RunEvent] = deque()
        self._publisher: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EventBus | None:
        """The bus of ``settings.redis_url``, or ``None`` when it is empty (Redis disabled)."""
        if not settings.redis_url:
            return None
        return cls(settings.redis_url, maxlen=settings.event_stream_maxlen)

    # ------------------------------------------------------------------------------- keys

    def run_key(self, run_id: str) -> str:
        """Key of the stream of run ``run_id``."""
        return f"{self.key_prefix}:run:{run_id}"

    def tenant_key(self, tenant_id: str) -> str:
        """Key of the stream of every event of tenant ``tenant_id``."""
        return f"{self.key_prefix}:tenant:{tenant_id}"

    # ---------------------------------------------------------------------------- health

    @property
    def available(self) -> bool:
        """``False`` while paused after a failure (readers should use Postgres meanwhile)."""
        return time.monotonic() >= self._paused_until

    def _failed(self, action: str, error: BaseException) -> None:
        if self._healthy:  # once per outage, not once per event
            self._healthy = False
            logger.warning(
                "Redis at %s failed to %s (%s: %s); live events fall back to Postgres, retrying in %g s",
                self._safe_url(),
                action,
                type(error).__name__,
                error,
                self.retry_after_failure_s,
            )
        self._paused_until = time.monotonic() + self.retry_after_failure_s

    def _succeeded(self) -> None:
        if not self._healthy:
            self._healthy = True
            logger.warning("Redis at %s is reachable again; live events go through it", self._safe_url())

    def _safe_url(self) -> str:
        """The URL without credentials, for logs."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    async def ping(self) -> bool:
        """Whether Redis answers now (also ends a pause after a failure when it does)."""
        try:
            await self._writer.ping()  # pyright: ignore[reportUnknownMemberType]
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("answer a ping", error)
            return False
        self._paused_until = 0.0
        self._succeeded()
        return True

    # ------------------------------------------------------------------------- publishing

    async def publish(self, events: Iterable[RunEvent | None]) -> bool:
        """Add committed ``events`` to their run's and tenant's streams, in one round trip.

        Call it after the transaction that wrote the events has committed (readers may look
        the events up in Postgres as soon as they see them). ``None`` items (an
        ``append`` that was a duplicate) are skipped.

        Returns:
            Whether the events reached Redis. Never raises for Redis problems: Postgres is the
            record, and readers recover what Redis missed.
        """
        batch = [event for event in events if event is not None]
        if not batch or not self.available:
            return False
        try:
            async with self._writer.pipeline(transaction=False) as pipe:
                for event in batch:
                    fields: dict[FieldT, EncodableT] = {
                        "run_id": event.run_id,
                        "seq": event.seq,
                        "type": event.type,
                        "at": event.at.isoformat(),
                        "envelope": envelope_json(event),
                    }
                    run_key = self.run_key(event.run_id)
                    pipe.xadd(run_key, fields, maxlen=self.maxlen, approximate=True)
                    pipe.xadd(self.tenant_key(event.tenant_id), fields, maxlen=self.maxlen, approximate=True)
                    if event.type in TERMINAL_EVENT_TYPES:
                        pipe.expire(run_key, self.finished_run_ttl_s)
                    else:
                        pipe.expire(run_key, self.active_run_ttl_s, nx=True)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("publish events", error)
            return False
        except Exception:  # a bug here must not fail the activity or request that wrote the events
            logger.exception("unexpected error publishing run events")
            return False
        self._succeeded()
        return True

    def publish_soon(self, events: Iterable[RunEvent | None]) -> None:
        """Queue committed ``events`` for :meth:`publish` by a background task; returns at once.

        Events are published in the order they were queued; what piles up while a publish is in
        flight goes out together in the next round trip. Nothing is queued while Redis is paused
        after a failure. Call from the event loop that uses this bus.
        """
        if not self.available:
            return
        self._pending.extend(event for event in events if event is not None)
        if len(self._pending) > MAX_PENDING:
            dropped = len(self._pending) - MAX_PENDING
            for _ in range(dropped):
                self._pending.popleft()
            logger.warning("dropped %d unpublished events (Redis too slow); readers use Postgres", dropped)
        if self._pending and (self._publisher is None or self._publisher.done()):
            self._publisher = asyncio.get_running_loop().create_task(self._publish_pending())

    async def _publish_pending(self) -> None:
        while self._pending:
            batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
            await self.publish(batch)

    async def flush(self, timeout_s: float = 5.0) -> None:
        """Wait (at most ``timeout_s``) until what :meth:`publish_soon` queued is published."""
        publisher = self._publisher
        if publisher is not None and not publisher.done():
            await asyncio.wait([publisher], timeout=timeout_s)

    # ---------------------------------------------------------------------------- reading

    async def last_entry_id(self, key: str) -> str:
        """Id of the newest entry of stream ``key`` (``"0-0"`` when it is empty or missing).

        Take it *before* reading Postgres: everything committed after the Postgres read was
        published after this id.

        Raises:
            EventBusUnavailable: Redis cannot be reached (or is paused after a failure).
        """
        if not self.available:
            raise EventBusUnavailable(f"Redis at {self._safe_url()} is paused after a failure")
        try:
            newest: Any = await self._reader.xrevrange(key, count=1)
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("read a stream", error)
            raise EventBusUnavailable(str(error)) from error
        return _text(newest[0][0]) if newest else "0-0"

    async def read(self, key: str, after_id: str, *, block_ms: int, count: int = 500) -> list[StreamEntry]:
        """Entries of stream ``key`` after ``after_id``, waiting up to ``block_ms`` for one.

        Returns:
            The entries, oldest first (empty when none arrived in time).

        Raises:
            EventBusUnavailable: Redis cannot be reached (or is paused after a failure).
        """
        if not self.available:
            raise EventBusUnavailable(f"Redis at {self._safe_url()} is paused after a failure")
        block = max(1, min(block_ms, MAX_BLOCK_MS))
        try:
            response: Any = await self._reader.xread({key: after_id}, count=count, block=block)
        except (RedisError, OSError, TimeoutError) as error:
            self._failed("read a stream", error)
            raise EventBusUnavailable(str(error)) from error
        entries: list[StreamEntry] = []
        for _stream, stream_entries in _stream_items(response):
            for entry_id, fields in stream_entries:
                entry = _entry(entry_id, fields)
                if entry is not None:
                    entries.append(entry)
        return entries

    async def aclose(self) -> None:
        """Publish what is queued (for a few seconds at most), then close both connection pools."""
        await self.flush()
        if self._publisher is not None and not self._publisher.done():
            self._publisher.cancel()
        self._pending.clear()
        for client in (self._writer, self._reader):
            try:
                await client.aclose()
            except (RedisError, OSError):  # closing a broken connection is not worth a failure
                logger.debug("error closing a Redis connection", exc_info=True)
            # Forget the closed connections now: otherwise the pool's finalizer does it, with a
            # lazy import, whenever the garbage collector runs, e.g. inside Temporal's workflow
            # sandbox (which then warns and re-imports redis there).
            client.connection_pool.reset()


def _stream_items(response: Any) -> list[tuple[Any, list[tuple[Any, Mapping[Any, Any]]]]]:
    """XREAD answers a list of ``[stream, entries]`` (RESP2) or a dict (RESP3)."""
    if not response:
        return []
    if isinstance(response, dict):
        return list(cast(dict[Any, Any], response).items())
    return [(item[0], item[1]) for item in response]
