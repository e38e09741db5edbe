"""The event bus against a real Redis (or Valkey): publish, read back, caps, expiry, outages."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.event_bus import EventBus, EventBusUnavailable, envelope_json
from agent_runtime_core.models import RunEvent
from agent_runtime_core.models.base import utcnow


def event(run_id: str, tenant_id: str, seq: int, event_type: str = "tool.call.started") -> RunEvent:
    return RunEvent(
        run_id=run_id,
        seq=seq,
        tenant_id=tenant_id,
        type=event_type,
        at=utcnow(),
        data={"n": seq},
        dedupe_key=str(seq),
    )


@pytest.fixture
async def bus(redis_url: str):  # type: ignore[no-untyped-def]
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    bus = EventBus(redis_url, maxlen=100, key_prefix=prefix, finished_run_ttl_s=60)
    yield bus
    redis = bus._writer  # pyright: ignore[reportPrivateUsage]
    keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await bus.aclose()


async def test_published_events_are_read_back_from_run_and_tenant_streams(
    bus: EventBus, tenant_id: str
) -> None:
    run_id = f"run_{uuid.uuid4().hex}"
    start = await bus.last_entry_id(bus.run_key(run_id))
    assert start == "0-0"
    written = [event(run_id, tenant_id, 1, "run.queued"), event(run_id, tenant_id, 2)]
    assert await bus.publish([written[0], None, written[1]])
    newest: dict[str, str] = {}
    for key in (bus.run_key(run_id), bus.tenant_key(tenant_id)):
        entries = await bus.read(key, start, block_ms=100)
        newest[key] = entries[-1].entry_id
        assert [(e.run_id, e.seq, e.type) for e in entries] == [
            (run_id, 1, "run.queued"),
            (run_id, 2, "tool.call.started"),
        ]
        assert [e.envelope for e in entries] == [envelope_json(w) for w in written]
        assert json.loads(entries[1].envelope)["id"] == f"{run_id}:2"
        assert entries[0].at == written[0].at
        assert await bus.read(key, entries[-1].entry_id, block_ms=50) == []
    for key, entry_id in newest.items():
        assert await bus.last_entry_id(key) == entry_id


async def test_streams_are_capped_and_a_finished_run_stream_expires(bus: EventBus, tenant_id: str) -> None:
    run_id = f"run_{uuid.uuid4().hex}"
    for start in range(0, 1000, 100):
        await bus.publish([event(run_id, tenant_id, seq) for seq in range(start + 1, start + 101)])
    redis = bus._writer  # pyright: ignore[reportPrivateUsage]
    assert 100 <= await redis.xlen(bus.run_key(run_id)) < 300  # approximate MAXLEN
    assert 100 <= await redis.xlen(bus.tenant_key(tenant_id)) < 300
    assert await redis.ttl(bus.run_key(run_id)) > 3600  # a running run's stream lives long...
    await bus.publish([event(run_id, tenant_id, 1001, "run.succeeded")])
    assert 0 < await redis.ttl(bus.run_key(run_id)) <= 60  # ...a finished one's expires soon
    assert await redis.ttl(bus.tenant_key(tenant_id)) == -1


async def test_an_unreachable_redis_costs_publishers_nothing_and_readers_get_an_error(tenant_id: str) -> None:
    bus = EventBus(f"redis://127.0.0.1:{find_free_port()}/0", maxlen=100, retry_after_failure_s=60)
    began = time.monotonic()
    results = [await bus.publish([event("run_x", tenant_id, seq)]) for seq in range(1, 101)]
    assert results == [False] * 100
    assert time.monotonic() - began < 1  # one failed attempt, then paused
    assert not bus.available
    with pytest.raises(EventBusUnavailable):
        await bus.read(bus.run_key("run_x"), "0-0", block_ms=10)
    with pytest.raises(EventBusUnavailable):
        await bus.last_entry_id(bus.run_key("run_x"))
    assert not await bus.ping()
    await bus.aclose()


async def test_publish_soon_returns_at_once_and_publishes_everything_in_order(
    bus: EventBus, tenant_id: str
) -> None:
    run_id = f"run_{uuid.uuid4().hex}"
    for start in range(0, 90, 3):  # like activities committing one small batch after another
        bus.publish_soon([event(run_id, tenant_id, seq) for seq in range(start + 1, start + 4)])
    await bus.flush()
    entries = await bus.read(bus.run_key(run_id), "0-0", block_ms=100)
    assert [e.seq for e in entries] == list(range(1, 91))
