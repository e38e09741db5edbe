"""What the activity half of the worker needs, opened once by ``build_worker``.

:class:`WorkerDependencies` is built by :func:`~agent_runtime_worker.main.build_worker` and handed
to every object that runs inside an activity, in its ``__init__``: the worker's own activity
classes (``RunActivities``, ``HumanRequestActivities``) and the objects pydantic-ai's activities
call into (``AgentActivities``: the model resolver, the model event recorder, the recording
toolset; ``GovernedModel``). The worker's own activity classes reach it through no global at all;
pydantic-ai's activities reach ``AgentActivities`` through the agent definition's one slot
(``runtime_agent.activity_side``), which is per process like the agent itself: the last
``build_worker`` of a process serves them (a process runs one worker; tests build one at a time).

Workflow code never imports this module (``lint-imports`` enforces it): it does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from agent_runtime_core.breakers import CircuitBreakers, breaker_config
from agent_runtime_core.cache import ReadCache
from agent_runtime_core.crypto import cipher_from_settings
from agent_runtime_core.db import Database
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage
from agent_runtime_worker.activities.tool_credentials import DatabaseToolCredentials
from agent_runtime_worker.events import RunEventWriter
from agent_runtime_worker.governance.budgets import BudgetService, StreamedRequests
from agent_runtime_worker.models.registry import ProviderSettings
from agent_runtime_worker.tools import HttpGetPolicy, SandboxPolicy
from agent_runtime_worker.tools.http_tool import HttpToolPolicy, SigningKeyResolver
from agent_runtime_worker.tools.mcp import McpPolicy, SecretResolver


@dataclass(frozen=True, kw_only=True)
class WorkerDependencies:
    """The worker's settings and the clients its activities share."""

    settings: Settings
    database: Database
    events: RunEventWriter
    """Writes run events (Postgres) and publishes them (Redis, when configured)."""
    budgets: BudgetService
    """Budget checks and the usage ledger."""
    breakers: CircuitBreakers | None
    """Circuit breakers of provider endpoints (``None`` without Redis: no breaker)."""
    http_get_policy: HttpGetPolicy
    """The limits the ``http_get`` tool enforces."""
    streamed_requests: StreamedRequests = field(default_factory=StreamedRequests)
    """Streamed model requests in flight, handed from the model to its event recorder."""
    secrets: SecretResolver | None = None
    """Reads tenants' secrets (HTTP tool and MCP server headers' ``{{secrets.NAME}}``); ``None``:
    none exist, so a header naming one fails its call."""
    signing_keys: SigningKeyResolver | None = None
    """Reads tenants' keys for signing HTTP tool requests; ``None``: requests go unsigned."""
    storage: ObjectStorage | None = None
    """Object storage of artifacts' bytes: the artifact tools read and write it, the retention
    cleanup deletes from it (``None`` without a bucket, ``AGENT_RUNTIME_S3_BUCKET``: the tools'
    calls are tool errors)."""
    read_cache: ReadCache | None = None
    """The API's Redis read cache, which the worker never reads but must invalidate: set on
    ``database``, so every thread row it changes (a run's end hands the thread over), summary it
    adds and store item its memory tools write deletes the cached entry after the commit."""

    @property
    def sandbox_policy(self) -> SandboxPolicy:
        """The limits ``run_python`` runs code under."""
        settings = self.settings
        return SandboxPolicy(
            timeout_s=settings.sandbox_timeout_s,
            cpu_time_s=settings.sandbox_cpu_time_s,
            memory_bytes=settings.sandbox_memory_bytes,
            max_output_bytes=settings.sandbox_max_output_bytes,
        )

    @property
    def http_tool_policy(self) -> HttpToolPolicy:
        """What HTTP tools may do on this worker."""
        settings = self.settings
        return HttpToolPolicy(
            require_https=settings.tools_require_https,
            allow_private_networks=settings.tools_allow_private_networks,
            max_timeout_s=settings.tools_max_timeout_s,
            max_response_bytes=settings.tools_max_response_bytes,
        )

    @property
    def mcp_policy(self) -> McpPolicy:
        """What MCP servers may do on this worker."""
        settings = self.settings
        return McpPolicy(
            require_https=settings.tools_require_https,
            allow_private_networks=settings.tools_allow_private_networks,
            stdio_servers=dict(settings.mcp_stdio_servers),
            max_timeout_s=settings.tools_max_timeout_s,
        )

    @classmethod
    def open(cls, settings: Settings, database: Database) -> WorkerDependencies:
        """The dependencies of a worker with ``settings`` writing to ``database``.

        Redis clients connect lazily (on first use), in the event loop the worker runs in.
        """
        bus = EventBus.from_settings(settings)
        credentials = DatabaseToolCredentials(database, cipher_from_settings(settings))
        breakers = (
            CircuitBreakers.from_url(settings.redis_url, breaker_config(settings))
            if settings.redis_url
            else None
        )
        read_cache = ReadCache.from_settings(settings)
        if read_cache.enabled:
            database.read_cache = read_cache
        return cls(
            settings=settings,
            database=database,
            read_cache=read_cache if read_cache.enabled else None,
            storage=ObjectStorage.from_settings(settings),
            events=RunEventWriter(database, bus),
            budgets=BudgetService(database, settings),
            breakers=breakers,
            secrets=credentials,
            signing_keys=credentials,
            http_get_policy=HttpGetPolicy(
                allow_private_networks=settings.http_get_allow_private_networks,
                max_bytes=settings.http_get_max_bytes,
                timeout_s=settings.http_get_timeout_s,
            ),
        )

    @property
    def provider_settings(self) -> ProviderSettings:
        """This worker's model credentials and base URLs."""
        settings = self.settings

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        return ProviderSettings(
            openai_key=secret(settings.openai_api_key),
            openai_base_url=settings.openai_api_base_url,
            anthropic_key=secret(settings.anthropic_api_key),
            anthropic_base_url=settings.anthropic_base_url,
            compatible_base_url=settings.openai_base_url,
            compatible_key=secret(settings.openai_compatible_api_key),
            timeout_s=settings.model_request_timeout_s,
        )

    async def aclose(self) -> None:
        """Publish what is queued and close the Redis clients (worker shutdown)."""
        await self.events.aclose()
        if self.storage is not None:
            await self.storage.aclose()
        if self.breakers is not None:
            await self.breakers.aclose()
        if self.read_cache is not None:
            if self.database.read_cache is self.read_cache:
                self.database.read_cache = None
            await self.read_cache.aclose()
