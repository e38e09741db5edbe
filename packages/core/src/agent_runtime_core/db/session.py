"""The async engine and the session scope that owns commit and rollback.

Services and repositories never commit: the scope commits when the block succeeds and rolls back
when it raises, so one request (or one activity) is one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.settings import normalize_database_url


class Database:
    """One engine (connection pool) per process."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            echo=echo,
        )
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    def session(self) -> AsyncSession:
        """Return a new session (prefer :func:`session_scope`)."""
        return self._sessions()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


@asynccontextmanager
async def session_scope(database: Database) -> AsyncGenerator[AsyncSession]:
    """Yield a session; commit if the block succeeds, roll back if it raises."""
    async with database.session() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
