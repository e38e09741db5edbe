"""The read cache of thread heads and store items: a hit after the first read, and a fresh read
after every write path (API and worker: admission, metadata, delete, the hand-over at a run's
end, store put/delete, the worker's memory tools), tenant isolation, expiry, the metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx
import pytest
from redis.asyncio import Redis

from agent_runtime_core.cache import ReadCache, cache_key, store_item_id
from agent_runtime_core.db import Database
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.schemas import StoreItemPublic
from agent_runtime_core.settings import Settings
from agent_runtime_worker.agents.memory import DatabaseMemory
from agent_runtime_worker.dependencies import WorkerDependencies

from .support import TERMINAL_STATUSES, client_for, make_agent, start_run, wait_for_status
from .test_cache import Counts
from .test_threads import answer, new_thread, run_on

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def redis(redis_url: str) -> AsyncGenerator[Redis]:
    client = Redis.from_url(redis_url)  # pyright: ignore[reportUnknownMemberType]
    yield client
    await client.aclose()


@pytest.fixture
async def api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    async for client in client_for(database_url, tenant_id):
        yield client


ITEM = {"namespace": ["memories", "agt_1"], "key": "colour"}
ITEM_QUERY = {"namespace": "memories.agt_1", "key": "colour"}


# ------------------------------------------------------------------------------ threads (API)


async def test_a_thread_read_twice_is_a_hit_and_every_api_write_is_seen(
    api: httpx.AsyncClient, redis: Redis, tenant_id: str
) -> None:
    thread_id = await new_thread(api, user="u_1")
    counts = Counts("thread")
    first = await api.get(f"/v1/threads/{thread_id}")
    second = await api.get(f"/v1/threads/{thread_id}")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert (counts.since("miss"), counts.since("hit")) == (1, 1)
    assert await redis.hexists(cache_key(tenant_id, "thread", thread_id), "v")  # pyright: ignore[reportGeneralTypeIssues]

    assert (
        await api.patch(f"/v1/threads/{thread_id}", json={"metadata": {"topic": "tea"}})
    ).status_code == 200
    assert (await api.get(f"/v1/threads/{thread_id}")).json()["metadata"] == {"user": "u_1", "topic": "tea"}
    assert (await api.get(f"/v1/threads/{thread_id}")).status_code == 200  # cached again
    assert (await api.delete(f"/v1/threads/{thread_id}")).status_code == 204
    assert (await api.get(f"/v1/threads/{thread_id}")).status_code == 404
    metrics = (await api.get("/metrics")).text
    assert 'agent_runtime_cache_requests_total{kind="thread",result="hit"}' in metrics


async def test_tenants_never_share_thread_or_store_entries(
    database_url: str, tenant_id: str, other_tenant_id: str
) -> None:
    async for mine in client_for(database_url, tenant_id):
        async for theirs in client_for(database_url, other_tenant_id):
            thread_id = await new_thread(mine, owner="me")
            assert (await mine.get(f"/v1/threads/{thread_id}")).status_code == 200  # cached for us
            assert (await mine.get(f"/v1/threads/{thread_id}")).status_code == 200
            assert (await theirs.get(f"/v1/threads/{thread_id}")).status_code == 404

            await mine.put("/v1/store/items", json={**ITEM, "value": {"mine": True}})
            await theirs.put("/v1/store/items", json={**ITEM, "value": {"theirs": True}})
            for _ in range(2):  # a miss then a hit, for each tenant
                assert (await mine.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {
                    "mine": True
                }
                assert (await theirs.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {
                    "theirs": True
                }
            await theirs.request("DELETE", "/v1/store/items", params=ITEM_QUERY)
            assert (await theirs.get("/v1/store/items", params=ITEM_QUERY)).status_code == 404
            assert (await mine.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"mine": True}


# ------------------------------------------------------------------------------ store (API)


async def test_a_store_item_read_twice_is_a_hit_and_put_and_delete_are_seen(
    api: httpx.AsyncClient, redis: Redis, tenant_id: str
) -> None:
    assert (await api.put("/v1/store/items", json={**ITEM, "value": {"v": 1}})).status_code == 200
    counts = Counts("store_item")
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 1}
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 1}
    assert (counts.since("miss"), counts.since("hit")) == (1, 1)
    key = cache_key(tenant_id, "store_item", store_item_id(ITEM["namespace"], "colour"))
    assert await redis.hexists(key, "v")  # pyright: ignore[reportGeneralTypeIssues]

    assert (await api.put("/v1/store/items", json={**ITEM, "value": {"v": 2}})).status_code == 200
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 2}
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 2}
    assert (await api.request("DELETE", "/v1/store/items", params=ITEM_QUERY)).status_code == 204
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).status_code == 404
    # The LangGraph front door shares the entries and the invalidation.
    assert (await api.put("/store/items", json={**ITEM, "value": {"v": 3}})).status_code == 204
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 3}
    assert (await api.get("/store/items", params=ITEM_QUERY)).json()["value"] == {"v": 3}
    metrics = (await api.get("/metrics")).text
    assert 'agent_runtime_cache_requests_total{kind="store_item",result="hit"}' in metrics


async def test_a_cached_store_item_never_outlives_its_expiry(
    api: httpx.AsyncClient, redis: Redis, tenant_id: str
) -> None:
    await api.put("/v1/store/items", json={**ITEM, "value": {"short": True}, "ttl_s": 1})
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).status_code == 200
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).status_code == 200  # a hit
    key = cache_key(tenant_id, "store_item", store_item_id(ITEM["namespace"], "colour"))
    assert 0 < await redis.pttl(key) <= 1000  # capped by expires_at, not the 60 s of the kind
    await asyncio.sleep(1.05)
    assert (await api.get("/v1/store/items", params=ITEM_QUERY)).status_code == 404


async def test_the_workers_memory_writes_invalidate_the_apis_entries(
    api: httpx.AsyncClient, database_url: str, redis_url: str, tenant_id: str
) -> None:
    """The worker's memory tools write through its own Database, which carries the cache
    ``WorkerDependencies`` opens (the same Redis as the API's)."""
    database = Database(database_url, pool_size=1)
    settings = Settings.model_validate({"database_url": database_url, "redis_url": redis_url})
    dependencies = WorkerDependencies.open(settings, database)
    try:
        memory = DatabaseMemory(dependencies.database, None)
        await api.put("/v1/store/items", json={**ITEM, "value": {"v": "api"}})
        for _ in range(2):
            assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": "api"}
        await memory.save(tenant_id, ITEM["namespace"], "colour", {"v": "worker"})
        assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": "worker"}
        assert (await api.get("/v1/store/items", params=ITEM_QUERY)).json()["value"] == {"v": "worker"}
        assert (await memory.delete(tenant_id, ITEM["namespace"], "colour"))["deleted"]
        assert (await api.get("/v1/store/items", params=ITEM_QUERY)).status_code == 404
    finally:
        await dependencies.aclose()
        await database.dispose()
    assert database.read_cache is None  # closed dependencies leave the database as they found it


# --------------------------------------------------------------------- threads (API + worker)


async def test_every_hand_over_is_seen_by_the_next_thread_read(runtime_api: httpx.AsyncClient) -> None:
    """Admission (API), a run's end handing the thread to the next queued run (worker), a cancel
    (API) and the last run's end (worker): each read right after shows the new head, although
    the head was cached (a hit) before each write."""
    agent_id = await make_agent(runtime_api, tools=[{"name": "ask_human"}])
    thread_id = await new_thread(runtime_api)

    async def head() -> dict[str, object]:
        first = (await runtime_api.get(f"/v1/threads/{thread_id}")).json()
        counts = Counts("thread")
        assert (await runtime_api.get(f"/v1/threads/{thread_id}")).json() == first
        assert counts.since("hit") == 1
        return first

    assert (await head())["status"] == "idle"
    first = (await run_on(runtime_api, agent_id, thread_id, "one")).json()
    await wait_for_status(runtime_api, first["id"], {"waiting"})
    assert ((await head())["status"], (await head())["active_run_id"]) == ("interrupted", first["id"])
    second = (await run_on(runtime_api, agent_id, thread_id, "two", "enqueue")).json()
    assert (await head())["queued_run_ids"] == [second["id"]]

    await answer(runtime_api, first["id"], "sunny")  # the worker ends the run: hand-over
    assert (await wait_for_status(runtime_api, first["id"], TERMINAL_STATUSES))["status"] == "succeeded"
    now = (await runtime_api.get(f"/v1/threads/{thread_id}")).json()
    assert (now["active_run_id"], now["queued_run_ids"]) == (second["id"], [])

    await wait_for_status(runtime_api, second["id"], {"waiting"})
    assert (await head())["status"] == "interrupted"
    await answer(runtime_api, second["id"], "ok")  # the worker ends the last run: idle
    assert (await wait_for_status(runtime_api, second["id"], TERMINAL_STATUSES))["status"] == "succeeded"
    now = (await runtime_api.get(f"/v1/threads/{thread_id}")).json()
    assert (now["status"], now["active_run_id"], now["queued_run_ids"]) == ("idle", None, [])

    third = (await run_on(runtime_api, agent_id, thread_id, "three")).json()
    await wait_for_status(runtime_api, third["id"], {"waiting"})
    assert (await head())["active_run_id"] == third["id"]
    await runtime_api.post(f"/v1/runs/{third['id']}/cancel")
    await wait_for_status(runtime_api, third["id"], TERMINAL_STATUSES)
    assert (await runtime_api.get(f"/v1/threads/{thread_id}")).json()["status"] == "idle"


async def test_a_memory_saved_by_a_run_replaces_the_cached_item(runtime_api: httpx.AsyncClient) -> None:
    agent_id = await make_agent(
        runtime_api,
        tools=[{"name": "memory_save"}, {"name": "memory_search"}],
        memory={"store_namespace": {"scope": "agent"}},
    )
    query = {"namespace": f"memories.{agent_id}", "key": "colour"}
    put = {"namespace": ["memories", agent_id], "key": "colour", "value": {"content": "red"}}
    assert (await runtime_api.put("/v1/store/items", json=put)).status_code == 200
    for _ in range(2):  # cached
        assert (await runtime_api.get("/v1/store/items", params=query)).json()["value"] == {"content": "red"}
    run = await start_run(runtime_api, agent_id, "Remember this: key=colour value='teal' query=nothing")
    assert (await wait_for_status(runtime_api, run, TERMINAL_STATUSES, timeout_s=60))["status"] == "succeeded"
    assert (await runtime_api.get("/v1/store/items", params=query)).json()["value"] == {"content": "teal"}


# ------------------------------------------------------------------------------------ holds


async def test_a_held_key_is_read_from_postgres_until_every_writer_released_it(
    redis_url: str, redis: Redis, tenant_id: str
) -> None:
    """Between a writer's hold (right before its commit) and its release (right after), readers
    read Postgres and fill nothing; two writers of one row release independently."""
    cache = ReadCache(redis_url)
    rows = cache.rows("hold_test", StoreItemPublic)
    loads: list[int] = []

    async def load() -> StoreItemPublic:
        loads.append(1)
        now = utcnow()
        return StoreItemPublic(
            namespace=["n"], key="k", value={"n": len(loads)}, created_at=now, updated_at=now, expires_at=None
        )

    key = rows.key(tenant_id, "k")
    try:
        await rows.get(tenant_id, "k", load)  # cached
        assert (await rows.get(tenant_id, "k", load)).value == {"n": 1}  # pyright: ignore[reportOptionalMemberAccess]
        await cache.hold(key)
        await cache.hold(key)  # a second writer of the same row
        assert (await rows.get(tenant_id, "k", load)).value == {"n": 2}  # pyright: ignore[reportOptionalMemberAccess]
        assert not await redis.hexists(key, "v")  # pyright: ignore[reportGeneralTypeIssues]
        await cache.release(key)  # the first writer committed; the second still holds
        assert (await rows.get(tenant_id, "k", load)).value == {"n": 3}  # pyright: ignore[reportOptionalMemberAccess]
        assert not await redis.hexists(key, "v")  # pyright: ignore[reportGeneralTypeIssues]
        await cache.release(key)
        assert not await redis.exists(key)
        assert (await rows.get(tenant_id, "k", load)).value == {"n": 4}  # pyright: ignore[reportOptionalMemberAccess]
        assert (await rows.get(tenant_id, "k", load)).value == {"n": 4}  # pyright: ignore[reportOptionalMemberAccess]
        assert 0 < await redis.pttl(key) <= 60_000
    finally:
        await cache.aclose()
