"""Circuit breakers per model-provider endpoint, shared by every worker through Redis.

An endpoint is a provider and a base URL (``openai`` at ``https://api.openai.com/v1``, an
``openai-compatible`` server, ...). Its breaker is::

    closed ──(N retryable failures within the window)──▶ open
    open ──(cool-down over: the next request is the probe)──▶ half_open
    half_open ──(the probe succeeds)──▶ closed
    half_open ──(the probe fails)──▶ open (a new cool-down)

While open, and while a probe is in flight, requests are refused without an HTTP call (the run
falls over to its next model). Exactly one request across all workers is the probe: every
transition is one Lua script, so Redis decides atomically, with Redis's own clock (workers'
clocks may differ). A probe that never reports back (its worker died) stops counting after
``probe_timeout_s`` and the next request probes again.

Only retryable failures count (429, 5xx, timeouts, connection errors): a 400 or 401 says
nothing about the endpoint's health, so it neither counts nor fails a probe (it closes it: the
endpoint answered). Successes do not reset the failure window: N failures within the window open
the breaker, whatever succeeded in between.

Why not a library: pybreaker's Redis storage is synchronous and reads then writes (two workers
can both probe); aiobreaker keeps state in memory; purgatory's Redis storage likewise lets every
caller through in half-open. None offers an atomic single probe across processes.

Redis keys: ``<prefix>:<endpoint id>`` (a hash: provider, base URL, state, times),
``<prefix>:<endpoint id>:failures`` (a sorted set of failure times within the window) and
``<prefix>:index`` (the set of endpoint ids, for listing). They expire a week after an
endpoint's last failure or state change.

With Redis down breakers fail open: requests are allowed, the failure is logged once per
outage, and Redis is not asked again for :attr:`CircuitBreakers.retry_after_failure_s`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agent_runtime_core.settings import Settings

logger = logging.getLogger(__name__)

BreakerStateName = Literal["closed", "open", "half_open"]

DEFAULT_KEY_PREFIX: Final = "agent_runtime:breaker"
KEY_TTL_S: Final = 7 * 24 * 3600

_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

# KEYS: hash, index. ARGV: id, provider, base_url, (unused), probe_timeout_ms, ttl_s, token.
# Returns {allowed (0/1), probe (0/1), state, retry_at_ms}.
_ACQUIRE: Final = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'provider', ARGV[2], 'base_url', ARGV[3], 'state', 'closed')
  redis.call('EXPIRE', KEYS[1], ARGV[6])
  redis.call('SADD', KEYS[2], ARGV[1])
  return {1, 0, 'closed', 0}
end
if state == 'closed' then return {1, 0, 'closed', 0} end
if state == 'open' then
  local probe_at = tonumber(redis.call('HGET', KEYS[1], 'probe_at') or '0')
  if now < probe_at then return {0, 0, 'open', probe_at} end
else
  local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
  if now < probe_until then return {0, 0, 'half_open', probe_until} end
end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', now + tonumber(ARGV[5]), 'probe_id', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {1, 1, 'half_open', 0}
"""
)

# KEYS: hash, failures, index.
# ARGV: id, provider, base_url, window_ms, threshold, ttl_s, token, member, cooldown_ms.
# Returns the state after the failure.
_FAILURE: Final = (
    _NOW
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  state = 'closed'
  redis.call('HSET', KEYS[1], 'provider', ARGV[2], 'base_url', ARGV[3], 'state', 'closed')
  redis.call('SADD', KEYS[3], ARGV[1])
end
if state == 'half_open' then
  if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'probe_id') == ARGV[7] then
    redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probe_at', now + tonumber(ARGV[9]))
    redis.call('HDEL', KEYS[1], 'probe_until', 'probe_id')
    redis.call('EXPIRE', KEYS[1], ARGV[6])
    return 'open'
  end
  return state
