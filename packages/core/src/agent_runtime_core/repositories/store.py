"""Queries on a tenant's long-term memory store (``store_items``).

Expired items are invisible to every read here; :meth:`StoreRepository.purge_expired` deletes
them in small batches (called on writes: lazy purge, no sweeper process).

:meth:`StoreRepository.put` and :meth:`StoreRepository.delete` delete the item's read-cache entry
after the commit, whichever process writes (the API, the worker's memory tools); the purge need
not (a cached item never outlives its ``expires_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Text, and_, case, delete, func, literal, or_, true, tuple_
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB, insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.cache import STORE_ITEM, invalidate_after_commit, store_item_id
from agent_runtime_core.models import StoreItem
from agent_runtime_core.models.store import NAMESPACE_SEPARATOR

PURGE_BATCH: Final = 100
"""Expired items deleted per write at most (keeps a write's cost bounded)."""
_KEY_COLUMNS: Final = ("tenant_id", "namespace_path", "key")
WILDCARD: Final = "*"
"""In a namespace listing's prefix or suffix: any one label."""


@dataclass(frozen=True)
class ScoredItem:
    """An item found by a search, with its similarity to the query (``None``: not ranked)."""

    item: StoreItem
    score: float | None


@dataclass(frozen=True)
class SemanticQuery:
    """A query vector (unit length) and the model that made it."""

    vector: Sequence[float]
    model: str


@dataclass(frozen=True)
class TextQuery:
    """A case-insensitive substring of the value's JSON text (no embedding model)."""

    text: str


def namespace_path(namespace: Sequence[str]) -> str:
    """The labels joined with the separator (labels never contain it)."""
    return NAMESPACE_SEPARATOR.join(namespace)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class StoreRepository:
    """Items of one tenant's store."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _live(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            col(StoreItem.tenant_id) == self.tenant_id,
            or_(col(StoreItem.expires_at).is_(None), col(StoreItem.expires_at) > now),
        )

    def _under(self, prefix: Sequence[str]) -> ColumnElement[bool]:
        """Items whose namespace is ``prefix`` or below it (a range scan of the prefix index)."""
        if not prefix:
            return true()
        path = namespace_path(prefix)
        return or_(
            col(StoreItem.namespace_path) == path,
            col(StoreItem.namespace_path).like(_like_escape(path + NAMESPACE_SEPARATOR) + "%", escape="\\"),
        )

    def _at(self, namespace: Sequence[str], key: str) -> ColumnElement[bool]:
        return and_(col(StoreItem.namespace_path) == namespace_path(namespace), col(StoreItem.key) == key)

    async def get(self, namespace: Sequence[str], key: str, *, now: datetime) -> StoreItem | None:
        """The live item at ``namespace``/``key``, or ``None``."""
        statement = (
            select(StoreItem)
            .where(self._live(now), self._at(namespace, key))
            .execution_options(populate_existing=True)
        )
        return (await self.session.exec(statement)).first()

    async def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: dict[str, Any],
        *,
        now: datetime,
        expires_at: datetime | None,
        ttl_s: int | None,
        embedding: Sequence[float] | None,
        embedding_model: str | None,
    ) -> StoreItem:
        """Create or replace the item (an expired one is replaced as if new)."""
        row: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "namespace_path": namespace_path(namespace),
            "key": key,
            "namespace": list(namespace),
            "value": value,
            "created_at": now,
            "updated_at": now,
            "expires_at": expires_at,
            "ttl_s": ttl_s,
            "embedding": list(embedding) if embedding is not None else None,
            "embedding_model": embedding_model,
        }
        statement = insert(StoreItem).values(row)
        was_expired = and_(col(StoreItem.expires_at).is_not(None), col(StoreItem.expires_at) <= now)
        replaced: dict[str, Any] = {
            name: statement.excluded[name] for name in row if name not in _KEY_COLUMNS
        }
        replaced["created_at"] = case(
            (was_expired, statement.excluded.created_at), else_=col(StoreItem.created_at)
        )
        statement = statement.on_conflict_do_update(index_elements=list(_KEY_COLUMNS), set_=replaced)
        connection = await self.session.connection()
        await connection.execute(statement)
        invalidate_after_commit(self.session, STORE_ITEM, self.tenant_id, store_item_id(namespace, key))
        item = await self.get(namespace, key, now=now)
        if item is None:  # pragma: no cover - written in this transaction, an instant ago
            raise RuntimeError("the item just written is missing")
        return item

    async def delete(self, namespace: Sequence[str], key: str, *, now: datetime) -> bool:
        """Delete the live item; whether there was one."""
        statement = delete(StoreItem).where(self._live(now), self._at(namespace, key))
        connection = await self.session.connection()
        result = await connection.execute(statement)
        if result.rowcount > 0:
            invalidate_after_commit(self.session, STORE_ITEM, self.tenant_id, store_item_id(namespace, key))
        return result.rowcount > 0

    async def purge_expired(self, *, now: datetime, limit: int = PURGE_BATCH) -> int:
        """Delete up to ``limit`` of this tenant's expired items; how many went."""
        expired = (
            select(col(StoreItem.namespace_path), col(StoreItem.key))
            .where(col(StoreItem.tenant_id) == self.tenant_id, col(StoreItem.expires_at) <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = delete(StoreItem).where(
            col(StoreItem.tenant_id) == self.tenant_id,
            tuple_(col(StoreItem.namespace_path), col(StoreItem.key)).in_(expired),
        )
        connection = await self.session.connection()
        return (await connection.execute(statement)).rowcount

    async def search(
        self,
        prefix: Sequence[str],
        *,
        now: datetime,
        filter: dict[str, Any] | None = None,
        query: SemanticQuery | TextQuery | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[ScoredItem]:
        """Live items under ``prefix`` whose value contains ``filter`` (``@>``).

        A :class:`SemanticQuery` ranks them by cosine similarity (a dot product of unit vectors,
        computed in SQL over every candidate: no vector index); items without an embedding of that
        model come last, unranked. A :class:`TextQuery` keeps only values whose JSON text
        contains it. Otherwise, and among equals, the most recently updated come first.
        """
        score: ColumnElement[Any] = literal(None)
        if isinstance(query, SemanticQuery):
            pairs = func.unnest(
                col(StoreItem.embedding), sql_cast(list(query.vector), ARRAY(DOUBLE_PRECISION))
            )
            pairs_table = pairs.table_valued("a", "b").render_derived(name="pairs")
            dot = select(func.sum(pairs_table.c.a * pairs_table.c.b)).scalar_subquery()
            score = case((col(StoreItem.embedding_model) == query.model, dot), else_=None)
        statement = select(StoreItem, score.label("score")).where(self._live(now), self._under(prefix))
        if filter:
            statement = statement.where(col(StoreItem.value).op("@>")(sql_cast(filter, JSONB)))
        if isinstance(query, TextQuery):
            pattern = "%" + _like_escape(query.text) + "%"
            statement = statement.where(sql_cast(col(StoreItem.value), Text).ilike(pattern, escape="\\"))
        order: list[Any] = []
        if isinstance(query, SemanticQuery):
            order.append(score.desc().nulls_last())
        order.extend([col(StoreItem.updated_at).desc(), col(StoreItem.namespace_path), col(StoreItem.key)])
        rows = (await self.session.exec(statement.order_by(*order).limit(limit).offset(offset))).all()
        return [
            ScoredItem(item=item, score=float(value) if value is not None else None) for item, value in rows
        ]

    async def list_namespaces(
        self,
        *,
        now: datetime,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[list[str]]:
        """Distinct namespaces of live items, sorted, cut to ``max_depth`` labels; ``prefix`` and
        ``suffix`` match labels in order, :data:`WILDCARD` matching any one label."""
        namespace = col(StoreItem.namespace)
        depth = func.cardinality(namespace)
        conditions: list[ColumnElement[bool]] = [self._live(now)]
        prefix = list(prefix or [])
        suffix = list(suffix or [])
        if prefix:
            fixed = prefix[: prefix.index(WILDCARD)] if WILDCARD in prefix else prefix
            if fixed:
                conditions.append(self._under(fixed))
            conditions.append(depth >= len(prefix))
            conditions.extend(
                namespace[index + 1] == label for index, label in enumerate(prefix) if label != WILDCARD
            )
        if suffix:
            conditions.append(depth >= len(suffix))
            conditions.extend(
                namespace[depth - len(suffix) + index + 1] == label
                for index, label in enumerate(suffix)
                if label != WILDCARD
            )
        listed: ColumnElement[Any] = (
            sql_cast(namespace, ARRAY(Text)) if max_depth is None else namespace[1:max_depth]
        )
        statement = (
            select(listed.label("namespace"))
            .where(*conditions)
            .distinct()
            .order_by(listed)
            .limit(limit)
            .offset(offset)
        )
        rows = (await self.session.exec(statement)).all()
        return [[str(label) for label in labels] for labels in rows]
