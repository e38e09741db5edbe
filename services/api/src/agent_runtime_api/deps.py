"""FastAPI dependencies: settings, a database session scope, Temporal, the calling principal.

The process's event bus (Redis fan-out of run events) lives on :class:`AppState`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.breakers import CircuitBreakers, breaker_config
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.errors import ForbiddenError
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings


@dataclass
class AppState:
    """What the lifespan opens once per process."""

    settings: Settings
    database: Database
    temporal: TemporalConnection
    event_bus: EventBus | None = None
    """Redis fan-out of run events; built from ``settings.redis_url`` unless given (``None``
    when it is empty: streams then read Postgres only)."""
    circuit_breakers: CircuitBreakers | None = None
    """The model-provider breakers workers share in Redis (admin API); built from
    ``settings.redis_url`` unless given (``None`` when it is empty)."""

    def __post_init__(self) -> None:
        if self.event_bus is None:
            self.event_bus = EventBus.from_settings(self.settings)
        if self.circuit_breakers is None and self.settings.redis_url:
            self.circuit_breakers = CircuitBreakers.from_url(
                self.settings.redis_url, breaker_config(self.settings)
            )

    async def aclose(self) -> None:
        """Release what the process opened: the event bus, breakers, then the database pool."""
        if self.event_bus is not None:
            await self.event_bus.aclose()
        if self.circuit_breakers is not None:
            await self.circuit_breakers.aclose()
        await self.database.dispose()


def get_app_state(request: Request) -> AppState:
    """The process-wide state built by the lifespan."""
    state: AppState = request.app.state.agent_runtime
    return state


AppStateDep = Annotated[AppState, Depends(get_app_state)]


def get_settings_dep(state: AppStateDep) -> Settings:
    """The settings of this process."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def get_session(state: AppStateDep) -> AsyncGenerator[AsyncSession]:
    """One transaction per request: committed on success, rolled back on error."""
    async with session_scope(state.database) as session:
        yield session


# scope="function": commit before the response is sent, so a client never reads stale state.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_temporal_client(state: AppStateDep) -> Client:
    """The shared Temporal client (503 if Temporal is unreachable)."""
    return await state.temporal.client()


def get_principal() -> Principal:
    """The calling principal. Until authentication lands, everyone is an admin of the default tenant."""
    return Principal(tenant_id=DEFAULT_TENANT_ID, subject="anonymous", auth_method="dev")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    """A dependency that answers 403 unless the caller holds ``permission``.

    Use as ``principal: Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]``.
    """

    def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise ForbiddenError(
                f"this call needs the '{permission.value}' permission", permission=permission
            )
        return principal

    return check
