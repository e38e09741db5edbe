"""The long-term memory store (``/v1/store``): a tenant's JSON items by namespace and key.

Shaped for two front doors: ``/v1/store`` and the LangGraph Platform adapter (``/store/...``),
which takes the same arguments (``ttl`` in minutes there). Embeddings are computed here, on
write, when the deployment has an embedding model and the item is indexed; a semantic query is
embedded the same way. Every write also deletes a batch of the tenant's expired items (lazy
purge); reads never see expired items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.hot_reads import HotReads
from agent_runtime_core.cache import store_item_id
from agent_runtime_core.embeddings import Embedder, EmbeddingError, text_for_embedding
from agent_runtime_core.errors import DomainError, NotFoundError
from agent_runtime_core.models import StoreItem
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ScoredItem, SemanticQuery, StoreRepository, TextQuery
from agent_runtime_core.repositories.store import namespace_path
from agent_runtime_core.schemas import StoreItemPublic


def embedding_unavailable(error: EmbeddingError) -> DomainError:
    """The embedding model failed: the client may retry (nothing was written)."""
    return DomainError(
        detail=f"{error} Nothing was written; try again.",
        status=503,
        code="embedding_unavailable",
        title="Service unavailable",
        headers={"Retry-After": "5"},
    )


class StoreService:
    """Items of the caller's tenant, in the request's transaction.

    ``get`` reads through the read cache (``hot_reads``) when given; the repository's writes
    invalidate it.
    """

    def __init__(
        self,
        session: AsyncSession,
        tenant_id: str,
        embedder: Embedder | None,
        hot_reads: HotReads | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.items = StoreRepository(session, tenant_id)
        self.embedder = embedder
        self.hot_reads = hot_reads

    async def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: dict[str, Any],
        *,
        index: bool | Sequence[str] | None = None,
        ttl_s: int | None = None,
    ) -> StoreItem:
        """Create or replace an item (embedded unless ``index`` is ``False``)."""
        embedding: list[float] | None = None
        model: str | None = None
        if self.embedder is not None and index is not False:
            fields = list(index) if isinstance(index, Sequence) and not isinstance(index, str) else None
            try:
                [embedding] = await self.embedder.embed([text_for_embedding(value, fields)])
            except EmbeddingError as error:
                raise embedding_unavailable(error) from error
            model = self.embedder.model
        now = utcnow()
        await self.items.purge_expired(now=now)
        return await self.items.put(
            namespace,
            key,
            value,
            now=now,
            expires_at=now + timedelta(seconds=ttl_s) if ttl_s is not None else None,
            ttl_s=ttl_s,
            embedding=embedding,
            embedding_model=model,
        )

    async def get(self, namespace: Sequence[str], key: str) -> StoreItemPublic:
        """The item, or 404 (another tenant's, or an expired one, too)."""

        async def load() -> StoreItemPublic | None:
            row = await self.items.get(namespace, key, now=utcnow())
            return StoreItemPublic.from_row(row) if row is not None else None

        if self.hot_reads is None:
            item = await load()
        else:
            item = await self.hot_reads.store_items.get(self.tenant_id, store_item_id(namespace, key), load)
        if item is None:
            raise _not_found(namespace, key)
        return item

    async def delete(self, namespace: Sequence[str], key: str) -> None:
        """Delete the item, or 404."""
        if not await self.items.delete(namespace, key, now=utcnow()):
            raise _not_found(namespace, key)

    async def search(
        self,
        namespace_prefix: Sequence[str],
        *,
        filter: dict[str, Any] | None = None,
        query: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[ScoredItem]:
        """Items under the prefix matching the filter; ranked by ``query`` with an embedding model,
        filtered by it as text without one."""
        matched: SemanticQuery | TextQuery | None = None
        if query is not None and self.embedder is not None:
            try:
                [vector] = await self.embedder.embed([query])
            except EmbeddingError as error:
                raise embedding_unavailable(error) from error
            matched = SemanticQuery(vector=vector, model=self.embedder.model)
        elif query is not None:
            matched = TextQuery(text=query)
        return await self.items.search(
            namespace_prefix, now=utcnow(), filter=filter, query=matched, limit=limit, offset=offset
        )

    async def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[list[str]]:
        """Namespaces holding live items, sorted."""
        return await self.items.list_namespaces(
            now=utcnow(), prefix=prefix, suffix=suffix, max_depth=max_depth, limit=limit, offset=offset
        )


def _not_found(namespace: Sequence[str], key: str) -> NotFoundError:
    return NotFoundError("Store item", f"{namespace_path(namespace)}/{key}")
