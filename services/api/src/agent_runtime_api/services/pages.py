"""Cut a ``limit + 1`` query result into a page and the cursor of the next one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent_runtime_core.repositories import encode_cursor

T = TypeVar("T")


@dataclass(frozen=True)
class Window(Generic[T]):
    """Items of one page and the cursor of the next (``None`` on the last page)."""

    items: list[T]
    next_cursor: str | None


def window(rows: Sequence[T], limit: int, key: Callable[[T], str | int]) -> Window[T]:
    """Rows were fetched with ``limit + 1``: the extra row only tells that more exist."""
    items = list(rows[:limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return Window(items=items, next_cursor=next_cursor)
