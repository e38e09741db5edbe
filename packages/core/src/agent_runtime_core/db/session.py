"""The async engine and the session scopes that own commit, rollback and the tenant.

Services and repositories never commit: the scope commits when the block succeeds and rolls back
when it raises, so one request (or one activity) is one transaction.

Every transaction of a tenant session runs as the unprivileged application role with the
tenant in ``app.tenant_id``, so Postgres row-level security (see :mod:`agent_runtime_core.db.rls`)
shows and accepts only that tenant's rows even if a query forgets its ``tenant_id`` filter. The
settings are applied when each transaction begins (a SQLAlchemy ``after_begin`` hook), with
``is_local`` so they end with the transaction and never leak to the next user of a pooled
connection. A session opened without a scope is fail-closed: it runs as the application role
with no tenant and sees no tenant rows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction
from sqlmodel import Session as SQLModelSession
from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_core.db.rls import APP_ROLE
from agent_runtime_core.settings import normalize_database_url

if TYPE_CHECKING:
    from agent_runtime_core.cache import ReadCache

SCOPE_KEY: Final = "agent_runtime_scope"
"""``Session.info`` key holding the scope: a tenant id, or :data:`SYSTEM_SCOPE`."""
SYSTEM_SCOPE: Final = object()
AFTER_COMMIT_KEY: Final = "agent_runtime_after_commit"
"""``Session.info`` key holding the callbacks :func:`after_commit` registered."""
BEFORE_COMMIT_KEY: Final = "agent_runtime_before_commit"
"""``Session.info`` key holding the callbacks :func:`before_commit` registered."""
READ_CACHE_KEY: Final = "agent_runtime_read_cache"
"""``Session.info`` key holding the database's :attr:`Database.read_cache` (when it has one)."""

logger = logging.getLogger(__name__)

# One statement, one round trip: role and tenant for the rest of this transaction only.
_ENTER_TENANT = text("SELECT set_config('role', :role, true), set_config('app.tenant_id', :tenant, true)")


class TenantSession(SQLModelSession):
    """The sync half of our async sessions; carries the scope in ``info``."""


@event.listens_for(TenantSession, "after_begin")
def _enter_scope(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    """Switch each new transaction to the application role and the session's tenant."""
    scope: Any = session.info.get(SCOPE_KEY)
    if scope is SYSTEM_SCOPE:
        return  # the connection's own role: owner of the tables, not subject to RLS
    # No scope (a bare `Database.session()`): the app role with an empty tenant sees nothing.
    tenant = scope if isinstance(scope, str) else ""
    connection.execute(_ENTER_TENANT, {"role": APP_ROLE, "tenant": tenant})


class Database:
    """One engine (connection pool) per process."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False, pre_ping: bool = True) -> None:
        """Pool up to ``pool_size`` (+ as many overflow) connections to ``url``.

        ``pre_ping`` tests each connection when it is taken from the pool (one more round trip
        per transaction) so a connection dropped by a database restart is never used. The
        worker turns it off: an activity that meets a dropped connection fails, the pool is
        renewed, and Temporal retries the activity (they are all idempotent).
        """
        self.url = normalize_database_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=pre_ping,
            echo=echo,
        )
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=TenantSession, expire_on_commit=False
        )
        self.read_cache: ReadCache | None = None
        """The Redis read cache this process keeps (API) or only invalidates (worker); every
        scope's session carries it, so writes in repositories delete the cached rows they change
        after the commit (:func:`agent_runtime_core.cache.invalidate_after_commit`)."""

    def session(self) -> AsyncSession:
        """Return a new fail-closed session (no tenant: sees no rows). Use :func:`session_scope`."""
        return self._sessions()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Await ``callback`` when the scope of ``session`` ends: right after its commit, before the
    scope returns to its caller (for a request's session: before the response is sent).

    For work that must follow the commit, such as deleting cache entries of rows the
    transaction changed (:mod:`agent_runtime_core.cache`). Callbacks also run after a rollback
    caused by an exception (an earlier commit inside the scope may have written), so they must
    be harmless to run then; they should not raise (an exception is logged and swallowed).
    """
    session.sync_session.info.setdefault(AFTER_COMMIT_KEY, []).append(callback)


def before_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Await ``callback`` when the block of ``session``'s scope succeeded, after its last flush
    and right before its commit (skipped if the block raises). It should not raise (an
    exception is logged and swallowed: the commit goes on)."""
    session.sync_session.info.setdefault(BEFORE_COMMIT_KEY, []).append(callback)


async def _run_callbacks(session: AsyncSession, key: str) -> None:
    callbacks: list[Callable[[], Awaitable[None]]] = session.sync_session.info.pop(key, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            logger.exception("a %s callback failed", key)


async def _run_after_commit(session: AsyncSession) -> None:
    session.sync_session.info.pop(BEFORE_COMMIT_KEY, None)
    await _run_callbacks(session, AFTER_COMMIT_KEY)


@asynccontextmanager
async def _scope(database: Database, scope: object) -> AsyncGenerator[AsyncSession]:
    async with database.session() as session:
        session.sync_session.info[SCOPE_KEY] = scope
        if database.read_cache is not None:
            session.sync_session.info[READ_CACHE_KEY] = database.read_cache
        try:
            yield session
            if session.sync_session.info.get(BEFORE_COMMIT_KEY) or database.read_cache is not None:
                await session.flush()  # flush hooks may register before-commit callbacks
                await _run_callbacks(session, BEFORE_COMMIT_KEY)
            await session.commit()
        except Exception:
            await session.rollback()
            await _run_after_commit(session)
            raise
        except BaseException:
            await session.rollback()
            raise
        await _run_after_commit(session)


@asynccontextmanager
async def session_scope(database: Database, tenant_id: str) -> AsyncGenerator[AsyncSession]:
    """Yield a session of ``tenant_id``; commit if the block succeeds, roll back if it raises.

    Row-level security limits every statement to ``tenant_id``'s rows (reads and writes).
    """
    if not tenant_id:
        raise ValueError("session_scope needs a tenant id; use system_session_scope for system work")
    async with _scope(database, tenant_id) as session:
        yield session


@asynccontextmanager
async def system_session_scope(database: Database) -> AsyncGenerator[AsyncSession]:
    """Yield a session that sees every tenant's rows (the connection's own role, no RLS).

    Only for the few operations that are not done on behalf of one tenant: looking up an API key
    before its tenant is known, development bootstrap, telling a foreign run from a missing one
    in the worker's error path, and tests that inspect rows directly. Everything a tenant asks
    for goes through :func:`session_scope`.
    """
    async with _scope(database, SYSTEM_SCOPE) as session:
        yield session
