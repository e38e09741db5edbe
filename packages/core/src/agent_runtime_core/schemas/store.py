"""The long-term memory store (``/v1/store``): items addressed by a namespace and a key.

Field names follow LangGraph's store API (``langgraph-sdk``'s ``client.store``), so an adapter
for it only renames ``ttl`` (minutes there, ``ttl_s`` here) and moves the namespace of a delete
from its body to the query string.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import BaseModel, Field, field_validator

from agent_runtime_core.models.store import NAMESPACE_SEPARATOR
from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import StoreItem
    from agent_runtime_core.repositories import ScoredItem

MAX_NAMESPACE_LABELS: Final = 10
MAX_LABEL_LENGTH: Final = 256
MAX_KEY_LENGTH: Final = 1024
MAX_VALUE_BYTES: Final = 64 * 1024
"""Largest value (as compact JSON): a memory is a note, not a document store."""
MAX_TTL_S: Final = 10 * 365 * 24 * 3600
MAX_QUERY_LENGTH: Final = 4000
MAX_SEARCH_OFFSET: Final = 10_000


def namespace_problem(labels: list[str], *, allow_empty: bool = False) -> str | None:
    """Why ``labels`` is not a namespace, or ``None``."""
    if not labels and not allow_empty:
        return "a namespace has at least one label"
    if len(labels) > MAX_NAMESPACE_LABELS:
        return f"a namespace has at most {MAX_NAMESPACE_LABELS} labels"
    for label in labels:
        if not label:
            return "labels must not be empty"
        if len(label) > MAX_LABEL_LENGTH:
            return f"labels are at most {MAX_LABEL_LENGTH} characters"
        if NAMESPACE_SEPARATOR in label:
            return f"labels must not contain '{NAMESPACE_SEPARATOR}' (it joins them in query strings)"
    return None


def parse_namespace(joined: str) -> list[str]:
    """A namespace written as its labels joined with ``.`` (the query-string form)."""
    return joined.split(NAMESPACE_SEPARATOR) if joined else []


def _check_namespace(value: list[str], *, allow_empty: bool = False) -> list[str]:
    problem = namespace_problem(value, allow_empty=allow_empty)
    if problem:
        raise ValueError(problem)
    return value


Namespace = Annotated[
    list[str],
    Field(
        max_length=MAX_NAMESPACE_LABELS,
        description=(
            "Labels from general to specific (1-10, each 1-256 characters without `.`), like the "
            "folders of a path."
        ),
        examples=[["memories", "agt_01jd3x7k2m9q8r4t6v5w0y1z2a"]],
    ),
]
Label = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_LENGTH)]
Key = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        description="The item's id in its namespace.",
        examples=["colour"],
    ),
]


class StoreItemPut(StrictInput):
    """Create or replace an item."""

    namespace: Namespace
    key: Key
    value: dict[str, Any] = Field(
        description=f"Any JSON object, at most {MAX_VALUE_BYTES // 1024} KiB as JSON.",
        examples=[{"content": "The user's favourite colour is teal."}],
    )
    index: bool | Annotated[list[Label], Field(max_length=16)] | None = Field(
        default=None,
        description=(
            "What semantic search embeds: `null` or `true` the whole value, a list of top-level "
            "fields those fields only, `false` nothing (the item is found by prefix and filter, "
            "never ranked by a query). Ignored without an embedding model."
        ),
    )
    ttl_s: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TTL_S,
        description="Seconds until the item expires (it is then invisible at once); null: never.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: list[str]) -> list[str]:
        return _check_namespace(value)

    @field_validator("value")
    @classmethod
    def _value_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > MAX_VALUE_BYTES:
            raise ValueError(f"the value is larger than {MAX_VALUE_BYTES} bytes as JSON")
        return value


class StoreSearch(StrictInput):
    """Search items under a namespace prefix."""

    namespace_prefix: Annotated[list[str], Field(max_length=MAX_NAMESPACE_LABELS)] = Field(
        default_factory=list[str],
        description="Items whose namespace starts with these labels (`[]`: every item).",
        examples=[["memories"]],
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description="Only items whose value contains this JSON object (Postgres `@>`: equal "
        "members, arrays containing the listed elements, recursively).",
        examples=[{"kind": "preference"}],
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_LENGTH,
        description=(
            "Natural-language query: items are ranked by similarity (`score`) when the deployment "
            "has an embedding model; otherwise only items whose value contains this text "
            "(case-insensitive) are returned, unranked."
        ),
    )
    limit: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=MAX_SEARCH_OFFSET)

    @field_validator("namespace_prefix")
    @classmethod
    def _prefix(cls, value: list[str]) -> list[str]:
        return _check_namespace(value, allow_empty=True)


class StoreNamespaceList(StrictInput):
    """List the namespaces that hold items."""

    prefix: Annotated[list[str], Field(max_length=MAX_NAMESPACE_LABELS)] | None = Field(
        default=None, description="Namespaces starting with these labels; `*` matches any label."
    )
    suffix: Annotated[list[str], Field(max_length=MAX_NAMESPACE_LABELS)] | None = Field(
        default=None, description="Namespaces ending with these labels; `*` matches any label."
    )
    max_depth: int | None = Field(
        default=None,
        ge=1,
        le=MAX_NAMESPACE_LABELS,
        description="Cut longer namespaces to this many labels (duplicates are listed once).",
    )
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_SEARCH_OFFSET)

    @field_validator("prefix", "suffix")
    @classmethod
    def _labels(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_namespace(value, allow_empty=True)


class StoreItemPublic(BaseModel):
    """An item of the store."""

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(description="When it disappears; null: never.")

    @classmethod
    def from_row(cls, row: StoreItem) -> StoreItemPublic:
        """A stored item as the API shows it."""
        return cls(
            namespace=list(row.namespace),
            key=row.key,
            value=dict(row.value),
            created_at=row.created_at,
            updated_at=row.updated_at,
            expires_at=row.expires_at,
        )


class StoreSearchItemPublic(StoreItemPublic):
    """A found item, with its similarity to the query."""

    score: float | None = Field(
        default=None, description="Cosine similarity to `query` (-1..1); null without a semantic query."
    )

    @classmethod
    def from_scored(cls, found: ScoredItem) -> StoreSearchItemPublic:
        """A search hit as the API shows it."""
        base = StoreItemPublic.from_row(found.item)
        return cls(**base.model_dump(), score=found.score)


class StoreSearchResult(BaseModel):
    """Found items, best first."""

    items: list[StoreSearchItemPublic]


class StoreNamespaces(BaseModel):
    """Namespaces holding live items, sorted."""

    namespaces: list[list[str]]
