"""``/v1/store``: the tenant's long-term memory store (items by namespace and key), the one the
agents' memory tools use.

The namespace of `GET` and `DELETE` is a query parameter with its labels joined by `.`
(`?namespace=memories.agt_x&key=colour`), as langgraph-sdk sends it; bodies carry it as a list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from agent_runtime_api.deps import StoreServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.schemas import (
    StoreItemPublic,
    StoreItemPut,
    StoreNamespaceList,
    StoreNamespaces,
    StoreSearch,
    StoreSearchItemPublic,
    StoreSearchResult,
    Text,
)
from agent_runtime_core.schemas.store import MAX_KEY_LENGTH, namespace_problem, parse_namespace

router = APIRouter(prefix="/v1/store", tags=["store"], responses=AUTH_RESPONSES)

StoreReader = Annotated[Principal, Depends(require(Permission.STORE_READ))]
StoreWriter = Annotated[Principal, Depends(require(Permission.STORE_WRITE))]

NamespaceQuery = Annotated[
    Text,
    Query(
        max_length=2600,
        description="The item's namespace, labels joined with `.` (e.g. `memories.agt_01jd…`).",
        examples=["memories.agt_01jd3x7k2m9q8r4t6v5w0y1z2a"],
    ),
]
KeyQuery = Annotated[Text, Query(min_length=1, max_length=MAX_KEY_LENGTH, description="The item's key.")]


def _namespace(joined: str) -> list[str]:
    labels = parse_namespace(joined)
    problem = namespace_problem(labels)
    if problem:
        raise InvalidRequestError(f"namespace: {problem}", ["query", "namespace"])
    return labels


@router.put("/items", summary="Put a store item", responses=problems(503))
async def put_item(body: StoreItemPut, service: StoreServiceDep, _: StoreWriter) -> StoreItemPublic:
    """Create or replace the item at `namespace` / `key`. With an embedding model, the value (or
    its `index` fields) is embedded now for semantic search (503 `embedding_unavailable` if the
    model fails: nothing is written). `ttl_s`: the item disappears that many seconds later."""
    item = await service.put(body.namespace, body.key, body.value, index=body.index, ttl_s=body.ttl_s)
    return StoreItemPublic.from_row(item)


@router.get("/items", summary="Get a store item", responses=problems(404))
async def get_item(
    namespace: NamespaceQuery, key: KeyQuery, service: StoreServiceDep, _: StoreReader
) -> StoreItemPublic:
    """One item; 404 if there is none (or it expired)."""
    return await service.get(_namespace(namespace), key)


@router.delete(
    "/items", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a store item", responses=problems(404)
)
async def delete_item(
    namespace: NamespaceQuery, key: KeyQuery, service: StoreServiceDep, _: StoreWriter
) -> None:
    """Delete one item; 404 if there is none."""
    await service.delete(_namespace(namespace), key)


@router.post("/items/search", summary="Search store items", responses=problems(503))
async def search_items(body: StoreSearch, service: StoreServiceDep, _: StoreReader) -> StoreSearchResult:
    """Items under `namespace_prefix` whose value contains `filter`, most recently updated first;
    with a `query` and an embedding model, most similar first (`score`, cosine similarity).
    Without an embedding model a `query` keeps the items whose value contains it as text."""
    found = await service.search(
        body.namespace_prefix, filter=body.filter, query=body.query, limit=body.limit, offset=body.offset
    )
    return StoreSearchResult(items=[StoreSearchItemPublic.from_scored(hit) for hit in found])


@router.post("/namespaces", summary="List store namespaces", responses=problems())
async def list_namespaces(
    body: StoreNamespaceList, service: StoreServiceDep, _: StoreReader
) -> StoreNamespaces:
    """Namespaces that hold items, sorted; `prefix`/`suffix` match labels (`*`: any one),
    `max_depth` cuts longer ones (each listed once)."""
    namespaces = await service.list_namespaces(
        prefix=body.prefix, suffix=body.suffix, max_depth=body.max_depth, limit=body.limit, offset=body.offset
    )
    return StoreNamespaces(namespaces=namespaces)
