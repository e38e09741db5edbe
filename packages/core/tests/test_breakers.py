"""Circuit breakers on a real Redis: the state machine, one probe across workers, failing open."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, Callable

import pytest

from agent_runtime_core.breakers import BreakerConfig, CircuitBreakers, Permit, ProviderEndpoint

CONFIG = BreakerConfig(failure_threshold=3, window_s=1.0, cooldown_s=0.3, probe_timeout_s=0.5)


@pytest.fixture
async def new_breakers(redis_url: str) -> AsyncGenerator[Callable[[], CircuitBreakers]]:
    """Builds breakers sharing one key prefix of this test alone: each is one 'worker'."""
    prefix = f"test:breaker:{uuid.uuid4().hex[:8]}"
    made: list[CircuitBreakers] = []

    def make() -> CircuitBreakers:
        breakers = CircuitBreakers.from_url(redis_url, CONFIG, key_prefix=prefix)
        made.append(breakers)
        return breakers

    yield make
    keys = [key async for key in made[0].redis.scan_iter(match=f"{prefix}:*")] if made else []
    if keys:
        await made[0].redis.delete(*keys)
    for breakers in made:
        await breakers.aclose()


def endpoint() -> ProviderEndpoint:
    return ProviderEndpoint("openai", f"http://127.0.0.1:{uuid.uuid4().int % 50000 + 10000}/v1")


async def fail(breakers: CircuitBreakers, target: ProviderEndpoint, times: int) -> None:
    for _ in range(times):
        permit = await breakers.acquire(target)
        assert permit.allowed
        await breakers.record_failure(target, permit)


async def test_opens_after_threshold_failures_then_one_probe_closes_it(
    new_breakers: Callable[[], CircuitBreakers],
) -> None:
    breakers, target = new_breakers(), endpoint()
    await fail(breakers, target, 2)
    assert (await breakers.acquire(target)).allowed  # 2 < 3: still closed
    state = await breakers.get(target.id)
    assert state is not None and (state.state, state.failures) == ("closed", 2)

    await fail(breakers, target, 1)
    refused = await breakers.acquire(target)
    assert (refused.allowed, refused.state) == (False, "open")
    state = await breakers.get(target.id)
    assert state is not None
    assert (state.state, state.failures, state.provider, state.base_url) == (
        "open",
        3,
        "openai",
        target.base_url,
    )
    assert state.opened_at is not None and state.next_probe_at is not None
    assert refused.retry_at == state.next_probe_at
    assert 0.29 <= (state.next_probe_at - state.opened_at).total_seconds() <= 0.31

    await asyncio.sleep(0.35)
    probe = await breakers.acquire(target)
    assert probe.allowed and probe.is_probe and probe.state == "half_open"
    assert not (await breakers.acquire(target)).allowed  # the probe is out: others wait
    await breakers.record_success(target, probe)
    after = await breakers.get(target.id)
    assert after is not None and (after.state, after.failures, after.opened_at) == ("closed", 0, None)
    assert (await breakers.acquire(target)).allowed


async def test_a_failed_probe_reopens_for_another_cooldown(
    new_breakers: Callable[[], CircuitBreakers],
) -> None:
    breakers, target = new_breakers(), endpoint()
    await fail(breakers, target, 3)
    await asyncio.sleep(0.35)
    probe = await breakers.acquire(target)
    assert probe.is_probe
    assert await breakers.record_failure(target, probe) == "open"
    assert not (await breakers.acquire(target)).allowed
    await asyncio.sleep(0.35)
    assert (await breakers.acquire(target)).is_probe


async def test_failures_older_than_the_window_do_not_count(
    new_breakers: Callable[[], CircuitBreakers],
) -> None:
    breakers, target = new_breakers(), endpoint()
    await fail(breakers, target, 2)
    await asyncio.sleep(1.1)
    await fail(breakers, target, 2)
    state = await breakers.get(target.id)
    assert state is not None and (state.state, state.failures) == ("closed", 2)


async def test_exactly_one_probe_across_many_workers(new_breakers: Callable[[], CircuitBreakers]) -> None:
    workers = [new_breakers() for _ in range(8)]
    target = endpoint()
    await fail(workers[0], target, 3)
    await asyncio.sleep(0.35)
    permits = await asyncio.gather(*(w.acquire(target) for w in workers for _ in range(5)))
    assert sum(p.is_probe for p in permits) == 1
    assert sum(p.allowed for p in permits) == 1


async def test_a_probe_that_never_reports_back_is_replaced_after_its_timeout(
    new_breakers: Callable[[], CircuitBreakers],
) -> None:
    first, second = new_breakers(), new_breakers()
    target = endpoint()
    await fail(first, target, 3)
    await asyncio.sleep(0.35)
    lost_probe = await first.acquire(target)  # its worker "dies"
    assert lost_probe.is_probe
    assert not (await second.acquire(target)).allowed
    await asyncio.sleep(0.55)
    new_probe = await second.acquire(target)
    assert new_probe.is_probe
    await first.record_success(target, lost_probe)  # a stale probe has no say any more
    state = await second.get(target.id)
    assert state is not None and state.state == "half_open"
    await second.record_success(target, new_probe)
    state = await second.get(target.id)
    assert state is not None and state.state == "closed"


async def test_a_released_probe_lets_the_next_request_probe(
    new_breakers: Callable[[], CircuitBreakers],
) -> None:
    breakers, target = new_breakers(), endpoint()
    await fail(breakers, target, 3)
    await asyncio.sleep(0.35)
    probe = await breakers.acquire(target)
    await breakers.release(target, probe)
    assert (await breakers.acquire(target)).is_probe


async def test_states_lists_endpoints_and_reset_closes(new_breakers: Callable[[], CircuitBreakers]) -> None:
    breakers = new_breakers()
    healthy, broken = endpoint(), ProviderEndpoint("anthropic", "http://127.0.0.1:1")
    assert (await breakers.acquire(healthy)).allowed
    await fail(breakers, broken, 3)
    states = {state.id: state for state in await breakers.states()}
    assert set(states) == {healthy.id, broken.id}
    assert states[healthy.id].state == "closed"
    assert states[broken.id].state == "open"
    reset = await breakers.reset(broken.id)
    assert reset is not None and reset.state == "closed" and reset.failures == 0
    assert (await breakers.acquire(broken)).allowed
    assert await breakers.reset("openai-000000000000") is None


async def test_redis_down_fails_open_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    breakers = CircuitBreakers.from_url("redis://127.0.0.1:1/0", CONFIG)
    breakers.retry_after_failure_s = 0.0  # ask Redis every time, to see the log is still once
    target = endpoint()
    with caplog.at_level(logging.WARNING, logger="agent_runtime_core.breakers"):
        permits: list[Permit] = [await breakers.acquire(target) for _ in range(3)]
        await breakers.record_failure(target, permits[0])
    assert all(p.allowed and not p.is_probe for p in permits)
    assert len([r for r in caplog.records if "circuit breakers unavailable" in r.message]) == 1
    await breakers.aclose()


def test_endpoint_ids_are_stable_and_distinct() -> None:
    a = ProviderEndpoint("openai", "https://api.openai.com/v1")
    assert a.id == ProviderEndpoint("openai", "https://api.openai.com/v1/").id
    assert a.id != ProviderEndpoint("openai-compatible", "https://api.openai.com/v1").id
    assert a.id.startswith("openai-") and len(a.id) == len("openai-") + 12
