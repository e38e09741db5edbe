"""Retries against the real rate limiter (Redis): a tenant whose operators set a burst limit of 2
requests per second gets 429s with `Retry-After`; the SDK waits that long and succeeds, raises at
once when the wait is above its cap, and raises a typed error when it may not retry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator

import pytest

from agent_runtime_client import AgentRuntime, AsyncAgentRuntime, RateLimitError, RetryPolicy

from .conftest import Stack
from .support import issue_api_key

pytestmark = pytest.mark.timeout(60)

BURST = 2


@pytest.fixture
async def limited_key(stack: Stack, tenant_id: str) -> AsyncGenerator[str]:
    """An admin key of a tenant allowed 2 requests per second (set by the platform's operators)."""
    async with AsyncAgentRuntime(stack.url, stack.operator_key) as operator:
        limits = await operator.limits.set_tenant(tenant_id, rate_limit_burst=BURST)
        assert (limits.rate_limit_burst.value, limits.rate_limit_burst.source) == (BURST, "tenant")
        yield await issue_api_key(stack.database, tenant_id, ["admin"])
        await operator.limits.reset_tenant(tenant_id)


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]


async def test_async_client_waits_as_long_as_retry_after_says_and_succeeds(
    stack: Stack, limited_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_runtime_client")
    async with AsyncAgentRuntime(stack.url, limited_key) as client:
        started = time.monotonic()
        pages = [await client.agents.list().page() for _ in range(BURST + 2)]
        elapsed = time.monotonic() - started

    assert len(pages) == BURST + 2
    retries = _retries(caplog)
    assert retries and all("after HTTP 429" in line for line in retries), retries
    # The API asked for whole seconds (`Retry-After: 1`), and the client waited exactly that.
    assert all("in 1.00 s" in line for line in retries), retries
    assert elapsed >= len(retries) * 1.0


async def test_sync_client_waits_as_long_as_retry_after_says_and_succeeds(
    stack: Stack, limited_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_runtime_client")

    def scenario() -> tuple[int, float]:
        with AgentRuntime(stack.url, limited_key) as client:
            started = time.monotonic()
            count = sum(1 for _ in range(BURST + 2) if client.limits.get().rate_limit_burst.value == BURST)
            return count, time.monotonic() - started

    count, elapsed = await asyncio.to_thread(scenario)

    assert count == BURST + 2
    retries = _retries(caplog)
    assert retries and all("GET /v1/limits in 1.00 s after HTTP 429" in line for line in retries)
    assert elapsed >= 1.0


async def _until_limited(client: AsyncAgentRuntime) -> tuple[RateLimitError, float]:
    """Call until refused; the error and how long the refused call took."""
    for _ in range(BURST + 3):
        started = time.monotonic()
        try:
            await client.agents.list().page()
        except RateLimitError as error:
            return error, time.monotonic() - started
    raise AssertionError("the rate limit was never reached")


async def test_a_retry_after_above_the_cap_is_raised_at_once(stack: Stack, limited_key: str) -> None:
    retry = RetryPolicy(max_delay_s=0.5)  # the API will ask for 1 s
    async with AsyncAgentRuntime(stack.url, limited_key, retry=retry) as client:
        error, took = await _until_limited(client)
    assert took < 0.5
    assert (error.status, error.code) == (429, "rate_limited")
    assert error.retry_after is not None and error.retry_after >= 1
    assert error.headers["ratelimit-limit"] == str(BURST)


async def test_no_retries_when_the_policy_allows_none(
    stack: Stack, limited_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_runtime_client")
    async with AsyncAgentRuntime(stack.url, limited_key, retry=RetryPolicy.none()) as client:
        error, _took = await _until_limited(client)
    assert error.code == "rate_limited" and _retries(caplog) == []
