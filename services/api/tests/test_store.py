"""The long-term memory store (`/v1/store`): put/get/delete, TTL, prefix search, filters,
namespaces, semantic ranking against a fake OpenAI-compatible embeddings server, validation,
tenant isolation and who may do what."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import AsyncGenerator, Generator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlmodel import col, select, update

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.models import StoreItem
from agent_runtime_core.models.base import utcnow

from .support import assert_problem, client_for

NS = ["memories", "agt_1"]


def bag_of_words(text: str, size: int = 64) -> list[float]:
    """A deterministic embedding: hashed word counts (texts sharing words are similar)."""
    vector = [0.0] * size
    for word in re.findall(r"[a-z]+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % size] += 1.0
    return vector


class _Embeddings(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("authorization"), **body})
        data = [
            {"object": "embedding", "index": index, "embedding": bag_of_words(text)}
            for index, text in enumerate(body["input"])
        ]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def embeddings_server() -> Generator[str]:
    """A local server speaking the OpenAI embeddings wire format; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture
async def semantic_api(
    database_url: str, tenant_id: str, embeddings_server: str
) -> AsyncGenerator[httpx.AsyncClient]:
    """The API of a deployment with an (offline, fake) embedding model."""
    async for client in client_for(
        database_url,
        tenant_id,
        embedding_model="openai-compatible:fake-embed",
        openai_base_url=embeddings_server,
        openai_compatible_api_key="sk-test",
    ):
        yield client


