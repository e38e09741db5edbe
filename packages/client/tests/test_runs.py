"""Runs through the SDK against the real API, worker and Temporal: start, stream, wait, resume a
stream after a dropped connection, and retry a creation whose answer was lost."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from agent_runtime_client import (
    AgentRuntime,
    AsyncAgentRuntime,
    EventType,
    RetryPolicy,
    RunEvent,
    RunStatus,
    ServiceUnavailableError,
)

from .conftest import Stack
from .support import QUESTION, proxy_in_front_of, serve

pytestmark = pytest.mark.timeout(60)


def _check_calculator_run(events: list[RunEvent]) -> None:
    """The events of a succeeded `6*7` run: gap-free, one terminal event at the end, the tool
    call and its result, and the answer streamed as text."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == EventType.RUN_QUEUED
    assert events[-1].type == EventType.RUN_SUCCEEDED and events[-1].is_terminal
    assert [e for e in events if e.is_terminal] == [events[-1]]
    calls = [e.tool_call for e in events if e.tool_call is not None]
    assert [(c.tool, c.args) for c in calls] == [("calculator", {"expression": "6*7"})]
    results = [e.tool_result for e in events if e.tool_result is not None]
    assert len(results) == 1 and results[0].ok and "42" in str(results[0].result)
    text = "".join(e.text_delta for e in events if e.text_delta is not None)
    assert "42" in text
    assert events[-1].usage is not None and events[-1].usage.requests == 2


async def test_async_client_creates_a_run_streams_it_to_success_and_waits(
    aclient: AsyncAgentRuntime, calculator_agent: str
) -> None:
    handle = await aclient.runs.create(calculator_agent, QUESTION)
    assert handle.id.startswith("run_") and handle.status == RunStatus.QUEUED

    events = [event async for event in handle.stream()]

    _check_calculator_run(events)
    run = await handle.wait(timeout=30)
    assert run.status == RunStatus.SUCCEEDED and run.is_terminal
    assert "42" in str(run.output)
    recorded = [event async for event in handle.events()]
    assert recorded == events


async def test_sync_client_creates_a_run_waits_for_it_and_replays_its_stream(
    client: AgentRuntime, calculator_agent: str
) -> None:
    def scenario() -> tuple[RunStatus | str, str, list[RunEvent], list[RunEvent]]:
        handle = client.runs.create(calculator_agent, QUESTION)
        run = handle.wait(timeout=30)
        with handle.stream() as stream:  # a finished run: the replay, then the stream ends
            replayed = list(stream)
        after_five = list(client.runs.stream(run.id, after=5))
        return run.status, str(run.output), replayed, after_five

    status, output, replayed, after_five = await asyncio.to_thread(scenario)

    assert status == RunStatus.SUCCEEDED and "42" in output
    _check_calculator_run(replayed)
    assert after_five == replayed[5:]


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_a_stream_cut_mid_event_resumes_with_every_event_once(
    stack: Stack, calculator_agent: str, flavour: str
) -> None:
    async with proxy_in_front_of(stack.url) as (proxy, url):
        # ~200 bytes of headers, then events of ~250-400 bytes: the cut lands inside the fourth or so.
        cut = proxy.cut_once("GET", "/stream", after_bytes=1400)
        if flavour == "async":
            async with AsyncAgentRuntime(url, stack.api_key) as client:
                handle = await client.runs.create(calculator_agent, QUESTION)
                stream = handle.stream()
                events = [event async for event in stream]
                recorded = [event async for event in handle.events()]
        else:

            def scenario() -> tuple[list[RunEvent], list[RunEvent], int]:
                with AgentRuntime(url, stack.api_key) as client:
                    handle = client.runs.create(calculator_agent, QUESTION)
                    with handle.stream() as stream:
                        events = list(stream)
                    return events, list(handle.events()), stream.reconnects

            events, recorded, reconnects = await asyncio.to_thread(scenario)
            assert reconnects == 1

    assert cut.done.is_set()
    assert sum("/stream" in line for line in proxy.requests) == 2  # the first, then one resumption
    assert [e.id for e in events] == [e.id for e in recorded]  # nothing lost, nothing twice
    assert events == recorded
    _check_calculator_run(events)


async def test_tenant_stream_follows_every_run_of_an_agent(
    aclient: AsyncAgentRuntime, calculator_agent: str
) -> None:
    stream = aclient.events.stream(agent_id=calculator_agent)
    handle = await aclient.runs.create(calculator_agent, QUESTION)
    seen: list[RunEvent] = []
    async with stream:
        async for event in stream:
            if event.run_id == handle.id:
                seen.append(event)
                if event.is_terminal:
                    break
    assert seen[-1].type == EventType.RUN_SUCCEEDED
    assert [e.seq for e in seen] == sorted({e.seq for e in seen})  # in order, no repeats


async def test_a_lost_answer_to_a_run_creation_is_retried_with_the_same_key_and_makes_one_run(
    stack: Stack, calculator_agent: str
) -> None:
    marker = f"{QUESTION} ({uuid.uuid4().hex[:8]})"
    async with proxy_in_front_of(stack.url) as (proxy, url):
        # The API creates the run, then the connection drops before any byte of the answer.
        cut = proxy.cut_once("POST", "/v1/runs", after_bytes=0)
        retry = RetryPolicy(initial_delay_s=0.05)
        async with AsyncAgentRuntime(url, stack.api_key, retry=retry) as client:
            handle = await client.runs.create(calculator_agent, marker)
            await handle.wait(timeout=30)
            runs = [run async for run in client.runs.list(agent_id=calculator_agent, limit=100)]

    assert cut.done.is_set()
    assert proxy.requests.count("POST /v1/runs") == 2
    assert [run.id for run in runs if run.input == marker] == [handle.id]


async def test_an_explicit_idempotency_key_returns_the_original_run(
    aclient: AsyncAgentRuntime, calculator_agent: str
) -> None:
    key = f"sdk-test-{uuid.uuid4()}"
    first = await aclient.runs.create(calculator_agent, QUESTION, idempotency_key=key)
    second = await aclient.runs.create(calculator_agent, QUESTION, idempotency_key=key)
    assert second.id == first.id
    await first.wait(timeout=30)


async def test_a_run_refused_by_an_outage_is_started_by_a_retry_with_the_same_key(
    stack: Stack, calculator_agent: str
) -> None:
    """Temporal is unreachable: 503 with `Retry-After`, the run waits queued under its key, and
    the same call once Temporal is back starts that run (not a second one)."""
    from agent_runtime_api.main import create_app

    marker, key = f"{QUESTION} ({uuid.uuid4().hex[:8]})", f"sdk-outage-{uuid.uuid4()}"
    outage = create_app(stack.settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    async with serve(outage) as outage_url:
        retry = RetryPolicy(max_delay_s=1)  # the API asks for 5 s: raised at once
        async with AsyncAgentRuntime(outage_url, stack.api_key, retry=retry) as client:
            started = time.monotonic()
            with pytest.raises(ServiceUnavailableError) as refused:
                await client.runs.create(calculator_agent, marker, idempotency_key=key)
            assert time.monotonic() - started < 5
    assert refused.value.status == 503 and refused.value.retry_after == 5
    assert "Idempotency-Key" in refused.value.detail

    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        queued = [run async for run in client.runs.list(agent_id=calculator_agent) if run.input == marker]
        assert [run.status for run in queued] == [RunStatus.QUEUED]
        handle = await client.runs.create(calculator_agent, marker, idempotency_key=key)
        assert handle.id == queued[0].id
        assert (await handle.wait(timeout=30)).status == RunStatus.SUCCEEDED
