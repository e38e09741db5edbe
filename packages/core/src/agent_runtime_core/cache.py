"""Cache-aside for hot reads of a tenant's rows, in Redis (or Valkey), shared by every API process.

One generic class, :class:`CachedRows`, caches one kind of row (``agent``, ``agent_version``,
``thread``, ``store_item``). Readers call :meth:`CachedRows.get` with a loader
that reads Postgres in the caller's tenant session; writers call
:meth:`CachedRows.invalidate_after_commit` in the transaction that changes the row::

    agents = read_cache.rows("agent", Agent)          # once per process (see api/hot_reads.py)

    # read: from Redis when present, else from Postgres (and remembered)
    agent = await agents.get(tenant_id, agent_id, lambda: repository.get(agent_id))

    # write: in the same session scope as the UPDATE; the key is deleted right after the commit,
    # before the scope returns, so before the response is sent
    agents.invalidate_after_commit(session, tenant_id, agent_id)

Keys and values. ``agent_runtime:cache:<tenant>:<kind>:<id>`` is a Redis hash: field ``v`` holds
the row as JSON (``model_dump(mode="json")``, rebuilt with ``model_validate``: the same row
Postgres returned), field ``l`` a fill lease. The tenant is in the key and the loader runs in
that tenant's session (row-level security), so a hit never shows another tenant's row. A
missing row (``None``) is never cached: it may be created later.

Why a stale fill cannot happen (the race "a reader fills the old value after the writer
invalidated"): a reader that misses takes a lease (a random token in ``l``) in the same
script that found no value, **before** reading Postgres, and stores what it read only if its
token is still there (one script: compare, then set). A writer commits, then deletes the whole
key (value and lease). So either the writer's delete came after the reader took its lease (the
lease is gone: the fill is refused), or it came before, and then the reader's Postgres read
started after the commit and read the new row (READ COMMITTED: each statement sees what was
committed before it began). A lease that expired or was evicted refuses the fill as well:
every failure mode of the fence is a miss, never a stale hit.

No stale hit between a commit and its invalidation either. Right before the commit, after the
transaction's last flush, the writer *holds* the keys it will invalidate (field ``h``, a count of
writers; value and lease dropped; ``LEASE_MS`` at most). While a key is held, readers read
Postgres and fill nothing: before the commit they see the committed (old) row, which is still
the truth, and after it the new one. After the commit the writer releases its hold (the key goes
when no writer holds it). So a reader that learns of a write by any other means (a run's status,
an event, another client) and then reads never gets the older row, even when the writer is the
worker. A hold that fails (Redis down) costs nothing more than before: the release, or its
background retry (a plain delete), still follows the commit.

Memory: every key has a TTL (``cache_ttl_s``, or ``cache_kind_ttl_s[kind]``), values above
``cache_max_value_bytes`` are not cached, leases live ``LEASE_MS``. Redis is shared with the
event streams and rate limits, so we rely on per-key TTLs rather than an eviction policy.

Writes in the worker too. A thread's row also changes in the worker (a run's end hands the
thread over; a summary is added), and store items are written by the memory tools. So the
invalidation of those kinds is not left to API services: it happens where every process writes,
through the session. A :class:`~agent_runtime_core.db.Database` given a ``read_cache`` (the API
and the worker both set one) hands it to every scope's session, and

* every ORM flush of a :class:`~agent_runtime_core.models.Thread` row (admission, metadata update,
  soft delete, hand-over in ``RunRepository.transition``, by whichever process) schedules the
  deletion of its ``thread`` entry after the commit (:func:`_invalidate_flushed_threads`);
* repositories that write with SQL statements rather than the ORM (a thread's summary, store
  items) call :func:`invalidate_after_commit` themselves.

A store item with an ``expires_at`` is cached at most until then (``expires_at`` given to
:meth:`ReadCache.rows`), and a hit already past it is not served.

Redis down or slow: every call has a short timeout (``cache_redis_timeout_s``); a failure
counts ``error``, the read goes to Postgres, and Redis is skipped for
``cache_retry_after_failure_s`` (those reads count ``error`` too). A failed invalidation is
remembered and retried in the background (and before this process's next cache read) until it
succeeds or the value it guards has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.db import after_commit, before_commit
from agent_runtime_core.db.session import AFTER_COMMIT_KEY, BEFORE_COMMIT_KEY, READ_CACHE_KEY, TenantSession
from agent_runtime_core.metrics import record_cache_request
from agent_runtime_core.models import Thread
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "agent_runtime:cache"
LEASE_MS: Final = 10_000
"""How long a reader that missed may take to read Postgres and fill the key."""
PENDING_RETRY_S: Final = 1.0
WARNING_INTERVAL_S: Final = 30.0

THREAD: Final = "thread"
"""Kind of a thread's head as ``GET /v1/threads/{id}`` shows it, by thread id."""
STORE_ITEM: Final = "store_item"
"""Kind of a store item, by :func:`store_item_id`."""

