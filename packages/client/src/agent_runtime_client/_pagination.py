"""Lists that follow the API's cursors for you.

Every list endpoint answers ``{"data": [...], "next_cursor": ...}``; the next page is asked for
with ``?cursor=<next_cursor>`` and the last page has ``next_cursor: null``. Iterating a
:class:`Pager` (or an :class:`AsyncPager` with ``async for``) walks every page lazily, one request
per page as the items are consumed, so ``break`` stops the requests too. ``page()`` fetches a
single page for callers that keep the cursor themselves (a UI's "more" button, a CLI's
``--cursor``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel

from agent_runtime_client._models import APIModel

__all__ = ["AsyncPager", "Page", "Pager"]

T = TypeVar("T", bound=BaseModel)


class Page(APIModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` to get the next one (null on the last page)."""

    data: list[T]
    next_cursor: str | None = None

    @property
    def has_more(self) -> bool:
        """Whether another page follows."""
        return bool(self.next_cursor)


class Pager(Generic[T]):
    """Every item of a list, page after page (no request is made until you iterate).

    Example:
        >>> for agent in client.agents.list():          # every agent, 20 per request
        ...     print(agent.name)
        >>> page = client.agents.list(limit=5).page()   # one page
        >>> more = client.agents.list(limit=5).page(page.next_cursor)
    """

    def __init__(self, fetch: Callable[[str | None], Page[T]], cursor: str | None = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first (or the one after ``cursor``)."""
        return self._fetch(cursor if cursor is not None else self._cursor)

    def pages(self) -> Iterator[Page[T]]:
        """Every page in turn."""
        cursor = self._cursor
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data


class AsyncPager(Generic[T]):
    """Every item of a list, page after page, for ``async for`` (lazy, like :class:`Pager`).

    Example:
        >>> async for run in client.runs.list(status="waiting"):
        ...     print(run.id)
        >>> page = await client.runs.list(limit=10).page()
    """

    def __init__(self, fetch: Callable[[str | None], Awaitable[Page[T]]], cursor: str | None = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    async def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first (or the one after ``cursor``)."""
        return await self._fetch(cursor if cursor is not None else self._cursor)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in turn."""
        cursor = self._cursor
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    async def to_list(self) -> list[T]:
        """Every item, in one list (all pages are fetched)."""
        return [item async for item in self]