@pytest.fixture
async def other_api(database_url: str, other_tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    async for client in client_for(database_url, other_tenant_id):
        yield client


async def put(
    api: httpx.AsyncClient, namespace: list[str], key: str, value: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = await api.put(
        "/v1/store/items", json={"namespace": namespace, "key": key, "value": value, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def search(api: httpx.AsyncClient, **body: Any) -> list[dict[str, Any]]:
    response = await api.post("/v1/store/items/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_put_get_replace_and_delete_an_item(api: httpx.AsyncClient) -> None:
    created = await put(api, NS, "colour", {"content": "teal"})
    assert created["namespace"] == NS and created["key"] == "colour" and created["expires_at"] is None

    got = await api.get("/v1/store/items", params={"namespace": "memories.agt_1", "key": "colour"})
    assert got.status_code == 200 and got.json()["value"] == {"content": "teal"}

    replaced = await put(api, NS, "colour", {"content": "navy"})
    assert replaced["value"] == {"content": "navy"}
    assert replaced["created_at"] == created["created_at"] and replaced["updated_at"] > created["updated_at"]

    deleted = await api.delete("/v1/store/items", params={"namespace": "memories.agt_1", "key": "colour"})
    assert deleted.status_code == 204
    missing = await api.get("/v1/store/items", params={"namespace": "memories.agt_1", "key": "colour"})
    assert_problem(missing, 404, "store_item_not_found")
    again = await api.delete("/v1/store/items", params={"namespace": "memories.agt_1", "key": "colour"})
    assert_problem(again, 404, "store_item_not_found")


async def test_an_expired_item_is_invisible_at_once_and_purged_by_the_next_write(
    api: httpx.AsyncClient, database: Database, tenant_id: str
) -> None:
    item = await put(api, NS, "short", {"content": "soon gone"}, ttl_s=60)
    assert item["expires_at"] is not None
    await put(api, NS, "long", {"content": "stays"})
    async with session_scope(database, tenant_id) as session:
        await session.exec(
            update(StoreItem)
            .where(col(StoreItem.tenant_id) == tenant_id, col(StoreItem.key) == "short")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    missing = await api.get("/v1/store/items", params={"namespace": "memories.agt_1", "key": "short"})
    assert_problem(missing, 404, "store_item_not_found")
    assert [hit["key"] for hit in await search(api, namespace_prefix=NS)] == ["long"]
    listed = await api.post("/v1/store/namespaces", json={})
    assert listed.json()["namespaces"] == [NS]

    await put(api, ["other"], "k", {"a": 1})  # a write purges expired items
    async with session_scope(database, tenant_id) as session:
        keys = (await session.exec(select(StoreItem.key).where(StoreItem.tenant_id == tenant_id))).all()
    assert sorted(keys) == ["k", "long"]

    # Putting an expired key again makes a new item.
    fresh = await put(api, NS, "short", {"content": "back"})
    assert fresh["created_at"] == fresh["updated_at"]


async def test_search_by_namespace_prefix_and_filter(api: httpx.AsyncClient) -> None:
    await put(api, ["memories", "agt_1"], "a", {"kind": "preference", "tags": ["food", "red"]})
    await put(api, ["memories", "agt_1", "users", "u1"], "b", {"kind": "fact"})
    await put(api, ["memories", "agt_10"], "c", {"kind": "preference"})
    await put(api, ["notes"], "d", {"kind": "preference"})

    # A prefix matches whole labels: agt_1 is not a prefix of agt_10.
    assert sorted(hit["key"] for hit in await search(api, namespace_prefix=["memories", "agt_1"])) == [
        "a",
        "b",
    ]
    assert sorted(hit["key"] for hit in await search(api, namespace_prefix=["memories"])) == ["a", "b", "c"]
    assert len(await search(api)) == 4
    by_kind = await search(api, namespace_prefix=["memories"], filter={"kind": "preference"})
    assert sorted(hit["key"] for hit in by_kind) == ["a", "c"]
    assert [hit["key"] for hit in await search(api, filter={"tags": ["red"]})] == ["a"]
    # Most recently updated first, paged by limit and offset; no score without a semantic query.
    page = await search(api, limit=2, offset=1)
    assert [hit["key"] for hit in page] == ["c", "b"] and page[0]["score"] is None
    # Without an embedding model a query is a case-insensitive text match.
    assert [hit["key"] for hit in await search(api, query="FACT")] == ["b"]
    assert await search(api, query="100%_") == []


async def test_namespaces_with_prefix_suffix_and_max_depth(api: httpx.AsyncClient) -> None:
    for namespace in (["a", "b", "c"], ["a", "b", "d"], ["a", "x", "c"], ["z"]):
        await put(api, namespace, "k", {"v": 1})

    async def listed(**body: Any) -> list[list[str]]:
        response = await api.post("/v1/store/namespaces", json=body)
        assert response.status_code == 200, response.text
        return response.json()["namespaces"]

    assert await listed() == [["a", "b", "c"], ["a", "b", "d"], ["a", "x", "c"], ["z"]]
    assert await listed(prefix=["a", "b"]) == [["a", "b", "c"], ["a", "b", "d"]]
    assert await listed(suffix=["c"]) == [["a", "b", "c"], ["a", "x", "c"]]
    assert await listed(prefix=["a", "*", "c"]) == [["a", "b", "c"], ["a", "x", "c"]]
    assert await listed(max_depth=2) == [["a", "b"], ["a", "x"], ["z"]]
    assert await listed(max_depth=1, limit=1, offset=1) == [["z"]]


async def test_semantic_search_ranks_by_similarity_with_an_embedding_model(
    semantic_api: httpx.AsyncClient,
) -> None:
    _Embeddings.requests.clear()
    await put(semantic_api, NS, "colour", {"content": "the user likes the colour teal"})
    await put(semantic_api, NS, "pet", {"content": "the user has a cat named Tom"})
    await put(semantic_api, NS, "job", {"title": "engineer", "note": "works on databases"}, index=["note"])
    await put(semantic_api, NS, "raw", {"content": "cat cat cat"}, index=False)
    assert (
        _Embeddings.requests[0]["model"] == "fake-embed"
        and _Embeddings.requests[0]["auth"] == "Bearer sk-test"
    )
    assert _Embeddings.requests[2]["input"] == ["works on databases"]
    assert len(_Embeddings.requests) == 3  # index=false embeds nothing

    hits = await search(semantic_api, namespace_prefix=["memories"], query="what cat does the user have")
    assert [hit["key"] for hit in hits][:2] == ["pet", "colour"]
    assert hits[0]["score"] > hits[1]["score"] > 0
    expected = sum(
        a * b
        for a, b in zip(
            bag_of_words("the user has a cat named Tom"),
            bag_of_words("what cat does the user have"),
            strict=True,
        )
    )
    norms = math.dist(bag_of_words("the user has a cat named Tom"), [0] * 64) * math.dist(
        bag_of_words("what cat does the user have"), [0] * 64
    )
    assert hits[0]["score"] == pytest.approx(expected / norms)
    assert hits[-1]["key"] == "raw" and hits[-1]["score"] is None  # not indexed: last, unranked
    filtered = await search(semantic_api, query="databases", filter={"title": "engineer"})
    assert [hit["key"] for hit in filtered] == ["job"]


async def test_an_unreachable_embedding_model_is_a_503_and_writes_nothing(
    database_url: str, tenant_id: str
) -> None:
    async for api in client_for(
        database_url,
        tenant_id,
        embedding_model="openai-compatible:x",
        openai_base_url="http://127.0.0.1:1/v1",
    ):
        response = await api.put("/v1/store/items", json={"namespace": NS, "key": "k", "value": {"a": 1}})
        assert_problem(response, 503, "embedding_unavailable")
        missing = await api.get("/v1/store/items", params={"namespace": "memories.agt_1", "key": "k"})
        assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"namespace": [], "key": "k", "value": {}}, ["body", "namespace"]),
        ({"namespace": ["a.b"], "key": "k", "value": {}}, ["body", "namespace"]),
        ({"namespace": [""], "key": "k", "value": {}}, ["body", "namespace"]),
        ({"namespace": ["x"] * 11, "key": "k", "value": {}}, ["body", "namespace"]),
        ({"namespace": ["a" * 257], "key": "k", "value": {}}, ["body", "namespace"]),
        ({"namespace": ["a"], "key": "", "value": {}}, ["body", "key"]),
        ({"namespace": ["a"], "key": "k", "value": [1]}, ["body", "value"]),
        ({"namespace": ["a"], "key": "k", "value": {"x": "y" * 70_000}}, ["body", "value"]),
        ({"namespace": ["a"], "key": "k", "value": {}, "ttl_s": 0}, ["body", "ttl_s"]),
        ({"namespace": ["a"], "key": "k\u0000", "value": {}}, ["body", "key"]),
    ],
)
async def test_bad_puts_are_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await api.put("/v1/store/items", json=body)
    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"][0]["loc"][: len(loc)] == loc


async def test_bad_reads_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    for namespace in ("", "a..b", "x." * 11):
        response = await api.get("/v1/store/items", params={"namespace": namespace, "key": "k"})
        assert assert_problem(response, 422, "validation_error")["errors"][0]["loc"] == ["query", "namespace"]
    response = await api.post("/v1/store/items/search", json={"namespace_prefix": ["a.b"]})
    assert assert_problem(response, 422, "validation_error")["errors"][0]["loc"][:2] == [
        "body",
        "namespace_prefix",
    ]
    response = await api.post("/v1/store/items/search", json={"filter": [1]})
    assert assert_problem(response, 422, "validation_error")["errors"][0]["loc"][:2] == ["body", "filter"]
    response = await api.post("/v1/store/namespaces", json={"max_depth": 0})
    assert assert_problem(response, 422, "validation_error")["errors"][0]["loc"] == ["body", "max_depth"]


async def test_another_tenants_items_are_not_found(
    api: httpx.AsyncClient, other_api: httpx.AsyncClient
) -> None:
    await put(api, NS, "secret", {"content": "mine"})
    params = {"namespace": "memories.agt_1", "key": "secret"}
    assert_problem(await other_api.get("/v1/store/items", params=params), 404, "store_item_not_found")
    assert_problem(await other_api.delete("/v1/store/items", params=params), 404, "store_item_not_found")
    assert await search(other_api) == []
    assert (await other_api.post("/v1/store/namespaces", json={})).json()["namespaces"] == []
    # The other tenant's own item under the same address is its own.
    await put(other_api, NS, "secret", {"content": "theirs"})
    assert (await api.get("/v1/store/items", params=params)).json()["value"] == {"content": "mine"}