end
if state == 'open' then return state end
redis.call('HSET', KEYS[1], 'window_ms', ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[6])
local failures = redis.call('ZCARD', KEYS[2])
if failures >= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'probe_at', now + tonumber(ARGV[9]),
    'opened_after_failures', failures)
  redis.call('DEL', KEYS[2])
  return 'open'
end
return 'closed'
"""
)

# KEYS: hash, failures. ARGV: token, ttl_s. The probe succeeded (or the endpoint answered).
_PROBE_SUCCESS: Final = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'half_open' and redis.call('HGET', KEYS[1], 'probe_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'closed')
  redis.call('HDEL', KEYS[1], 'opened_at', 'probe_at', 'probe_until', 'probe_id', 'opened_after_failures')
  redis.call('DEL', KEYS[2])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'closed'
end
return state or 'closed'
"""

# KEYS: hash. ARGV: token. The probe ended without a verdict (cancelled): the next request probes.
_PROBE_RELEASE: Final = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'half_open' and redis.call('HGET', KEYS[1], 'probe_id') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'probe_until', 0)
  redis.call('HDEL', KEYS[1], 'probe_id')
  return 1
end
return 0
"""

# KEYS: hash, failures. ARGV: window_ms (unless the hash has one).
# Returns {fields, failures in window, now_ms}.
_READ: Final = (
    _NOW
    + """
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
local window = tonumber(redis.call('HGET', KEYS[1], 'window_ms') or ARGV[1])
local failures = redis.call('ZCOUNT', KEYS[2], now - window, '+inf')
return {fields, failures, now}
"""
)


@dataclass(frozen=True)
class BreakerConfig:
    """When breakers open and how long they stay open."""

    failure_threshold: int = 5
    window_s: float = 60.0
    cooldown_s: float = 30.0
    probe_timeout_s: float = 130.0


@dataclass(frozen=True)
class ProviderEndpoint:
    """A provider at a base URL: what one breaker guards."""

    provider: str
    base_url: str

    @property
    def id(self) -> str:
        """A stable, URL-safe id: ``<provider>-<12 hex of a hash of provider and base URL>``."""
        digest = hashlib.sha256(f"{self.provider} {self.base_url.rstrip('/')}".encode()).hexdigest()
        return f"{self.provider}-{digest[:12]}"


@dataclass(frozen=True)
class Permit:
    """The breaker's answer to one request."""

    allowed: bool
    state: BreakerStateName
    probe_token: str | None = None
    """Set when this request is the half-open probe; report its outcome with it."""
    retry_at: datetime | None = None
    """When refused: when the next probe may go (cool-down end, or a running probe's deadline)."""

    @property
    def is_probe(self) -> bool:
        """Whether this request is the one probe of a half-open breaker."""
        return self.probe_token is not None


ALLOWED_UNCHECKED: Final = Permit(allowed=True, state="closed")
"""The permit when Redis cannot be asked (breakers fail open)."""


@dataclass(frozen=True)
class BreakerState:
    """One endpoint's breaker, for the admin API and metrics."""

    id: str
    provider: str
    base_url: str
    state: BreakerStateName
    failures: int
    """Retryable failures within the window (while closed); the failures that opened it (while open)."""
    opened_at: datetime | None
    next_probe_at: datetime | None
    """Open: when the cool-down ends. Half-open: when the running probe's time is up."""


