"""The Redis read cache of agents and versions: hits, invalidation on every write (also under
concurrent writers and readers), tenant isolation, Redis down or slow, TTL expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.cache import CachedRows, ReadCache, cache_key
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import Agent
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import AgentRepository

from .support import VERSION, build_app, client_for, make_agent, open_client


def count(kind: str, result: str) -> float:
    """``agent_runtime_cache_requests_total{kind, result}`` in this process."""
    return (
        REGISTRY.get_sample_value("agent_runtime_cache_requests_total", {"kind": kind, "result": result})
        or 0.0
    )


class Counts:
    """The cache counters of one kind, before and since."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.before = {result: count(kind, result) for result in ("hit", "miss", "error")}

    def since(self, result: str) -> float:
        return count(self.kind, result) - self.before[result]


@pytest.fixture
async def redis(redis_url: str) -> AsyncGenerator[Redis]:
    client = Redis.from_url(redis_url)  # pyright: ignore[reportUnknownMemberType]
    yield client
    await client.aclose()


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    async for client in client_for(database_url, tenant_id, database_pool_size=10):
        yield client


# ------------------------------------------------------------------------------- hits


async def test_second_read_of_an_agent_is_a_hit_equal_to_what_postgres_returned(
    api: httpx.AsyncClient, redis: Redis, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    counts = Counts("agent")
    first = await api.get(f"/v1/agents/{agent_id}")
    second = await api.get(f"/v1/agents/{agent_id}")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert counts.since("miss") == 1
    assert counts.since("hit") == 1
    assert await redis.hexists(cache_key(tenant_id, "agent", agent_id), "v")  # pyright: ignore[reportGeneralTypeIssues]
    metrics = (await api.get("/metrics")).text
    assert 'agent_runtime_cache_requests_total{kind="agent",result="hit"}' in metrics


async def test_a_cached_row_is_exactly_the_row_postgres_returns(
    api: httpx.AsyncClient, database: Database, redis_url: str, tenant_id: str
) -> None:
    agent_id = await make_agent(api)
    cache = ReadCache(redis_url)
    agents = cache.rows("agent", Agent)
    try:
        async with session_scope(database, tenant_id) as session:
            repository = AgentRepository(session, tenant_id)
            from_postgres = await agents.get(tenant_id, agent_id, lambda: repository.get(agent_id))

        async def must_not_load() -> Agent | None:
            raise AssertionError("a hit must not read Postgres")

        from_cache = await agents.get(tenant_id, agent_id, must_not_load)
    finally:
        await cache.aclose()
    assert from_postgres is not None and from_cache is not None
    assert from_cache == from_postgres
    assert from_cache.model_dump() == from_postgres.model_dump()


async def test_version_reads_and_run_creation_hit_the_cache(api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(api)
    versions = Counts("agent_version")
    first = await api.get(f"/v1/agents/{agent_id}/versions/1")
    second = await api.get(f"/v1/agents/{agent_id}/versions/1")
    assert first.status_code == 200 and second.json() == first.json()
    assert (versions.since("miss"), versions.since("hit")) == (1, 1)
    # POST /v1/runs resolves the agent (its latest version) and the version through the cache
    # (Temporal is unreachable here: the run is written, then fails to start).
    agents = Counts("agent")
    await api.post("/v1/runs", json={"agent_id": agent_id, "input": "hi"})
    assert agents.since("hit") == 1
    assert versions.since("hit") == 2


# ----------------------------------------------------------------------- invalidation


async def test_every_write_is_visible_to_the_next_read(api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(api)
    assert (await api.get(f"/v1/agents/{agent_id}")).json()["name"].startswith("agent-")  # cached now

    patched = await api.patch(f"/v1/agents/{agent_id}", json={"name": "renamed", "description": "new"})
    assert patched.status_code == 200
    read = (await api.get(f"/v1/agents/{agent_id}")).json()
    assert (read["name"], read["description"]) == ("renamed", "new")

    assert (await api.post(f"/v1/agents/{agent_id}/versions", json=VERSION)).status_code == 201
    assert (await api.get(f"/v1/agents/{agent_id}")).json()["latest_version"] == 2
    # A new run without a pinned version takes the new latest version at once.
    await api.post("/v1/runs", json={"agent_id": agent_id, "input": "hi"})
    runs = (await api.get("/v1/runs", params={"agent_id": agent_id})).json()["data"]
    assert [run["agent_version"] for run in runs] == [2]

    assert (await api.delete(f"/v1/agents/{agent_id}")).status_code == 204
    assert (await api.get(f"/v1/agents/{agent_id}")).status_code == 404
    assert (await api.get(f"/v1/agents/{agent_id}/versions/1")).status_code == 404
    assert (await api.post("/v1/runs", json={"agent_id": agent_id, "input": "x"})).status_code == 404


async def test_a_reader_that_loaded_before_a_write_cannot_fill_the_old_row(
    redis_url: str, tenant_id: str
) -> None:
    """The race: a reader misses and reads the old row, the writer commits and invalidates,
    then the reader stores what it read. The fill must be refused."""
    cache = ReadCache(redis_url)
    agents: CachedRows[Agent] = cache.rows("agent", Agent)
    row = {"value": "old"}
    loaded = asyncio.Event()
    release = asyncio.Event()

    def agent() -> Agent:
        now = utcnow()
        return Agent(id="agt_race", tenant_id=tenant_id, name=row["value"], created_at=now, updated_at=now)

    async def slow_load() -> Agent | None:
        read = agent()  # the old row
        loaded.set()
        await release.wait()
        return read

    async def load() -> Agent | None:
        return agent()

    try:
        reader = asyncio.create_task(agents.get(tenant_id, "agt_race", slow_load))
        await loaded.wait()
        row["value"] = "new"  # the writer commits ...
        await agents.invalidate(tenant_id, "agt_race")  # ... then invalidates
        release.set()
        first = await reader
        assert first is not None and first.name == "old"  # that reader began before the write
        after = await agents.get(tenant_id, "agt_race", load)
        assert after is not None and after.name == "new"
        cached = await agents.get(tenant_id, "agt_race", load)
        assert cached is not None and cached.name == "new"
    finally:
        await cache.aclose()


async def write_and_read_concurrently(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, writes: int
) -> list[str]:
    """PATCH an agent ``writes`` times from ``writer`` while both clients read it; return every
    read that showed an older write than one that had already answered when the read began."""
    agent_id = await make_agent(writer)
    await writer.patch(f"/v1/agents/{agent_id}", json={"description": "0"})
    answered_at: list[float] = [time.monotonic()]  # answered_at[i]: when PATCH i answered
    done = asyncio.Event()
    stale: list[str] = []

    async def write() -> None:
        for i in range(1, writes + 1):
            response = await writer.patch(f"/v1/agents/{agent_id}", json={"description": str(i)})
            assert response.status_code == 200
            answered_at.append(time.monotonic())
            own = (await reader.get(f"/v1/agents/{agent_id}")).json()["description"]
            if int(own) < i:
                stale.append(f"read {own} right after write {i} answered")
        done.set()

    async def read(client: httpx.AsyncClient) -> None:
        while not done.is_set():
            started = time.monotonic()
            newest_answered = max(i for i, at in enumerate(answered_at) if at < started)
            response = await client.get(f"/v1/agents/{agent_id}")
            assert response.status_code == 200
            seen = int(response.json()["description"])
            if seen < newest_answered:
                stale.append(f"read {seen} after write {newest_answered} answered")

    await asyncio.gather(write(), *(read(client) for client in [reader, writer] * 3))
    return stale


async def test_no_stale_read_after_a_completed_write_under_concurrent_writers_and_readers(
    database_url: str, tenant_id: str
) -> None:
    """Two API processes share Redis: one writes (PATCH) while readers of both read. Any read
    that starts after a PATCH answered shows that PATCH or a later one."""
    counts = Counts("agent")
    writer_app = build_app(
        database_url,
        tenant_id,
        temporal_address="127.0.0.1:1",
        database_pool_size=10,
        rate_limit_enabled=False,
    )
    reader_app = build_app(
        database_url,
        tenant_id,
        temporal_address="127.0.0.1:1",
        database_pool_size=10,
        rate_limit_enabled=False,
    )
    async for writer in open_client(writer_app):
        async for reader in open_client(reader_app):
            stale = await write_and_read_concurrently(writer, reader, writes=40)
            assert not stale, stale
    assert counts.since("hit") > 0 and counts.since("miss") > 0


# -------------------------------------------------------------------------------- tenancy


async def test_tenants_never_share_entries(
    database_url: str, tenant_id: str, other_tenant_id: str, redis: Redis
) -> None:
    agent_id = ""
    async for mine in client_for(database_url, tenant_id):
        async for theirs in client_for(database_url, other_tenant_id):
            agent_id = await make_agent(mine)
            assert (await mine.get(f"/v1/agents/{agent_id}")).status_code == 200  # cached for us
            assert (await mine.get(f"/v1/agents/{agent_id}/versions/1")).status_code == 200
            assert (await theirs.get(f"/v1/agents/{agent_id}")).status_code == 404
            assert (await theirs.get(f"/v1/agents/{agent_id}/versions/1")).status_code == 404
            assert (await theirs.get(f"/v1/agents/{agent_id}/status")).status_code == 404
    assert await redis.hexists(cache_key(tenant_id, "agent", agent_id), "v")  # pyright: ignore[reportGeneralTypeIssues]
    theirs_keys = await redis.keys(f"agent_runtime:cache:{other_tenant_id}:*")  # pyright: ignore[reportUnknownMemberType]
    for key in theirs_keys:
        assert not await redis.hexists(key, "v")  # pyright: ignore[reportGeneralTypeIssues]


# ------------------------------------------------------------------------- Redis trouble


async def test_requests_succeed_and_count_errors_when_redis_is_down(
    database_url: str, tenant_id: str
) -> None:
    dead_redis = f"redis://127.0.0.1:{find_free_port()}/0"
    counts = Counts("agent")
    async for api in client_for(database_url, tenant_id, redis_url=dead_redis, cache_retry_after_failure_s=0):
        agent_id = await make_agent(api)
        for _ in range(2):
            assert (await api.get(f"/v1/agents/{agent_id}")).status_code == 200
        assert (await api.get(f"/v1/agents/{agent_id}/versions/1")).status_code == 200
        patched = await api.patch(f"/v1/agents/{agent_id}", json={"description": "changed"})
        assert patched.status_code == 200
        assert (await api.get(f"/v1/agents/{agent_id}")).json()["description"] == "changed"
    assert counts.since("error") >= 3
    assert counts.since("hit") == 0


async def test_a_redis_that_does_not_answer_costs_one_timeout_then_is_skipped(
    database_url: str, tenant_id: str
) -> None:
    async def accept_and_stay_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers
        writer.close()

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    counts = Counts("agent")
    try:
        async for api in client_for(
            database_url,
            tenant_id,
            redis_url=f"redis://127.0.0.1:{port}/0",
            rate_limit_enabled=False,
            cache_redis_timeout_s=0.2,
            cache_retry_after_failure_s=30,
        ):
            agent_id = await make_agent(api)
            started = time.monotonic()
            for _ in range(5):
                assert (await api.get(f"/v1/agents/{agent_id}")).status_code == 200
            # The first read waits for the timeout; the next ones skip Redis.
            assert time.monotonic() - started < 2.0
    finally:
        server.close()
    assert counts.since("error") == 5


async def test_a_failed_invalidation_is_retried_before_the_next_read(redis_url: str, tenant_id: str) -> None:
    cache = ReadCache(redis_url, retry_after_failure_s=0)
    agents = cache.rows("agent", Agent)
    name = {"value": "old"}

    async def load() -> Agent | None:
        now = utcnow()
        return Agent(
            id="agt_pending", tenant_id=tenant_id, name=name["value"], created_at=now, updated_at=now
        )

    redis = cache._redis  # pyright: ignore[reportPrivateUsage]
    assert redis is not None
    real_delete = redis.delete
    try:
        await agents.get(tenant_id, "agt_pending", load)  # cached: old
        name["value"] = "new"

        async def failing_delete(*_keys: object) -> int:
            raise ConnectionError("Redis unreachable")

        redis.delete = failing_delete  # type: ignore[method-assign]
        await agents.invalidate(tenant_id, "agt_pending")
        assert cache.pending_invalidations == 1
        redis.delete = real_delete  # type: ignore[method-assign]
        read = await agents.get(tenant_id, "agt_pending", load)
        assert read is not None and read.name == "new"
        assert cache.pending_invalidations == 0
    finally:
        redis.delete = real_delete  # type: ignore[method-assign]
        await cache.aclose()


# ------------------------------------------------------------------------------------ TTL


async def test_entries_expire_after_their_ttl(redis_url: str, tenant_id: str, redis: Redis) -> None:
    cache = ReadCache(redis_url, ttl_s=0.3)
    agents = cache.rows("agent", Agent)
    loads = 0

    async def load() -> Agent | None:
        nonlocal loads
        loads += 1
        now = utcnow()
        return Agent(id="agt_ttl", tenant_id=tenant_id, name="a", created_at=now, updated_at=now)

    try:
        await agents.get(tenant_id, "agt_ttl", load)
        await agents.get(tenant_id, "agt_ttl", load)
        assert loads == 1
        ttl_ms = await redis.pttl(cache_key(tenant_id, "agent", "agt_ttl"))
        assert 0 < ttl_ms <= 300
        await asyncio.sleep(0.45)
        await agents.get(tenant_id, "agt_ttl", load)
        assert loads == 2
    finally:
        await cache.aclose()


async def test_kinds_take_their_own_ttl_and_large_rows_are_not_cached(redis_url: str, tenant_id: str) -> None:
    cache = ReadCache(redis_url, ttl_s=60, kind_ttl_s={"agent_version": 3600}, max_value_bytes=300)
    try:
        assert cache.rows("agent_version", Agent).ttl_s == 3600
        agents = cache.rows("agent", Agent)
        assert agents.ttl_s == 60
        loads = 0

        async def load() -> Agent | None:
            nonlocal loads
            loads += 1
            now = utcnow()
            return Agent(
                id="agt_big",
                tenant_id=tenant_id,
                name="a",
                description="x" * 400,
                created_at=now,
                updated_at=now,
            )

        await agents.get(tenant_id, "agt_big", load)
        await agents.get(tenant_id, "agt_big", load)
        assert loads == 2
    finally:
        await cache.aclose()


async def test_cache_disabled_reads_postgres_and_counts_nothing(database_url: str, tenant_id: str) -> None:
    counts = Counts("agent")
    async for api in client_for(database_url, tenant_id, cache_enabled=False):
        agent_id = await make_agent(api)
        for _ in range(2):
            assert (await api.get(f"/v1/agents/{agent_id}")).status_code == 200
    assert (counts.since("hit"), counts.since("miss"), counts.since("error")) == (0, 0, 0)
