"""Per-tenant request rate limits, kept in Redis by the `limits` library.

Two limits apply to every authenticated ``/v1`` request of a tenant: ``rate_limit_per_minute``
(sliding window) and ``rate_limit_burst`` per second, the tenant's own when the operators set
them (:mod:`agent_runtime_api.tenant_limits`), else the deployment's. Both counters live in
Redis, so every API process shares them. `limits` talks to Redis through our redis-py
(``implementation="redispy"``; its default, coredis, is not installed).

Redis being unreachable must not take the API down with it: the check then lets the request
through (fail open), logs a warning at most every 30 s, and skips Redis for a few seconds so
requests do not each wait for the timeout.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Final

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import ConnectionPool

from agent_runtime_core.errors import RateLimitedError
from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

KEY_PREFIX: Final = "agent-runtime:ratelimit"
REDIS_RETRY_AFTER_FAILURE_S: Final = 5.0
WARNING_INTERVAL_S: Final = 30.0


class TenantRateLimiter:
    """Checks and counts one request of a tenant against its limits."""

    def __init__(self, redis_url: str, *, timeout_s: float) -> None:
        self._pool: ConnectionPool = ConnectionPool.from_url(  # pyright: ignore[reportUnknownMemberType]
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            connection_pool=self._pool,  # pyright: ignore[reportArgumentType]
        )
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._redis_down_until = 0.0
        self._last_warning = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> TenantRateLimiter | None:
        """The limiter the settings ask for (``None``: disabled, or no Redis configured)."""
        if not settings.rate_limit_enabled or not settings.redis_url:
            return None
        return cls(settings.redis_url, timeout_s=settings.rate_limit_redis_timeout_s)

    async def check(self, tenant_id: str, *, per_minute: int, burst: int) -> None:
        """Count one request of ``tenant_id`` against ``burst`` per second and ``per_minute``;
        raise 429 (``rate_limited``) when over either.

        Both windows are counted in parallel (one Redis round trip of latency); a refused request
        still counts, as it is still load.
        """
        if time.monotonic() < self._redis_down_until:
            return
        limits: tuple[RateLimitItem, ...] = (
            RateLimitItemPerSecond(burst),
            RateLimitItemPerMinute(per_minute),
        )
        try:
            allowed = await asyncio.gather(*(self._limiter.hit(item, tenant_id) for item in limits))
            if all(allowed):
                return
            exceeded = limits[allowed.index(False)]
            stats = await self._limiter.get_window_stats(exceeded, tenant_id)
        except Exception as exc:
            self._fail_open(exc)
            return
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        error = RateLimitedError(
            f"Rate limit of {exceeded.amount} requests per {exceeded.GRANULARITY.name} exceeded "
            f"for this tenant; retry in {retry_after} s.",
            retry_after_s=retry_after,
        )
        error.headers.update(
            {
                "RateLimit-Limit": str(exceeded.amount),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(retry_after),
            }
        )
        raise error

    def _fail_open(self, exc: Exception) -> None:
        now = time.monotonic()
        self._redis_down_until = now + REDIS_RETRY_AFTER_FAILURE_S
        if now - self._last_warning >= WARNING_INTERVAL_S:
            self._last_warning = now
            logger.warning(
                "rate limits not enforced: Redis is unreachable (%s); letting requests through", exc
            )

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self._pool.disconnect()