def _ms_to_datetime(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CircuitBreakers:
    """All breakers of one Redis, from one process (one instance per event loop)."""

    retry_after_failure_s: float = 5.0

    def __init__(
        self,
        redis: Redis,
        config: BreakerConfig,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
    ) -> None:
        """Use ``redis`` (decoded or not) with ``config``."""
        self.redis = redis
        self.config = config
        self.key_prefix = key_prefix
        self._acquire = redis.register_script(_ACQUIRE)
        self._failure = redis.register_script(_FAILURE)
        self._probe_success = redis.register_script(_PROBE_SUCCESS)
        self._probe_release = redis.register_script(_PROBE_RELEASE)
        self._read = redis.register_script(_READ)
        self._paused_until = 0.0
        self._outage_logged = False

    @classmethod
    def from_url(
        cls, url: str, config: BreakerConfig, *, key_prefix: str = DEFAULT_KEY_PREFIX
    ) -> CircuitBreakers:
        """Breakers on the Redis at ``url``, with short timeouts (a slow Redis must not slow requests)."""
        redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_connect_timeout=1.0, socket_timeout=1.0
        )
        return cls(redis, config, key_prefix=key_prefix)

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()

    def _key(self, endpoint_id: str) -> str:
        return f"{self.key_prefix}:{endpoint_id}"

    def _index(self) -> str:
        return f"{self.key_prefix}:index"

    # ------------------------------------------------------------------ requests (fail open)

    def _available(self) -> bool:
        return time.monotonic() >= self._paused_until

    def _redis_failed(self, error: Exception) -> None:
        self._paused_until = time.monotonic() + self.retry_after_failure_s
        if not self._outage_logged:
            self._outage_logged = True
            logger.warning("circuit breakers unavailable (Redis: %s); model requests are not guarded", error)

    def _redis_ok(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            logger.info("circuit breakers available again")

    async def acquire(self, endpoint: ProviderEndpoint) -> Permit:
        """May a request go to ``endpoint`` now? Allowed when Redis cannot be asked."""
        if not self._available():
            return ALLOWED_UNCHECKED
        token = secrets.token_hex(8)
        try:
            result = cast(
                list[Any],
                await self._acquire(
                    keys=[self._key(endpoint.id), self._index()],
                    args=[
                        endpoint.id,
                        endpoint.provider,
                        endpoint.base_url,
                        int(self.config.cooldown_s * 1000),
                        int(self.config.probe_timeout_s * 1000),
                        KEY_TTL_S,
                        token,
                    ],
                ),
            )
        except (RedisError, OSError) as error:
            self._redis_failed(error)
            return ALLOWED_UNCHECKED
        self._redis_ok()
        allowed, probe, state, retry_at = int(result[0]), int(result[1]), _text(result[2]), int(result[3])
        return Permit(
            allowed=bool(allowed),
            state=cast(BreakerStateName, state),
            probe_token=token if probe else None,
            retry_at=_ms_to_datetime(retry_at) if not allowed else None,
        )

    async def record_failure(self, endpoint: ProviderEndpoint, permit: Permit) -> BreakerStateName | None:
        """Count a retryable failure of a request ``permit`` let through; the state after it."""
        if not self._available():
            return None
        try:
            state = await self._failure(
                keys=[self._key(endpoint.id), f"{self._key(endpoint.id)}:failures", self._index()],
                args=[
                    endpoint.id,
                    endpoint.provider,
                    endpoint.base_url,
                    int(self.config.window_s * 1000),
                    self.config.failure_threshold,
                    KEY_TTL_S,
                    permit.probe_token or "",
                    secrets.token_hex(8),
                    int(self.config.cooldown_s * 1000),
                ],
            )
        except (RedisError, OSError) as error:
            self._redis_failed(error)
            return None
        self._redis_ok()
        return cast(BreakerStateName, _text(state))

    async def record_success(self, endpoint: ProviderEndpoint, permit: Permit) -> None:
        """The endpoint answered a request ``permit`` let through (closes a half-open breaker if
        it was the probe). No Redis call for an ordinary request."""
        if permit.probe_token is None or not self._available():
            return
        try:
            await self._probe_success(
                keys=[self._key(endpoint.id), f"{self._key(endpoint.id)}:failures"],
                args=[permit.probe_token, KEY_TTL_S],
            )
        except (RedisError, OSError) as error:
            self._redis_failed(error)

    async def release(self, endpoint: ProviderEndpoint, permit: Permit) -> None:
        """A probe ended without a verdict (e.g. the run was cancelled): let the next request probe."""
        if permit.probe_token is None or not self._available():
            return
        try:
            await self._probe_release(keys=[self._key(endpoint.id)], args=[permit.probe_token])
        except (RedisError, OSError) as error:
            self._redis_failed(error)

    # ------------------------------------------------------------------ admin (raise on Redis errors)

    async def get(self, endpoint_id: str) -> BreakerState | None:
        """One endpoint's breaker, or ``None`` if Redis has never seen it (raises ``RedisError``)."""
        result = await self._read(
            keys=[self._key(endpoint_id), f"{self._key(endpoint_id)}:failures"],
            args=[int(self.config.window_s * 1000)],
        )
        if not result:
            return None
        raw_fields, failures, _now = cast(list[Any], result)
        pairs = [_text(value) for value in cast(list[Any], raw_fields)]
        fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
        state = cast(BreakerStateName, fields.get("state", "closed"))
        opened_at = float(fields["opened_at"]) if "opened_at" in fields else None
        next_probe: float | None = None
        if state == "open":
            next_probe = float(fields.get("probe_at", "0"))
        elif state == "half_open":
            next_probe = float(fields.get("probe_until", "0"))
        count = int(failures)
        if state != "closed":
            count = int(fields.get("opened_after_failures", count))
        return BreakerState(
            id=endpoint_id,
            provider=fields.get("provider", ""),
            base_url=fields.get("base_url", ""),
            state=state,
            failures=count,
            opened_at=_ms_to_datetime(opened_at),
            next_probe_at=_ms_to_datetime(next_probe),
        )

    async def states(self) -> list[BreakerState]:
        """Every known endpoint's breaker, by provider and base URL (raises ``RedisError``)."""
        members = cast(set[Any], await self.redis.smembers(self._index()))  # pyright: ignore[reportUnknownMemberType]
        states: list[BreakerState] = []
        gone: list[str] = []
        for endpoint_id in sorted(_text(member) for member in members):
            state = await self.get(endpoint_id)
            if state is None:
                gone.append(endpoint_id)  # expired: forget it
            else:
                states.append(state)
        if gone:
            await self.redis.srem(self._index(), *gone)  # pyright: ignore[reportUnknownMemberType]
        return sorted(states, key=lambda s: (s.provider, s.base_url))

    async def reset(self, endpoint_id: str) -> BreakerState | None:
        """Close an endpoint's breaker, forget its failures; `None` if unknown (raises `RedisError`)."""
        key = self._key(endpoint_id)
        if not await self.redis.exists(key):
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "state", "closed")  # pyright: ignore[reportUnknownMemberType]
            fields = ("opened_at", "probe_at", "probe_until", "probe_id", "opened_after_failures")
            pipe.hdel(key, *fields)  # pyright: ignore[reportUnknownMemberType]
            pipe.delete(f"{key}:failures")
            await pipe.execute()
        return await self.get(endpoint_id)


