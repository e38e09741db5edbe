"""When the client sends a request again, and how long it waits first.

A 429 or 503 means the API did nothing: the tenant was over its rate limit or run cap, or a
dependency was down. Both carry ``Retry-After``, and retrying sooner is refused again, so the
client waits exactly that long; a wait longer than the policy's cap is not waited for at all (the
error is raised at once, with ``retry_after``, so a caller can decide). A broken connection is
different: the request may have been carried out, so it is sent again only when doing it twice is
harmless (reads, PUT/DELETE, and run creation, which the API makes idempotent by its
``Idempotency-Key``). A connection that was never made is always safe to retry.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

__all__ = ["RetryPolicy", "parse_retry_after"]

_GATEWAY_STATUSES = frozenset({502, 504})
"""A gateway's timeout or bad gateway: the API may have done the work, so only safe requests."""

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left the client: always safe to retry."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or ``None``.

    Example:
        >>> parse_retry_after("2")
        2.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinities
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries (every client has one; pass ``retry=RetryPolicy(...)``).

    Attributes:
        max_attempts: Attempts in all, the first included (1: never retry).
        initial_delay_s: Wait before the first retry when the API named none (doubling after).
        max_delay_s: The longest the client waits before one retry. A ``Retry-After`` above it is
            not waited for: the error is raised at once.
        retry_statuses: Statuses retried whatever the request (the API did nothing).

    Example:
        >>> client = AgentRuntime(retry=RetryPolicy(max_attempts=3, max_delay_s=10))
        >>> client = AgentRuntime(retry=RetryPolicy.none())  # never retry
    """

    max_attempts: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 503}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must not be negative")

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based) when the API named none: doubling
        from ``initial_delay_s``, capped, with jitter so clients do not retry in lockstep."""
        delay = min(self.max_delay_s, self.initial_delay_s * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def delay_after_status(
        self, attempt: int, status: int, retry_after: float | None, *, idempotent: bool
    ) -> float | None:
        """Seconds to wait before retrying after an error ``status``, or ``None``: do not retry."""
        if attempt >= self.max_attempts:
            return None
        if status not in self.retry_statuses and not (idempotent and status in _GATEWAY_STATUSES):
            return None
        if retry_after is None:
            return self.backoff(attempt)
        if retry_after > self.max_delay_s:
            return None
        return retry_after

    def delay_after_error(
        self, attempt: int, error: httpx.TransportError, *, idempotent: bool
    ) -> float | None:
        """Seconds to wait before retrying after a transport error, or ``None``: do not retry."""
        if attempt >= self.max_attempts:
            return None
        if not idempotent and not isinstance(error, _NEVER_SENT):
            return None
        return self.backoff(attempt)
