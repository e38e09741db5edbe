"""FastAPI dependencies: the process state, the calling principal, a database session scope,
and every service (``XServiceDep``).

The process's event bus (Redis fan-out of run events), rate limiter and OIDC verifier (JWKS
cache) live on :class:`AppState`.
Every ``/v1`` router is included with :func:`authenticate` as a router dependency: it resolves the
principal, leaves it on ``request.state.principal`` (the audit log reads it there) and applies
the tenant's rate limits.

Services are built here, one way: routers declare ``service: XServiceDep``. A service that only
reads and writes Postgres takes the request's session (:data:`SessionDep`: one transaction per
request, committed before the response). A service that calls Temporal gets a
:class:`~agent_runtime_core.db.UnitOfWork` instead and commits before each call, so a workflow
never looks for a row that is not committed yet and no transaction waits on Temporal.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.contrib.pydantic import pydantic_data_converter

from agent_runtime_api.auth import OidcConfig, OidcVerifier
from agent_runtime_api.auth import authenticate as authenticate_credentials
from agent_runtime_api.hot_reads import HotReads
from agent_runtime_api.rate_limits import TenantRateLimiter
from agent_runtime_api.services.agents import AgentService
from agent_runtime_api.services.api_keys import ApiKeyService
from agent_runtime_api.services.artifacts import ArtifactRules, ArtifactService
from agent_runtime_api.services.audit_log import AuditLogService
from agent_runtime_api.services.codec import CodecService
from agent_runtime_api.services.human_requests import HumanRequestService
from agent_runtime_api.services.limits import LimitsService
from agent_runtime_api.services.providers import ProviderService
from agent_runtime_api.services.retention import RetentionService
from agent_runtime_api.services.runs import RunService
from agent_runtime_api.services.secrets import SecretService
from agent_runtime_api.services.store import StoreService
from agent_runtime_api.services.streams import StreamOptions, StreamService
from agent_runtime_api.services.threads import ThreadService
from agent_runtime_api.services.tools import ToolPolicy, ToolService
from agent_runtime_api.services.usage import UsageService
from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_api.tenant_limits import TenantLimitsCache
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.breakers import CircuitBreakers, breaker_config
from agent_runtime_core.cache import ReadCache
from agent_runtime_core.crypto import EnvelopeCipher, cipher_from_settings
from agent_runtime_core.db import Database, UnitOfWork, session_scope
from agent_runtime_core.embeddings import Embedder, embedder_from_settings
from agent_runtime_core.errors import ForbiddenError, RateLimitedError
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.schemas import BreakerSettingsPublic
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings
from agent_runtime_core.storage import ObjectStorage


@dataclass
class AppState:
    """What the lifespan opens once per process."""

    settings: Settings
    database: Database
    temporal: TemporalConnection
    event_bus: EventBus | None = None
    """Redis fan-out of run events; built from ``settings.redis_url`` unless given (``None``
    when it is empty: streams then read Postgres only)."""
    rate_limiter: TenantRateLimiter | None = None
    """Per-tenant request limits (``None``: disabled or no Redis)."""
    oidc: OidcVerifier | None = None
    """Verifier of OIDC bearer JWTs; built from the settings unless given (``None`` without
    ``oidc_issuer``: only API keys are accepted)."""
    circuit_breakers: CircuitBreakers | None = None
    """The model-provider breakers workers share in Redis (admin API); built from
    ``settings.redis_url`` unless given (``None`` when it is empty)."""
    tenant_limits: TenantLimitsCache = field(init=False)
    """Each tenant's rate limits and active-run cap (overrides over the defaults)."""
    cipher: EnvelopeCipher | None = field(init=False)
    """Envelope encryption of tenants' secrets (``None``: no key configured; storing secrets is
    then a 503)."""
    read_cache: ReadCache | None = None
    """The Redis read cache of hot rows; built from the settings unless given (disabled without
    Redis or with ``cache_enabled`` off)."""
    hot_reads: HotReads = field(init=False)
    """The kinds of rows read through ``read_cache``."""
    embedder: Embedder | None = None
    """The memory store's embedding model; built from ``settings.embedding_model`` unless given
    (``None`` when unset: no semantic search)."""
    storage: ObjectStorage | None = None
    """Object storage of artifacts' bytes; built from the ``s3_*`` settings unless given
    (``None`` without a bucket: artifact calls answer 503 ``storage_not_configured``)."""

    def __post_init__(self) -> None:
        self.tenant_limits = TenantLimitsCache(self.database, self.settings)
        if self.read_cache is None:
            self.read_cache = ReadCache.from_settings(self.settings)
        self.hot_reads = HotReads.build(self.read_cache)
        if self.read_cache.enabled:  # this process's writes invalidate what they change
            self.database.read_cache = self.read_cache
        self.cipher = cipher_from_settings(self.settings)
        if self.embedder is None:
            self.embedder = embedder_from_settings(self.settings)
        if self.storage is None:
            self.storage = ObjectStorage.from_settings(self.settings)
        if self.event_bus is None:
            self.event_bus = EventBus.from_settings(self.settings)
        if self.circuit_breakers is None and self.settings.redis_url:
            self.circuit_breakers = CircuitBreakers.from_url(
                self.settings.redis_url, breaker_config(self.settings)
            )

        if self.rate_limiter is None:
            self.rate_limiter = TenantRateLimiter.from_settings(self.settings)
        if self.oidc is None:
            config = OidcConfig.from_settings(self.settings)
            self.oidc = OidcVerifier(config) if config is not None else None

    async def aclose(self) -> None:
        """Release what the process opened: the event bus, limiter and OIDC client, then the pool."""
        if self.event_bus is not None:
            await self.event_bus.aclose()
        if self.rate_limiter is not None:
            await self.rate_limiter.aclose()
        if self.oidc is not None:
            await self.oidc.aclose()
        if self.circuit_breakers is not None:
            await self.circuit_breakers.aclose()
        if self.storage is not None:
            await self.storage.aclose()
        if self.read_cache is not None:
            if self.database.read_cache is self.read_cache:
                self.database.read_cache = None
            await self.read_cache.aclose()
        await self.database.dispose()