def breaker_config(settings: Settings) -> BreakerConfig:
    """The breaker settings of ``settings`` (probe timeout: the request timeout plus 10 s by default)."""
    probe_timeout = settings.breaker_probe_timeout_s or settings.model_request_timeout_s + 10
    return BreakerConfig(
        failure_threshold=settings.breaker_failure_threshold,
        window_s=settings.breaker_window_s,
        cooldown_s=settings.breaker_cooldown_s,
        probe_timeout_s=probe_timeout,
    )


BREAKER_STATE_VALUES: Final[dict[BreakerStateName, int]] = {"closed": 0, "half_open": 1, "open": 2}
"""A gauge's value per state (closed 0, half-open 1, open 2), for metrics."""


async def breaker_states(breakers: CircuitBreakers) -> list[BreakerState]:
    """Every endpoint's breaker, for metrics: ``[]`` when Redis cannot be read (never raises).

    Publish e.g. ``agent_runtime_provider_breaker_state{provider, base_url, endpoint}`` with
    :data:`BREAKER_STATE_VALUES`. The API has the breakers at ``AppState.circuit_breakers``; a
    worker at ``agent_runtime_worker.models.governed.circuit_breakers()``.
    """
    try:
        return await breakers.states()
    except (RedisError, OSError) as error:
        logger.debug("breaker states unavailable: %s", error)
        return []
