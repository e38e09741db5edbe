"""The two clients: :class:`AgentRuntime` (blocking) and :class:`AsyncAgentRuntime` (asyncio).

Both are configured the same way (arguments, else ``AGENT_RUNTIME_URL`` and
``AGENT_RUNTIME_API_KEY``, else the local dev stack's address) and expose the same resources under
the same names, so code moves between them by adding ``await``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

import httpx

from agent_runtime_client._async_resources import (
    AsyncAgents,
    AsyncApiKeys,
    AsyncApprovals,
    AsyncArtifacts,
    AsyncEvents,
    AsyncLimits,
    AsyncQuestions,
    AsyncRetention,
    AsyncRuns,
    AsyncSecrets,
    AsyncSigningKeys,
    AsyncStore,
    AsyncThreads,
    AsyncTools,
    AsyncUsage,
)
from agent_runtime_client._http import AsyncHTTP, ClientOptions, SyncHTTP
from agent_runtime_client._resources import (
    Agents,
    ApiKeys,
    Approvals,
    Artifacts,
    Events,
    Limits,
    Questions,
    Retention,
    Runs,
    Secrets,
    SigningKeys,
    Store,
    Threads,
    Tools,
    Usage,
)
from agent_runtime_client._retries import RetryPolicy

__all__ = ["AgentRuntime", "AsyncAgentRuntime"]


class AgentRuntime:
    """A client of the Agent Runtime API (blocking; see :class:`AsyncAgentRuntime` for asyncio).

    Args:
        base_url: The API's address; default ``AGENT_RUNTIME_URL``, else ``http://127.0.0.1:8000``.
        api_key: Sent as ``Authorization: Bearer <api_key>``; default ``AGENT_RUNTIME_API_KEY``.
        timeout: Seconds (or an ``httpx.Timeout``) for each request; default 30.
        retry: When to retry (429/503 per ``Retry-After``, broken connections of safe calls);
            default ``RetryPolicy()``: 5 attempts, waits of at most 30 s.
        headers: Extra headers for every request.
        stream_read_timeout_s: Silence after which an event stream reconnects; default 60.
        http_client: An ``httpx.Client`` of your own (proxies, TLS, transports); it is not closed
            by :meth:`close`.

    Example:
        >>> from agent_runtime_client import AgentRuntime
        >>> with AgentRuntime() as client:  # AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
        ...     agent = client.agents.create(
        ...         "calc", version={"model": "builtin:scripted", "tools": [{"name": "calculator"}]}
        ...     )
        ...     run = client.runs.create(agent.id, "What is 6*7?").wait()
        ...     print(run.output)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        stream_read_timeout_s: float | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        options = ClientOptions.resolve(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            stream_read_timeout_s=stream_read_timeout_s,
            retry=retry,
            headers=headers,
        )
        self._http = SyncHTTP(options, http_client)
        self.agents = Agents(self._http)
        """Agents and their versions."""
        self.approvals = Approvals(self._http)
        """Tool calls of runs waiting for a human decision."""
        self.questions = Questions(self._http)
        """Questions of runs' agents to humans (``ask_human``)."""
        self.runs = Runs(self._http, self.approvals, self.questions)
        """Runs: start, stream, wait, cancel."""
        self.threads = Threads(self._http)
        """Conversations."""
        self.store = Store(self._http)
        """Long-term memory items."""
        self.artifacts = Artifacts(self._http)
        """Files: upload, list, download, delete."""
        self.tools = Tools(self._http)
        """Registered HTTP tools and the catalog."""
        self.secrets = Secrets(self._http)
        """Write-only tool secrets."""
        self.signing_keys = SigningKeys(self._http)
        """Keys signing HTTP tools' requests."""
        self.api_keys = ApiKeys(self._http)
        """API keys of your tenant."""
        self.usage = Usage(self._http)
        """Usage, budgets and prices."""
        self.limits = Limits(self._http)
        """Rate limits and run caps."""
        self.retention = Retention(self._http)
        """How long runs, threads and artifacts are kept."""
        self.events = Events(self._http)
        """Every event of your runs, live."""

    @property
    def base_url(self) -> str:
        """The API's address."""
        return self._http.options.base_url

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy."""
        return self._http.options.retry

    def close(self) -> None:
        """Close the client's connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AgentRuntime(base_url={self.base_url!r})"


class AsyncAgentRuntime:
    """A client of the Agent Runtime API for asyncio (the twin of :class:`AgentRuntime`).

    Takes the same arguments (``http_client`` is an ``httpx.AsyncClient``).

    Example:
        >>> from agent_runtime_client import AsyncAgentRuntime
        >>> async with AsyncAgentRuntime() as client:
        ...     agent = await client.agents.create(
        ...         "calc", version={"model": "builtin:scripted", "tools": [{"name": "calculator"}]}
        ...     )
        ...     handle = await client.runs.create(agent.id, "What is 6*7?")
        ...     async for event in handle.stream():
        ...         print(event.type)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        stream_read_timeout_s: float | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        options = ClientOptions.resolve(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            stream_read_timeout_s=stream_read_timeout_s,
            retry=retry,
            headers=headers,
        )
        self._http = AsyncHTTP(options, http_client)
        self.agents = AsyncAgents(self._http)
        """Agents and their versions."""
        self.approvals = AsyncApprovals(self._http)
        """Tool calls of runs waiting for a human decision."""
        self.questions = AsyncQuestions(self._http)
        """Questions of runs' agents to humans (``ask_human``)."""
        self.runs = AsyncRuns(self._http, self.approvals, self.questions)
        """Runs: start, stream, wait, cancel."""
        self.threads = AsyncThreads(self._http)
        """Conversations."""
        self.store = AsyncStore(self._http)
        """Long-term memory items."""
        self.artifacts = AsyncArtifacts(self._http)
        """Files: upload, list, download, delete."""
        self.tools = AsyncTools(self._http)
        """Registered HTTP tools and the catalog."""
        self.secrets = AsyncSecrets(self._http)
        """Write-only tool secrets."""
        self.signing_keys = AsyncSigningKeys(self._http)
        """Keys signing HTTP tools' requests."""
        self.api_keys = AsyncApiKeys(self._http)
        """API keys of your tenant."""
        self.usage = AsyncUsage(self._http)
        """Usage, budgets and prices."""
        self.limits = AsyncLimits(self._http)
        """Rate limits and run caps."""
        self.retention = AsyncRetention(self._http)
        """How long runs, threads and artifacts are kept."""
        self.events = AsyncEvents(self._http)
        """Every event of your runs, live."""

    @property
    def base_url(self) -> str:
        """The API's address."""
        return self._http.options.base_url

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy."""
        return self._http.options.retry

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._http.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncAgentRuntime(base_url={self.base_url!r})"