RowT = TypeVar("RowT", bound=BaseModel)

# KEYS[1]: the key. ARGV: lease token, lease ms. The value, or nil after taking the lease, or 0
# while a writer holds the key (read Postgres, fill nothing).
_GET_OR_LEASE: Final = """
local held = tonumber(redis.call('HGET', KEYS[1], 'h') or '0')
if held > 0 then return 0 end
local value = redis.call('HGET', KEYS[1], 'v')
if value then return value end
redis.call('HSET', KEYS[1], 'l', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false
"""
# KEYS: the keys a transaction is about to commit. ARGV: hold ms. Drops value and lease; one
# more writer holds each key until its commit is over.
_HOLD: Final = """
for _, key in ipairs(KEYS) do
  redis.call('HDEL', key, 'v', 'l')
  redis.call('HINCRBY', key, 'h', 1)
  redis.call('PEXPIRE', key, ARGV[1])
end
return 1
"""
# KEYS: the keys a transaction committed. One writer less; the key goes when none is left.
_RELEASE: Final = """
for _, key in ipairs(KEYS) do
  redis.call('HDEL', key, 'v', 'l')
  if redis.call('HINCRBY', key, 'h', -1) <= 0 then redis.call('DEL', key) end
end
return 1
"""
# KEYS[1]: the key. ARGV: lease token, value, ttl ms. 1 when stored, 0 when the lease is gone.
_FILL: Final = """
if redis.call('HGET', KEYS[1], 'l') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
redis.call('HDEL', KEYS[1], 'l')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


def cache_key(tenant_id: str, kind: str, item_id: str) -> str:
    """``agent_runtime:cache:<tenant>:<kind>:<id>``."""
    return f"{KEY_PREFIX}:{tenant_id}:{kind}:{item_id}"


def store_item_id(namespace: Sequence[str], key: str) -> str:
    """The cache id of the item at ``namespace``/``key`` (unambiguous: a JSON array)."""
    return json.dumps([*namespace, key], separators=(",", ":"), ensure_ascii=False)


def invalidate_after_commit(session: AsyncSession, kind: str, tenant_id: str, *item_ids: str) -> None:
    """Delete the ``kind`` entries of ``item_ids`` once ``session``'s transaction has committed,
    if its database has a read cache (any process: API or worker)."""
    cache: ReadCache | None = session.sync_session.info.get(READ_CACHE_KEY)
    if cache is None or not item_ids:
        return
    cache.invalidate_around_commit(session, [cache_key(tenant_id, kind, item_id) for item_id in item_ids])


@event.listens_for(TenantSession, "after_flush")
def _invalidate_flushed_threads(session: Session, _flush: UOWTransaction) -> None:
    """Every thread row this flush changed (the lists still hold what was flushed): delete its
    ``thread`` entry after the commit. New rows are skipped: nothing can be cached for them."""
    cache: ReadCache | None = session.info.get(READ_CACHE_KEY)
    if cache is None or cache._redis is None:  # pyright: ignore[reportPrivateUsage]
        return
    keys = {
        cache_key(row.tenant_id, THREAD, row.id)
        for row in chain(session.dirty, session.deleted)
        if isinstance(row, Thread)
    }
    if keys:
        ordered = sorted(keys)
        before: list[Callable[[], Awaitable[None]]] = session.info.setdefault(BEFORE_COMMIT_KEY, [])
        before.append(lambda: cache.hold(*ordered))
        after: list[Callable[[], Awaitable[None]]] = session.info.setdefault(AFTER_COMMIT_KEY, [])
        after.append(lambda: cache.release(*ordered))


class ReadCache:
    """The Redis connection, the circuit and the pending invalidations every kind shares.

    Disabled (``redis_url`` empty or ``enabled=False``): :meth:`CachedRows.get` calls its loader
    and nothing is counted.
    """

    def __init__(
        self,
        redis_url: str | None,
        *,
        enabled: bool = True,
        ttl_s: float = 60.0,
        kind_ttl_s: dict[str, float] | None = None,
        timeout_s: float = 0.1,
        retry_after_failure_s: float = 5.0,
        max_value_bytes: int = 64 * 1024,
    ) -> None:
        self.enabled = enabled and bool(redis_url)
        self.ttl_s = ttl_s
        self.kind_ttl_s = dict(kind_ttl_s or {})
        self.retry_after_failure_s = retry_after_failure_s
        self.max_value_bytes = max_value_bytes
        self._redis: Redis | None = None
        if self.enabled and redis_url:
            self._redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
                redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
            )
            self._get_or_lease = self._redis.register_script(_GET_OR_LEASE)  # pyright: ignore[reportUnknownMemberType]
            self._fill = self._redis.register_script(_FILL)  # pyright: ignore[reportUnknownMemberType]
            self._hold = self._redis.register_script(_HOLD)  # pyright: ignore[reportUnknownMemberType]
            self._release = self._redis.register_script(_RELEASE)  # pyright: ignore[reportUnknownMemberType]
        self._skip_until = 0.0
        self._last_warning = 0.0
        self._pending: dict[str, float] = {}
        """Keys whose invalidation failed → monotonic time after which they need no retry."""
        self._retrier: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ReadCache:
        """The cache the settings describe (disabled without Redis or with ``cache_enabled`` off)."""
        return cls(
            settings.redis_url,
            enabled=settings.cache_enabled,
            ttl_s=settings.cache_ttl_s,
            kind_ttl_s=settings.cache_kind_ttl_s,
            timeout_s=settings.cache_redis_timeout_s,
            retry_after_failure_s=settings.cache_retry_after_failure_s,
            max_value_bytes=settings.cache_max_value_bytes,
        )

    def rows(
        self,
        kind: str,
        model: type[RowT],
        *,
        expires_at: Callable[[RowT], datetime | None] | None = None,
    ) -> CachedRows[RowT]:
        """The cache of rows of ``kind`` (a short name used in keys and metrics), rebuilt as
        ``model``; their TTL is ``kind_ttl_s[kind]``, else ``ttl_s``, and never beyond
        ``expires_at(row)`` (rows that expire: not cached past it, not served past it)."""
        return CachedRows(self, kind, model, self.kind_ttl_s.get(kind, self.ttl_s), expires_at=expires_at)

    @property
    def usable(self) -> bool:
        """Enabled, and no recent Redis failure."""
        return self._redis is not None and time.monotonic() >= self._skip_until

    def failed(self, exc: BaseException) -> None:
        """Skip Redis for a while after ``exc``; warn at most every 30 s."""
        now = time.monotonic()
        self._skip_until = now + self.retry_after_failure_s
        if now - self._last_warning >= WARNING_INTERVAL_S:
            self._last_warning = now
            logger.warning("read cache skipped: Redis failed (%r); reading Postgres", exc)

    async def get_or_lease(self, key: str, token: str) -> bytes | int | None:
        """The cached value of ``key``, or ``None`` after taking the fill lease ``token``, or
        ``0`` while a writer holds ``key``."""
        value: bytes | int | None = await self._get_or_lease(keys=[key], args=[token, LEASE_MS])  # pyright: ignore[reportUnknownVariableType]
        return value

    def invalidate_around_commit(self, session: AsyncSession, keys: Sequence[str]) -> None:
        """Hold ``keys`` right before ``session`` commits and release them right after."""
        if self._redis is None or not keys:
            return
        before_commit(session, lambda: self.hold(*keys))
        after_commit(session, lambda: self.release(*keys))

    async def hold(self, *keys: str) -> None:
        """Readers of ``keys`` read Postgres until :meth:`release` (or ``LEASE_MS``). Never
        raises: without the hold, the release still follows the commit."""
        if self._redis is None or not keys or not self.usable:
            return
        try:
            await self._hold(keys=list(keys), args=[LEASE_MS])  # pyright: ignore[reportUnknownVariableType]
        except Exception as exc:
            self.failed(exc)

    async def release(self, *keys: str) -> None:
        """Release a :meth:`hold` after the commit (the key goes when no writer holds it); a
        failure is retried as a plain delete (:meth:`invalidate`). Never raises."""
        if self._redis is None or not keys:
            return
        try:
            await self._release(keys=list(keys))  # pyright: ignore[reportUnknownVariableType]
        except Exception:
            await self.invalidate(*keys)

    async def fill(self, key: str, token: str, value: str, ttl_s: float) -> bool:
        """Store ``value`` if the lease ``token`` still holds ``key``."""
        if len(value) > self.max_value_bytes:
            return False
        stored = await self._fill(keys=[key], args=[token, value, max(1, int(ttl_s * 1000))])  # pyright: ignore[reportUnknownVariableType]
        return bool(stored)  # pyright: ignore[reportUnknownArgumentType]

    async def invalidate(self, *keys: str) -> None:
        """Delete ``keys`` (value and lease). Never raises: a failure is retried in the
        background until it succeeds or the values it guards have expired."""
        if self._redis is None or not keys:
            return
        try:
            await self._redis.delete(*keys)
        except Exception as exc:
            self.failed(exc)
            deadline = time.monotonic() + self.longest_ttl_s() + LEASE_MS / 1000
            for key in keys:
                self._pending[key] = deadline
            if self._retrier is None or self._retrier.done():
                self._retrier = asyncio.create_task(self._retry_pending())

    def longest_ttl_s(self) -> float:
        """The longest TTL of any kind: no value outlives a write by more than this."""
        return max([self.ttl_s, *self.kind_ttl_s.values()])

    async def flush_pending(self) -> bool:
        """Retry failed invalidations now; whether none is left."""
        if not self._pending or self._redis is None:
            return True
        now = time.monotonic()
        for key, deadline in list(self._pending.items()):
            if deadline <= now:
                del self._pending[key]
        keys = list(self._pending)
        if not keys:
            return True
        try:
            await self._redis.delete(*keys)
        except Exception as exc:
            self.failed(exc)
            return False
        for key in keys:
            self._pending.pop(key, None)
        return True

    async def _retry_pending(self) -> None:
        while self._pending:
            await asyncio.sleep(PENDING_RETRY_S)
            await self.flush_pending()

    @property
    def pending_invalidations(self) -> int:
        """Invalidations that failed and are still being retried."""
        return len(self._pending)

    async def aclose(self) -> None:
        """Try the pending invalidations once more, then close the connections."""
        if self._retrier is not None:
            self._retrier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrier
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self.flush_pending()
            await self._redis.aclose()


class CachedRows(Generic[RowT]):
    """Cache-aside for one kind of row of every tenant (see the module's docstring)."""

    def __init__(
        self,
        cache: ReadCache,
        kind: str,
        model: type[RowT],
        ttl_s: float,
        *,
        expires_at: Callable[[RowT], datetime | None] | None = None,
    ) -> None:
        self.cache = cache
        self.kind = kind
        self.model = model
        self.ttl_s = ttl_s
        self.expires_at = expires_at

    def _ttl_s(self, row: RowT) -> float:
        """How long ``row`` may stay cached: the kind's TTL, cut at the row's expiry."""
        expires = self.expires_at(row) if self.expires_at is not None else None
        if expires is None:
            return self.ttl_s
        return min(self.ttl_s, (expires - utcnow()).total_seconds())

    def key(self, tenant_id: str, item_id: str) -> str:
        """The Redis key of ``item_id`` of ``tenant_id``."""
        return cache_key(tenant_id, self.kind, item_id)

    async def get(
        self, tenant_id: str, item_id: str, load: Callable[[], Awaitable[RowT | None]]
    ) -> RowT | None:
        """The row ``item_id`` of ``tenant_id``: from Redis when cached, else ``await load()``
        (a read of Postgres in ``tenant_id``'s session), remembered unless ``None``.

        Never raises because of Redis: errors count ``error`` and read Postgres.
        """
        cache = self.cache
        if cache._redis is None:  # pyright: ignore[reportPrivateUsage]
            return await load()
        if not cache.usable or not await cache.flush_pending():
            record_cache_request(self.kind, "error")
            return await load()
        key = self.key(tenant_id, item_id)
        token = secrets.token_hex(16)
        try:
            raw = await cache.get_or_lease(key, token)
        except Exception as exc:
            cache.failed(exc)
            record_cache_request(self.kind, "error")
            return await load()
        if isinstance(raw, int):  # a writer is committing: the truth is in Postgres, for now
            record_cache_request(self.kind, "miss")
            return await load()
        if raw is not None:
            try:
                row = self._decode(raw)
            except ValueError:  # written by a build whose rows differ: read Postgres
                logger.warning("read cache: unreadable %s entry; reading Postgres", self.kind)
                record_cache_request(self.kind, "error")
                return await load()
            if self._ttl_s(row) > 0:
                record_cache_request(self.kind, "hit")
                return row
            # Past its expiry (Redis drops the key at the same moment, give or take a clock
            # tick): what Postgres says now, which is "gone" unless it was written again.
            record_cache_request(self.kind, "miss")
            return await load()
        record_cache_request(self.kind, "miss")
        row = await load()
        if row is not None and (ttl_s := self._ttl_s(row)) > 0:
            try:
                await cache.fill(key, token, self._encode(row), ttl_s)
            except Exception as exc:
                cache.failed(exc)
                record_cache_request(self.kind, "error")
        return row

    async def invalidate(self, tenant_id: str, *item_ids: str) -> None:
        """Delete the entries of ``item_ids`` now (never raises). Writers use
        :meth:`invalidate_after_commit`: deleting before the commit would let a reader refill
        the old row."""
        await self.cache.invalidate(*(self.key(tenant_id, item_id) for item_id in item_ids))

    def invalidate_after_commit(self, session: AsyncSession, tenant_id: str, *item_ids: str) -> None:
        """Delete the entries of ``item_ids`` once ``session``'s transaction has committed,
        before its scope returns (so before the response is sent); held from right before the
        commit (see the module's docstring)."""
        self.cache.invalidate_around_commit(session, [self.key(tenant_id, item_id) for item_id in item_ids])

    def _encode(self, row: RowT) -> str:
        return json.dumps(row.model_dump(mode="json"), separators=(",", ":"))

    def _decode(self, raw: bytes) -> RowT:
        data: Any = json.loads(raw)
        return self.model.model_validate(data)