def get_app_state(request: Request) -> AppState:
    """The process-wide state built by the lifespan."""
    state: AppState = request.app.state.agent_runtime
    return state


AppStateDep = Annotated[AppState, Depends(get_app_state)]


# Declared for OpenAPI (the Authorize button of /docs); `authenticate` reads the raw headers.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key (`ar_…`) or an OIDC access token (JWT) from your identity provider.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key (`ar_…`)."
)


async def get_principal(
    request: Request,
    state: AppStateDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """The authenticated caller (401 without valid credentials), kept on ``request.state.principal``."""
    principal = await authenticate_credentials(
        authorization=request.headers.get("authorization"),
        api_key_header=api_key,
        database=state.database,
        oidc=state.oidc,
        last_used_interval_s=state.settings.api_key_last_used_interval_s,
    )
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def authenticate(request: Request, principal: PrincipalDep, state: AppStateDep) -> Principal:
    """Router dependency of every ``/v1`` route: the principal, then the tenant's rate limits.

    Sets ``request.state.principal`` even when ``get_principal`` is overridden (tests), so the
    audit log sees who called. A request refused by the rate limiter is marked so the audit log
    skips it (a flood must not turn into database writes).
    """
    request.state.principal = principal
    if state.rate_limiter is not None:
        limits = await state.tenant_limits.get(principal.tenant_id)
        try:
            await state.rate_limiter.check(
                principal.tenant_id, per_minute=limits.rate_limit_per_minute, burst=limits.rate_limit_burst
            )
        except RateLimitedError:
            request.state.rate_limited = True
            raise
    return principal


async def get_session(state: AppStateDep, principal: PrincipalDep) -> AsyncGenerator[AsyncSession]:
    """One transaction per request, as the caller's tenant (row-level security applies):
    committed on success, rolled back on error."""
    async with session_scope(state.database, principal.tenant_id) as session:
        yield session


# scope="function": commit before the response is sent, so a client never reads stale state.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def require(permission: Permission) -> Callable[[Request, Principal], Principal]:
    """A dependency that answers 403 unless the caller holds ``permission``.

    Use as ``principal: Annotated[Principal, Depends(require(Permission.RUNS_CREATE))]``.
    """

    def check(request: Request, principal: PrincipalDep) -> Principal:
        # Also stored here, for callers whose get_principal is overridden (tests).
        request.state.principal = principal
        if not principal.can(permission):
            raise ForbiddenError(
                f"this call needs the '{permission.value}' permission", permission=permission
            )
        return principal

    return check


def require_platform_operator(permission: Permission) -> Callable[[Request, Principal], Principal]:
    """Like :func:`require`, for what every tenant of the deployment shares (provider endpoints,
    tenants' limits): ``permission`` counts only in the operators' tenant (``ten_default``), so
    one customer's admin cannot see or change what the others rely on."""
    base = require(permission)

    def check(request: Request, principal: PrincipalDep) -> Principal:
        base(request, principal)
        if principal.tenant_id != DEFAULT_TENANT_ID:
            raise ForbiddenError(
                f"this call concerns every tenant: it needs the '{permission.value}' permission in "
                f"the operators' tenant ({DEFAULT_TENANT_ID})",
                permission=permission,
            )
        return principal

    return check


RunReader = Annotated[Principal, Depends(require(Permission.RUNS_READ))]
"""A caller allowed to read runs (their events, streams, approvals and questions too)."""


# ----------------------------------------------------------------------------------- services


def get_unit_of_work(state: AppStateDep, principal: PrincipalDep) -> UnitOfWork:
    """Transactions of the caller's tenant, for services that commit before calling Temporal."""
    return UnitOfWork(state.database, principal.tenant_id)


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


def get_agent_service(session: SessionDep, principal: PrincipalDep, state: AppStateDep) -> AgentService:
    """Agents and versions, in the request's transaction (versions' tools checked against the
    deployment's rules for tools)."""
    return AgentService(
        session, principal.tenant_id, ToolPolicy.from_settings(state.settings), hot_reads=state.hot_reads
    )


AgentServiceDep = Annotated[AgentService, Depends(get_agent_service)]


def get_tool_service(session: SessionDep, principal: PrincipalDep, state: AppStateDep) -> ToolService:
    """Registered tools and the catalog, in the request's transaction."""
    return ToolService(session, principal.tenant_id, ToolPolicy.from_settings(state.settings))


ToolServiceDep = Annotated[ToolService, Depends(get_tool_service)]


def get_codec_service(state: AppStateDep) -> CodecService:
    """The codec server's service, with the converter the API's Temporal client uses."""
    return CodecService(state.temporal.data_converter or pydantic_data_converter)


CodecServiceDep = Annotated[CodecService, Depends(get_codec_service)]


def get_run_service(state: AppStateDep, unit_of_work: UnitOfWorkDep) -> RunService:
    """Runs: commits each run before its workflow starts."""
    return RunService(
        unit_of_work,
        state.temporal,
        task_queue=state.settings.temporal_task_queue,
        tenant_limits=state.tenant_limits,
        event_bus=state.event_bus,
        active_run_retry_after_s=state.settings.active_run_limit_retry_after_s,
        hot_reads=state.hot_reads,
        run_input_max_chars=state.settings.run_input_max_chars,
    )


RunServiceDep = Annotated[RunService, Depends(get_run_service)]


def get_thread_service(state: AppStateDep, session: SessionDep, principal: PrincipalDep) -> ThreadService:
    """Threads of the caller's tenant, in the request's transaction."""
    return ThreadService(session, principal.tenant_id, state.hot_reads)


ThreadServiceDep = Annotated[ThreadService, Depends(get_thread_service)]


def get_human_request_service(state: AppStateDep, unit_of_work: UnitOfWorkDep) -> HumanRequestService:
    """Approvals and questions: reads commit before a decision goes to the workflow."""
    return HumanRequestService(unit_of_work, state.temporal)


HumanRequestServiceDep = Annotated[HumanRequestService, Depends(get_human_request_service)]


def get_api_key_service(session: SessionDep, principal: PrincipalDep) -> ApiKeyService:
    """API keys of the caller's tenant, in the request's transaction."""
    return ApiKeyService(session, principal.tenant_id)


ApiKeyServiceDep = Annotated[ApiKeyService, Depends(get_api_key_service)]


def get_secret_service(state: AppStateDep, session: SessionDep, principal: PrincipalDep) -> SecretService:
    """Secrets and signing keys of the caller's tenant, in the request's transaction."""
    return SecretService(session, principal.tenant_id, state.cipher)


SecretServiceDep = Annotated[SecretService, Depends(get_secret_service)]


def get_store_service(state: AppStateDep, session: SessionDep, principal: PrincipalDep) -> StoreService:
    """The caller's tenant's long-term memory store, in the request's transaction."""
    return StoreService(session, principal.tenant_id, state.embedder, state.hot_reads)


StoreServiceDep = Annotated[StoreService, Depends(get_store_service)]


def get_artifact_service(state: AppStateDep, unit_of_work: UnitOfWorkDep) -> ArtifactService:
    """Artifacts: short transactions around the object storage calls (no transaction stays open
    while bytes move)."""
    return ArtifactService(unit_of_work, state.storage, ArtifactRules.from_settings(state.settings))


ArtifactServiceDep = Annotated[ArtifactService, Depends(get_artifact_service)]


def get_audit_log_service(session: SessionDep, principal: PrincipalDep) -> AuditLogService:
    """The caller's tenant's audit log, in the request's transaction."""
    return AuditLogService(session, principal.tenant_id)


AuditLogServiceDep = Annotated[AuditLogService, Depends(get_audit_log_service)]


def get_usage_service(session: SessionDep, principal: PrincipalDep) -> UsageService:
    """Budgets, prices and usage, in the request's transaction."""
    return UsageService(session, principal.tenant_id)


UsageServiceDep = Annotated[UsageService, Depends(get_usage_service)]


def get_limits_service(state: AppStateDep) -> LimitsService:
    """Tenants' limits. Operators act on any tenant, so it opens its own (system) transactions
    rather than the caller's tenant session, and keeps this process's limits cache in step."""
    return LimitsService(
        state.database, state.tenant_limits, rate_limits_enforced=state.rate_limiter is not None
    )


LimitsServiceDep = Annotated[LimitsService, Depends(get_limits_service)]


def get_retention_service(state: AppStateDep) -> RetentionService:
    """Tenants' retention periods. Operators act on any tenant, so it opens its own (system)
    transactions rather than the caller's tenant session."""
    return RetentionService(state.database, state.settings)


RetentionServiceDep = Annotated[RetentionService, Depends(get_retention_service)]


def get_provider_service(state: AppStateDep) -> ProviderService:
    """Provider endpoints and their circuit breakers (Redis; no database)."""
    settings = state.settings
    return ProviderService(
        state.circuit_breakers,
        BreakerSettingsPublic(
            failure_threshold=settings.breaker_failure_threshold,
            window_s=settings.breaker_window_s,
            cooldown_s=settings.breaker_cooldown_s,
        ),
    )


ProviderServiceDep = Annotated[ProviderService, Depends(get_provider_service)]


def get_stream_options() -> StreamOptions:
    """Timing of live streams (keep-alive every 15 s, Postgres polling every 250 ms without Redis).

    Override this dependency to change them (tests use short intervals).
    """
    return StreamOptions()


StreamOptionsDep = Annotated[StreamOptions, Depends(get_stream_options)]


def get_stream_service(
    state: AppStateDep, _: RunReader, unit_of_work: UnitOfWorkDep, options: StreamOptionsDep
) -> StreamService:
    """Live streams (the caller must be allowed to read runs). A stream outlives any one
    transaction, so it opens short ones through its unit of work."""
    return StreamService(unit_of_work, state.event_bus, options)


StreamServiceDep = Annotated[StreamService, Depends(get_stream_service)]
