"""The memory tools' I/O: the tenant's store in Postgres (row-level security as the run's tenant),
with embeddings when the worker has an embedding model (``AGENT_RUNTIME_EMBEDDING_MODEL``).

Activity half; the tools themselves are defined in
:mod:`agent_runtime_worker.agents.memory_toolset`. A save is an upsert, so an activity retried
after a crash writes the same item again; an embedding model that fails makes the attempt fail
and Temporal retries it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic_ai import ModelRetry

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.embeddings import Embedder, EmbeddingError, text_for_embedding
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import SemanticQuery, StoreRepository, TextQuery
from agent_runtime_core.schemas.store import MAX_VALUE_BYTES

MAX_RESULT_VALUE_CHARS: Final = 2_000
"""A found memory's value is cut to this many characters of JSON for the model."""


class DatabaseMemory:
    """:class:`~agent_runtime_worker.agents.memory_toolset.MemoryBackend` over the store table."""

    def __init__(self, database: Database, embedder: Embedder | None) -> None:
        """Read and write ``database``; embed with ``embedder`` (``None``: text matching)."""
        self.database = database
        self.embedder = embedder

    async def save(
        self, tenant_id: str, namespace: list[str], key: str, value: dict[str, Any]
    ) -> dict[str, Any]:
        """Upsert the memory (embedded when the worker has an embedding model)."""
        if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_VALUE_BYTES:
            raise ModelRetry(f"That memory is too large (at most {MAX_VALUE_BYTES} bytes); save less.")
        embedding: list[float] | None = None
        model: str | None = None
        if self.embedder is not None:
            [embedding] = await self.embedder.embed([text_for_embedding(value)])
            model = self.embedder.model
        now = utcnow()
        async with session_scope(self.database, tenant_id) as session:
            store = StoreRepository(session, tenant_id)
            await store.purge_expired(now=now)
            await store.put(
                namespace,
                key,
                value,
                now=now,
                expires_at=None,
                ttl_s=None,
                embedding=embedding,
                embedding_model=model,
            )
        return {"saved": True, "key": key}

    async def search(
        self,
        tenant_id: str,
        namespace: list[str],
        *,
        query: str | None,
        filter: dict[str, Any] | None,
        limit: int,
    ) -> dict[str, Any]:
        """Memories under the namespace: ranked by the query's meaning with an embedding model,
        else those whose text contains it."""
        matched: SemanticQuery | TextQuery | None = None
        if query and self.embedder is not None:
            try:
                [vector] = await self.embedder.embed([query])
            except EmbeddingError:
                matched = TextQuery(text=query)
            else:
                matched = SemanticQuery(vector=vector, model=self.embedder.model)
        elif query:
            matched = TextQuery(text=query)
        async with session_scope(self.database, tenant_id) as session:
            found = await StoreRepository(session, tenant_id).search(
                namespace, now=utcnow(), filter=filter, query=matched, limit=limit
            )
        return {
            "memories": [
                {
                    "key": hit.item.key,
                    "value": _shown(hit.item.value),
                    "updated_at": hit.item.updated_at.isoformat(),
                    **({"score": round(hit.score, 4)} if hit.score is not None else {}),
                }
                for hit in found
            ]
        }

    async def delete(self, tenant_id: str, namespace: list[str], key: str) -> dict[str, Any]:
        """Delete the memory; says whether there was one."""
        async with session_scope(self.database, tenant_id) as session:
            deleted = await StoreRepository(session, tenant_id).delete(namespace, key, now=utcnow())
        return {"deleted": deleted, "key": key}


def _shown(value: dict[str, Any]) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    return value if len(text) <= MAX_RESULT_VALUE_CHARS else text[:MAX_RESULT_VALUE_CHARS] + "…"
