"""The synchronous client's resources: one class per part of the API (``client.agents``, ...).

Each method is one API call described as a :class:`~agent_runtime_client._http.Call` and sent by
the client's :class:`~agent_runtime_client._http.SyncHTTP`, which owns retries, idempotency keys
and error mapping; the methods only name paths, bodies and the models of the answers. The async
twins in ``_async_resources.py`` mirror these method for method (same names, same arguments).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from agent_runtime_client._errors import AgentRuntimeError, RequestTooLargeError, WaitTimeoutError
from agent_runtime_client._events import RunEvent
from agent_runtime_client._files import (
    CHUNK_SIZE,
    PRESIGN_THRESHOLD,
    Destination,
    FileInput,
    UploadSource,
    open_destination,
    open_upload,
)
from agent_runtime_client._http import Call, SyncHTTP, content_call, path, presigned_put
from agent_runtime_client._models import (
    Agent,
    AgentStatus,
    AgentVersion,
    ApiKey,
    ApiKeyCreated,
    Approval,
    ApprovalInboxItem,
    Artifact,
    ArtifactDownloadUrl,
    ArtifactUpload,
    Budget,
    CatalogList,
    CatalogTool,
    HumanRequestStatus,
    ModelPrice,
    MultitaskStrategy,
    Permission,
    Question,
    QuestionInboxItem,
    Role,
    Run,
    Secret,
    SigningKey,
    SigningKeyCreated,
    StoreItem,
    StoreNamespaces,
    StoreSearchItem,
    StoreSearchResult,
    TenantLimits,
    TenantRetention,
    Thread,
    ThreadMessage,
    ToolDefinition,
    ToolRevision,
    UsageReport,
)
from agent_runtime_client._pagination import Page, Pager
from agent_runtime_client._params import (
    AgentVersionParams,
    HttpEndpointParams,
    McpServerParams,
    MemoryParams,
    ModelSettingsParams,
    RunLimitsParams,
    ToolParams,
)
from agent_runtime_client._streams import EventStream, RunPosition, TenantPosition, make_resumer

__all__ = [
    "AgentVersions",
    "Agents",
    "ApiKeys",
    "Approvals",
    "Artifacts",
    "Events",
    "Limits",
    "Questions",
    "Retention",
    "RunHandle",
    "Runs",
    "Secrets",
    "SigningKeys",
    "Store",
    "Threads",
    "Tools",
    "Usage",
]

_FINISH_POLL_S = 0.05
"""Between reads of a run whose terminal event arrived before its row was read back."""


class _Resource:
    def __init__(self, http: SyncHTTP) -> None:
        self._http = http


def _statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    return [status] if isinstance(status, str) else list(status)


# ---------------------------------------------------------------------------------- agents


class AgentVersions(_Resource):
    """``client.agents.versions``: immutable versions of an agent (model, instructions, tools)."""

    def create(
        self,
        agent_id: str,
        *,
        model: str,
        fallback_models: list[str] | None = None,
        instructions: str | None = None,
        tools: list[ToolParams] | None = None,
        mcp_servers: list[McpServerParams] | None = None,
        model_settings: ModelSettingsParams | None = None,
        limits: RunLimitsParams | None = None,
        memory: MemoryParams | None = None,
        idempotency_key: str | None = None,
    ) -> AgentVersion:
        """Add the agent's next version; new runs use it unless they pin another.

        Raises:
            NotFoundError: No such agent.
            ValidationError: A field is invalid (an unknown model or tool, ...); ``errors`` names it.

        Example:
            >>> client.agents.versions.create(
            ...     agent.id,
            ...     model="builtin:scripted",
            ...     tools=[{"name": "calculator", "requires_approval": True}],
            ... )
        """
        body = {
            "model": model,
            "fallback_models": fallback_models,
            "instructions": instructions,
            "tools": tools,
            "mcp_servers": mcp_servers,
            "model_settings": model_settings,
            "limits": limits,
            "memory": memory,
        }
        call = Call(
            "POST",
            path("/v1/agents/{}/versions", agent_id),
            json=body,
            creates=True,
            idempotency_key=idempotency_key,
        )
        return self._http.model(AgentVersion, call)

    def list(self, agent_id: str, *, limit: int = 20) -> Pager[AgentVersion]:
        """The agent's versions, newest first."""

        def fetch(cursor: str | None) -> Page[AgentVersion]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(
                Page[AgentVersion], Call("GET", path("/v1/agents/{}/versions", agent_id), params=params)
            )

        return Pager(fetch)

    def get(self, agent_id: str, version: int) -> AgentVersion:
        """One version of the agent."""
        return self._http.model(
            AgentVersion, Call("GET", path("/v1/agents/{}/versions/{}", agent_id, version))
        )


class Agents(_Resource):
    """``client.agents``: agents and (``client.agents.versions``) their versions."""

    def __init__(self, http: SyncHTTP) -> None:
        super().__init__(http)
        self.versions = AgentVersions(http)

    def create(
        self,
        name: str,
        *,
        description: str | None = None,
        version: AgentVersionParams | None = None,
        idempotency_key: str | None = None,
    ) -> Agent:
        """Create an agent; with ``version``, its version 1 in the same call.

        Raises:
            ConflictError: ``agent_name_taken``: a live agent of your tenant has the name.
            ValidationError: A field is invalid; ``errors`` names it.

        Example:
            >>> agent = client.agents.create(
            ...     "calc",
            ...     version={"model": "builtin:scripted", "tools": [{"name": "calculator"}]},
            ... )
            >>> agent.latest_version
            1
        """
        body = {"name": name, "description": description, "version": version}
        return self._http.model(
            Agent, Call("POST", "/v1/agents", json=body, creates=True, idempotency_key=idempotency_key)
        )

    def list(self, *, limit: int = 20) -> Pager[Agent]:
        """Every agent of your tenant, newest first (``limit`` per request).

        Example:
            >>> names = [agent.name for agent in client.agents.list()]
        """

        def fetch(cursor: str | None) -> Page[Agent]:
            return self._http.model(
                Page[Agent], Call("GET", "/v1/agents", params={"limit": limit, "cursor": cursor})
            )

        return Pager(fetch)

    def get(self, agent_id: str) -> Agent:
        """One agent (``NotFoundError`` if your tenant has none with this id)."""
        return self._http.model(Agent, Call("GET", path("/v1/agents/{}", agent_id)))

    def update(self, agent_id: str, *, name: str | None = None, description: str | None = None) -> Agent:
        """Rename an agent or change its description (behaviour changes are new versions)."""
        body = {"name": name, "description": description}
        return self._http.model(Agent, Call("PATCH", path("/v1/agents/{}", agent_id), json=body))

    def delete(self, agent_id: str) -> None:
        """Delete an agent (``ConflictError`` ``agent_has_active_runs`` while runs are unfinished)."""
        self._http.empty(Call("DELETE", path("/v1/agents/{}", agent_id)))

    def status(self, agent_id: str) -> AgentStatus:
        """What the agent is doing now: ``idle``, ``processing``, ``waiting`` or ``error``."""
        return self._http.model(AgentStatus, Call("GET", path("/v1/agents/{}/status", agent_id)))


# ------------------------------------------------------------------------------------ runs


class RunHandle:
    """A run you started (``client.runs.create``) or looked up (``client.runs.handle``).

    ``run`` is its state when last read; ``wait()`` and ``refresh()`` read it again.

    Example:
        >>> handle = client.runs.create(agent.id, "What is 6*7?")
        >>> for event in handle.stream():
        ...     if event.text_delta:
        ...         print(event.text_delta, end="")
        >>> handle.wait().output
        'calculator: 42 ...'
    """

    def __init__(self, runs: Runs, run: Run) -> None:
        self._runs = runs
        self.run = run

    def __repr__(self) -> str:
        return f"RunHandle(id={self.id!r}, status={str(self.run.status)!r})"

    @property
    def id(self) -> str:
        """The run's id (``run_…``)."""
        return self.run.id

    @property
    def status(self) -> str:
        """The run's status when last read."""
        return self.run.status

    def refresh(self) -> Run:
        """Read the run again."""
        self.run = self._runs.get(self.id)
        return self.run

    def wait(self, timeout: float | None = None) -> Run:
        """Block until the run finishes; return it (see :meth:`Runs.wait`)."""
        self.run = self._runs.wait(self.id, timeout=timeout)
        return self.run

    def stream(self, *, after: int | None = None) -> EventStream:
        """The run's events from the start (or after ``seq`` ``after``), live, until it ends."""
        return self._runs.stream(self.id, after=after)

    def events(self, *, after: int | None = None, limit: int = 100) -> Pager[RunEvent]:
        """The run's recorded events, in order."""
        return self._runs.events(self.id, after=after, limit=limit)

    def cancel(self) -> Run:
        """Ask the run to stop (it becomes ``cancelled`` once its current step notices)."""
        self.run = self._runs.cancel(self.id)
        return self.run

    def approvals(self) -> Pager[Approval]:
        """The run's approvals, oldest first."""
        return self._runs.approvals.list(self.id)

    def approve(self, approval_id: str, *, reason: str | None = None) -> Approval:
        """Approve a pending tool call of the run."""
        return self._runs.approvals.approve(self.id, approval_id, reason=reason)

    def reject(self, approval_id: str, *, reason: str | None = None) -> Approval:
        """Reject a pending tool call of the run; the model is told ``reason``."""
        return self._runs.approvals.reject(self.id, approval_id, reason=reason)

    def answer(self, answer: str, *, request_id: str | None = None) -> Question:
        """Answer the run's pending question (``request_id`` when several are pending)."""
        return self._runs.questions.answer(self.id, answer, request_id=request_id)


class Runs(_Resource):
    """``client.runs``: start runs, follow them live, wait for them, cancel them."""

    def __init__(self, http: SyncHTTP, approvals: Approvals, questions: Questions) -> None:
        super().__init__(http)
        self.approvals = approvals
        self.questions = questions

    def create(
        self,
        agent_id: str,
        input: str,
        *,
        agent_version: int | None = None,
        thread_id: str | None = None,
        multitask_strategy: MultitaskStrategy | str | None = None,
        metadata: dict[str, Any] | None = None,
        artifact_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
    ) -> RunHandle:
        """Start a run of an agent (its latest version unless ``agent_version``).

        The request carries an ``Idempotency-Key`` (``idempotency_key``, or a new UUID) that its
        retries repeat, so a retry after a lost answer returns the original run, never a second.

        Raises:
            NotFoundError: No such agent (or version, or thread).
            ConflictError: ``thread_busy`` (the thread's strategy is ``reject``), ``agent_has_no_version``.
            RateLimitError: ``active_run_limit``, after the retries the policy allows.

        Example:
            >>> handle = client.runs.create(agent.id, "What is 6*7?")
            >>> handle.wait(timeout=60).status
            'succeeded'
        """
        body = {
            "agent_id": agent_id,
            "input": input,
            "agent_version": agent_version,
            "thread_id": thread_id,
            "multitask_strategy": multitask_strategy,
            "metadata": metadata,
            "artifact_ids": list(artifact_ids) if artifact_ids is not None else None,
        }
        call = Call(
            "POST", "/v1/runs", json=body, creates=True, idempotency_key=idempotency_key, retry_safe=True
        )
        return RunHandle(self, self._http.model(Run, call))

    def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 20,
    ) -> Pager[Run]:
        """Runs of your tenant, newest first; ``agent_id``, ``status`` (one or several) and the
        creation time (``since`` ≤ ``created_at`` < ``until``; a naive datetime is UTC) filter.

        Example:
            >>> waiting = list(client.runs.list(status="waiting"))
        """

        def fetch(cursor: str | None) -> Page[Run]:
            params = {
                "agent_id": agent_id,
                "status": _statuses(status),
                "since": since,
                "until": until,
                "limit": limit,
                "cursor": cursor,
            }
            return self._http.model(Page[Run], Call("GET", "/v1/runs", params=params))

        return Pager(fetch)

    def get(self, run_id: str) -> Run:
        """One run: status, output, error, usage."""
        return self._http.model(Run, Call("GET", path("/v1/runs/{}", run_id)))

    def handle(self, run_id: str) -> RunHandle:
        """A handle on an existing run (reads it once)."""
        return RunHandle(self, self.get(run_id))

    def cancel(self, run_id: str) -> Run:
        """Ask a run to stop (``ConflictError`` if it already finished)."""
        return self._http.model(Run, Call("POST", path("/v1/runs/{}/cancel", run_id)))

    def events(self, run_id: str, *, after: int | None = None, limit: int = 100) -> Pager[RunEvent]:
        """The run's recorded events in ``seq`` order (after ``seq`` ``after``), without waiting."""

        def fetch(cursor: str | None) -> Page[RunEvent]:
            params = {"after": after, "limit": limit, "cursor": cursor}
            return self._http.model(
                Page[RunEvent], Call("GET", path("/v1/runs/{}/events", run_id), params=params)
            )

        return Pager(fetch)

    def stream(self, run_id: str, *, after: int | None = None) -> EventStream:
        """The run's events live (after ``seq`` ``after``, else from the first); ends after the
        run's terminal event. A dropped connection is resumed from the last event delivered,
        with nothing lost or repeated.

        Example:
            >>> for event in client.runs.stream(run_id):
            ...     print(event.type, event.data)
        """
        return self._stream(run_id, after=after, timeout_s=None)

    def _stream(self, run_id: str, *, after: int | None, timeout_s: float | None) -> EventStream:
        def call(last_event_id: str | None) -> Call:
            headers = {"Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            return Call("GET", path("/v1/runs/{}/stream", run_id), headers=headers)

        options = self._http.options
        resumer = make_resumer(
            call,
            RunPosition(after),
            stream_read_timeout_s=options.stream_read_timeout_s,
            backoff=options.retry.backoff,
            timeout_s=timeout_s,
        )
        return EventStream(self._http, resumer)

    def wait(self, run_id: str, *, timeout: float | None = None) -> Run:
        """Block until the run finishes (succeeded, failed, cancelled or timed out); return it.

        Follows the run's event stream rather than polling. A run that waits for a human keeps
        this waiting too: decide its approvals from elsewhere, or pass a ``timeout``.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first (its ``run`` is the last state).

        Example:
            >>> run = client.runs.wait(run_id, timeout=120)
            >>> run.status, run.output
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self.get(run_id)
        if run.is_terminal:
            return run
        with self._stream(run_id, after=None, timeout_s=timeout) as events:
            try:
                for event in events:
                    if event.is_terminal:
                        break
            except WaitTimeoutError:
                raise WaitTimeoutError(
                    f"run {run_id} did not finish within {timeout} s", run=self.get(run_id)
                ) from None
        run = self.get(run_id)
        while not run.is_terminal:  # the event is committed with the status: this is a safeguard
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeoutError(f"run {run_id} did not finish within {timeout} s", run=run)
            self._http.sleep(_FINISH_POLL_S)
            run = self.get(run_id)
        return run


class Approvals(_Resource):
    """``client.approvals``: tool calls of a run that wait for a human decision."""

    def list(self, run_id: str, *, limit: int = 20) -> Pager[Approval]:
        """The run's approvals, pending and decided, oldest first."""

        def fetch(cursor: str | None) -> Page[Approval]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(
                Page[Approval], Call("GET", path("/v1/runs/{}/approvals", run_id), params=params)
            )

        return Pager(fetch)

    def pending(self, run_id: str) -> list[Approval]:
        """The run's approvals that wait for a decision."""
        return [a for a in self.list(run_id, limit=100) if a.status == HumanRequestStatus.PENDING]

    def inbox(
        self,
        *,
        status: str | Sequence[str] | None = "pending",
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 20,
    ) -> Pager[ApprovalInboxItem]:
        """Approvals of all your runs, newest first: by default the ones waiting for a decision
        (``status=None``: every status). Each item names its ``run_id`` and ``agent_id``.

        Example:
            >>> for item in client.approvals.inbox():
            ...     print(item.agent_id, item.tool, item.args)
            ...     client.approvals.approve(item.run_id, item.id)
        """

        def fetch(cursor: str | None) -> Page[ApprovalInboxItem]:
            params = {
                "status": _statuses(status),
                "agent_id": agent_id,
                "run_id": run_id,
                "limit": limit,
                "cursor": cursor,
            }
            return self._http.model(Page[ApprovalInboxItem], Call("GET", "/v1/approvals", params=params))

        return Pager(fetch)

    def get(self, run_id: str, approval_id: str) -> Approval:
        """One approval."""
        return self._http.model(Approval, Call("GET", path("/v1/runs/{}/approvals/{}", run_id, approval_id)))

    def decide(
        self,
        run_id: str,
        approval_id: str,
        decision: Literal["approve", "reject"],
        *,
        reason: str | None = None,
    ) -> Approval:
        """Approve (the tool runs) or reject (the model is told ``reason``) a pending tool call.

        Raises:
            ConflictError: Already decided, expired, or the run ended.
            NotFoundError: No such approval on this run.
        """
        body = {"decision": decision, "reason": reason}
        call = Call("POST", path("/v1/runs/{}/approvals/{}", run_id, approval_id), json=body)
        return self._http.model(Approval, call)

    def approve(self, run_id: str, approval_id: str, *, reason: str | None = None) -> Approval:
        """Approve a pending tool call: the tool runs and the run goes on.

        Example:
            >>> for approval in client.approvals.pending(run_id):
            ...     client.approvals.approve(run_id, approval.id)
        """
        return self.decide(run_id, approval_id, "approve", reason=reason)

    def reject(self, run_id: str, approval_id: str, *, reason: str | None = None) -> Approval:
        """Reject a pending tool call: it does not run, the model is told ``reason``."""
        return self.decide(run_id, approval_id, "reject", reason=reason)


class Questions(_Resource):
    """``client.questions``: questions a run's agent asked a human (the ``ask_human`` tool)."""

    def list(self, run_id: str, *, limit: int = 20) -> Pager[Question]:
        """The run's questions, oldest first."""

        def fetch(cursor: str | None) -> Page[Question]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(
                Page[Question], Call("GET", path("/v1/runs/{}/input", run_id), params=params)
            )

        return Pager(fetch)

    def pending(self, run_id: str) -> list[Question]:
        """The run's questions that wait for an answer."""
        return [q for q in self.list(run_id, limit=100) if q.status == HumanRequestStatus.PENDING]

    def inbox(
        self,
        *,
        status: str | Sequence[str] | None = "pending",
        agent_id: str | None = None,
        run_id: str | None = None,
        limit: int = 20,
    ) -> Pager[QuestionInboxItem]:
        """Questions of all your runs, newest first: by default the ones waiting for an answer
        (``status=None``: every status). Each item names its ``run_id`` and ``agent_id``.

        Example:
            >>> for item in client.questions.inbox():
            ...     client.questions.answer(item.run_id, "Yes.", request_id=item.id)
        """

        def fetch(cursor: str | None) -> Page[QuestionInboxItem]:
            params = {
                "status": _statuses(status),
                "agent_id": agent_id,
                "run_id": run_id,
                "limit": limit,
                "cursor": cursor,
            }
            return self._http.model(Page[QuestionInboxItem], Call("GET", "/v1/questions", params=params))

        return Pager(fetch)

    def answer(self, run_id: str, answer: str, *, request_id: str | None = None) -> Question:
        """Answer the run's pending question (name it with ``request_id`` when several are).

        Example:
            >>> client.questions.answer(run_id, "Ship it on Monday.")
        """
        body = {"answer": answer, "request_id": request_id}
        return self._http.model(Question, Call("POST", path("/v1/runs/{}/input", run_id), json=body))


# --------------------------------------------------------------------------------- threads


class Threads(_Resource):
    """``client.threads``: conversations whose runs see the earlier turns."""

    def create(self, *, metadata: dict[str, Any] | None = None, idempotency_key: str | None = None) -> Thread:
        """Start a conversation; run its turns with ``client.runs.create(..., thread_id=...)``.

        Example:
            >>> thread = client.threads.create(metadata={"user": "u_42"})
            >>> client.runs.create(agent.id, "Hello, I am Ada.", thread_id=thread.id).wait()
        """
        call = Call(
            "POST", "/v1/threads", json={"metadata": metadata}, creates=True, idempotency_key=idempotency_key
        )
        return self._http.model(Thread, call)

    def list(self, *, metadata: Mapping[str, Any] | None = None, limit: int = 20) -> Pager[Thread]:
        """Threads of your tenant, newest first; ``metadata`` keeps those whose metadata contains it."""
        encoded = None if metadata is None else json.dumps(metadata, separators=(",", ":"))

        def fetch(cursor: str | None) -> Page[Thread]:
            params = {"metadata": encoded, "limit": limit, "cursor": cursor}
            return self._http.model(Page[Thread], Call("GET", "/v1/threads", params=params))

        return Pager(fetch)

    def get(self, thread_id: str) -> Thread:
        """One thread and its state (``idle``, ``busy``, ``interrupted``)."""
        return self._http.model(Thread, Call("GET", path("/v1/threads/{}", thread_id)))

    def update(self, thread_id: str, *, metadata: dict[str, Any]) -> Thread:
        """Set these metadata keys (the others are kept)."""
        call = Call("PATCH", path("/v1/threads/{}", thread_id), json={"metadata": metadata})
        return self._http.model(Thread, call)

    def delete(self, thread_id: str) -> None:
        """Delete a thread (``ConflictError`` ``thread_busy`` while a run has the turn)."""
        self._http.empty(Call("DELETE", path("/v1/threads/{}", thread_id)))

    def messages(self, thread_id: str, *, limit: int = 100) -> Pager[ThreadMessage]:
        """The conversation in order, message by message."""

        def fetch(cursor: str | None) -> Page[ThreadMessage]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(
                Page[ThreadMessage], Call("GET", path("/v1/threads/{}/messages", thread_id), params=params)
            )

        return Pager(fetch)


# ----------------------------------------------------------------------------------- store


class Store(_Resource):
    """``client.store``: the tenant's long-term memory, JSON items by namespace and key."""

    def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: dict[str, Any],
        *,
        index: bool | list[str] | None = None,
        ttl_s: int | None = None,
    ) -> StoreItem:
        """Create or replace the item at ``namespace`` / ``key``.

        Example:
            >>> client.store.put(["prefs", "alice"], "colour", {"favourite": "teal"})
        """
        body = {"namespace": list(namespace), "key": key, "value": value, "index": index, "ttl_s": ttl_s}
        return self._http.model(StoreItem, Call("PUT", "/v1/store/items", json=body))

    def get(self, namespace: Sequence[str], key: str) -> StoreItem:
        """One item (``NotFoundError`` if there is none, or it expired)."""
        params = {"namespace": ".".join(namespace), "key": key}
        return self._http.model(StoreItem, Call("GET", "/v1/store/items", params=params))

    def delete(self, namespace: Sequence[str], key: str) -> None:
        """Delete one item (``NotFoundError`` if there is none)."""
        params = {"namespace": ".".join(namespace), "key": key}
        self._http.empty(Call("DELETE", "/v1/store/items", params=params))

    def search(
        self,
        namespace_prefix: Sequence[str] = (),
        *,
        filter: dict[str, Any] | None = None,
        query: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[StoreSearchItem]:
        """Items under ``namespace_prefix`` whose value contains ``filter``; ranked by ``query``
        when the deployment has an embedding model.

        Example:
            >>> client.store.search(["prefs"], filter={"favourite": "teal"})
        """
        body = {
            "namespace_prefix": list(namespace_prefix),
            "filter": filter,
            "query": query,
            "limit": limit,
            "offset": offset,
        }
        call = Call("POST", "/v1/store/items/search", json=body, retry_safe=True)
        return self._http.model(StoreSearchResult, call).items

    def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[list[str]]:
        """Namespaces that hold items (``*`` in ``prefix``/``suffix`` matches any one label)."""
        body = {
            "prefix": None if prefix is None else list(prefix),
            "suffix": None if suffix is None else list(suffix),
            "max_depth": max_depth,
            "limit": limit,
            "offset": offset,
        }
        call = Call("POST", "/v1/store/namespaces", json=body, retry_safe=True)
        return self._http.model(StoreNamespaces, call).namespaces


# ----------------------------------------------------------------------------------- tools


class Tools(_Resource):
    """``client.tools``: HTTP tools registered once for every agent version to use by name."""

    def catalog(self) -> list[CatalogTool]:
        """The tools the workers serve by name (``{"name": ...}`` in a version)."""
        return self._http.model(CatalogList, Call("GET", "/v1/tools/catalog")).data

    def create(
        self,
        name: str,
        *,
        description: str,
        parameters: dict[str, Any],
        http: HttpEndpointParams,
        idempotency_key: str | None = None,
    ) -> ToolDefinition:
        """Register an HTTP tool (its revision 1).

        Example:
            >>> client.tools.create(
            ...     "create_ticket",
            ...     description="Open a ticket; returns it.",
            ...     parameters={"type": "object", "properties": {"title": {"type": "string"}}},
            ...     http={"url": "https://tickets.example.com/tickets",
            ...           "headers": {"Authorization": "Bearer {{secrets.tickets_token}}"}},
            ... )
        """
        body = {"name": name, "description": description, "parameters": parameters, "http": http}
        call = Call("POST", "/v1/tools", json=body, creates=True, idempotency_key=idempotency_key)
        return self._http.model(ToolDefinition, call)

    def list(self, *, name: str | None = None, limit: int = 20) -> Pager[ToolDefinition]:
        """Registered tools, newest first (``name``: only that one)."""

        def fetch(cursor: str | None) -> Page[ToolDefinition]:
            params = {"name": name, "limit": limit, "cursor": cursor}
            return self._http.model(Page[ToolDefinition], Call("GET", "/v1/tools", params=params))

        return Pager(fetch)

    def get(self, tool_id: str) -> ToolDefinition:
        """One registered tool, with its latest revision's definition."""
        return self._http.model(ToolDefinition, Call("GET", path("/v1/tools/{}", tool_id)))

    def update(
        self,
        tool_id: str,
        *,
        name: str,
        description: str,
        parameters: dict[str, Any],
        http: HttpEndpointParams,
    ) -> ToolDefinition:
        """Replace the whole definition: it becomes the tool's next revision."""
        body = {"name": name, "description": description, "parameters": parameters, "http": http}
        # Each PUT adds a revision: not repeated after a broken connection.
        call = Call("PUT", path("/v1/tools/{}", tool_id), json=body, retry_safe=False)
        return self._http.model(ToolDefinition, call)

    def delete(self, tool_id: str) -> None:
        """Delete a tool (``ConflictError`` ``tool_in_use`` while a live agent's latest version uses it)."""
        self._http.empty(Call("DELETE", path("/v1/tools/{}", tool_id)))

    def revisions(self, tool_id: str, *, limit: int = 20) -> Pager[ToolRevision]:
        """The tool's revisions, newest first."""

        def fetch(cursor: str | None) -> Page[ToolRevision]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(
                Page[ToolRevision], Call("GET", path("/v1/tools/{}/revisions", tool_id), params=params)
            )

        return Pager(fetch)

    def get_revision(self, tool_id: str, revision: int) -> ToolRevision:
        """One revision of a tool."""
        return self._http.model(
            ToolRevision, Call("GET", path("/v1/tools/{}/revisions/{}", tool_id, revision))
        )


class Secrets(_Resource):
    """``client.secrets``: write-only values HTTP tools use as ``{{secrets.NAME}}``."""

    def create(
        self, name: str, value: str, *, description: str | None = None, idempotency_key: str | None = None
    ) -> Secret:
        """Store a secret; its value is never returned by any call.

        Example:
            >>> client.secrets.create("tickets_token", "s3cr3t", description="Tickets API")
        """
        body = {"name": name, "value": value, "description": description}
        call = Call("POST", "/v1/secrets", json=body, creates=True, idempotency_key=idempotency_key)
        return self._http.model(Secret, call)

    def list(self, *, limit: int = 20) -> Pager[Secret]:
        """Your secrets' names and descriptions, newest first."""

        def fetch(cursor: str | None) -> Page[Secret]:
            return self._http.model(
                Page[Secret], Call("GET", "/v1/secrets", params={"limit": limit, "cursor": cursor})
            )

        return Pager(fetch)

    def get(self, name: str) -> Secret:
        """One secret's metadata."""
        return self._http.model(Secret, Call("GET", path("/v1/secrets/{}", name)))

    def update(self, name: str, value: str, *, description: str | None = None) -> Secret:
        """Give a secret a new value (and description, if given)."""
        body = {"value": value, "description": description}
        return self._http.model(Secret, Call("PUT", path("/v1/secrets/{}", name), json=body))

    def delete(self, name: str) -> None:
        """Delete a secret."""
        self._http.empty(Call("DELETE", path("/v1/secrets/{}", name)))


class SigningKeys(_Resource):
    """``client.signing_keys``: the keys that sign your HTTP tools' requests."""

    def list(self, *, limit: int = 20) -> Pager[SigningKey]:
        """Your signing keys, newest first (never their secrets)."""

        def fetch(cursor: str | None) -> Page[SigningKey]:
            params = {"limit": limit, "cursor": cursor}
            return self._http.model(Page[SigningKey], Call("GET", "/v1/tools/signing-keys", params=params))

        return Pager(fetch)

    def rotate(
        self, *, overlap_s: int | None = None, idempotency_key: str | None = None
    ) -> SigningKeyCreated:
        """Make a new current key; its ``secret`` is shown only in this answer."""
        body = {"overlap_s": overlap_s}
        call = Call(
            "POST", "/v1/tools/signing-keys", json=body, creates=True, idempotency_key=idempotency_key
        )
        return self._http.model(SigningKeyCreated, call)


# ---------------------------------------------------------------------- keys, usage, limits


class ApiKeys(_Resource):
    """``client.api_keys``: long-lived credentials of your tenant (admins)."""

    def create(
        self,
        name: str,
        roles: Sequence[Role | str],
        *,
        scopes: Sequence[Permission | str] | None = None,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKeyCreated:
        """Create a key; its token (``key``) is shown only in this answer.

        Example:
            >>> created = client.api_keys.create("ci", ["operator"], scopes=["runs:create"])
            >>> AgentRuntime(api_key=created.key)
        """
        body = {
            "name": name,
            "roles": list(roles),
            "scopes": None if scopes is None else list(scopes),
            "expires_at": expires_at,
        }
        call = Call("POST", "/v1/api-keys", json=body, creates=True, idempotency_key=idempotency_key)
        return self._http.model(ApiKeyCreated, call)

    def list(self, *, limit: int = 20) -> Pager[ApiKey]:
        """Keys of your tenant, newest first, revoked ones included."""

        def fetch(cursor: str | None) -> Page[ApiKey]:
            return self._http.model(
                Page[ApiKey], Call("GET", "/v1/api-keys", params={"limit": limit, "cursor": cursor})
            )

        return Pager(fetch)

    def get(self, key_id: str) -> ApiKey:
        """One key (never its secret)."""
        return self._http.model(ApiKey, Call("GET", path("/v1/api-keys/{}", key_id)))

    def revoke(self, key_id: str) -> None:
        """Revoke a key: calls with it get 401 from now on."""
        self._http.empty(Call("DELETE", path("/v1/api-keys/{}", key_id)))


class Usage(_Resource):
    """``client.usage``: tokens and cost, budgets and price overrides."""

    def report(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: str | Sequence[str] | None = None,
    ) -> UsageReport:
        """Usage over ``[since, until)`` (default: the last 30 days), grouped by ``day``,
        ``agent`` and/or ``model``.

        Example:
            >>> report = client.usage.report(group_by=["day", "model"])
            >>> report.totals.requests, report.totals.cost_usd
        """
        groups = [group_by] if isinstance(group_by, str) else group_by
        params = {"since": since, "until": until, "group_by": None if groups is None else ",".join(groups)}
        return self._http.model(UsageReport, Call("GET", "/v1/usage", params=params))

    def get_budgets(self) -> Budget:
        """Your budgets and how much of each is used."""
        return self._http.model(Budget, Call("GET", "/v1/budgets"))

    def set_budgets(
        self,
        *,
        daily_tokens: int | None = None,
        daily_cost_usd: Decimal | str | float | None = None,
        monthly_tokens: int | None = None,
        monthly_cost_usd: Decimal | str | float | None = None,
        on_exceeded: Literal["fail", "wait"] | None = None,
    ) -> Budget:
        """Replace your budgets (a limit left out is unlimited)."""
        body = {
            "daily_tokens": daily_tokens,
            "daily_cost_usd": daily_cost_usd,
            "monthly_tokens": monthly_tokens,
            "monthly_cost_usd": monthly_cost_usd,
            "on_exceeded": on_exceeded,
        }
        return self._http.model(Budget, Call("PUT", "/v1/budgets", json=body))

    def list_prices(self) -> list[ModelPrice]:
        """Your price overrides and the global ones."""
        return self._http.model(Page[ModelPrice], Call("GET", "/v1/model-prices")).data

    def set_price(
        self,
        provider: str,
        model: str,
        *,
        input_usd_per_mtok: Decimal | str | float,
        output_usd_per_mtok: Decimal | str | float,
        cached_input_usd_per_mtok: Decimal | str | float | None = None,
        scope: Literal["tenant", "global"] = "tenant",
    ) -> ModelPrice:
        """Price ``provider:model`` yourself, in USD per million tokens."""
        body = {
            "input_usd_per_mtok": input_usd_per_mtok,
            "output_usd_per_mtok": output_usd_per_mtok,
            "cached_input_usd_per_mtok": cached_input_usd_per_mtok,
        }
        call = Call(
            "PUT", path("/v1/model-prices/{}/{}", provider, model), params={"scope": scope}, json=body
        )
        return self._http.model(ModelPrice, call)

    def delete_price(
        self, provider: str, model: str, *, scope: Literal["tenant", "global"] = "tenant"
    ) -> None:
        """Remove a price override."""
        self._http.empty(
            Call("DELETE", path("/v1/model-prices/{}/{}", provider, model), params={"scope": scope})
        )


class Limits(_Resource):
    """``client.limits``: rate limits and the active-run cap (yours; any tenant's for operators)."""

    def get(self) -> TenantLimits:
        """The limits that apply to your tenant."""
        return self._http.model(TenantLimits, Call("GET", "/v1/limits"))

    def get_tenant(self, tenant_id: str) -> TenantLimits:
        """A tenant's limits (platform operators: ``tenants:manage`` in ``ten_default``)."""
        return self._http.model(TenantLimits, Call("GET", path("/v1/admin/tenants/{}/limits", tenant_id)))

    def set_tenant(
        self,
        tenant_id: str,
        *,
        rate_limit_per_minute: int | None = None,
        rate_limit_burst: int | None = None,
        max_active_runs: int | None = None,
    ) -> TenantLimits:
        """Replace a tenant's own limits (a limit left out is the deployment's default)."""
        body = {
            "rate_limit_per_minute": rate_limit_per_minute,
            "rate_limit_burst": rate_limit_burst,
            "max_active_runs": max_active_runs,
        }
        return self._http.model(
            TenantLimits, Call("PUT", path("/v1/admin/tenants/{}/limits", tenant_id), json=body)
        )

    def reset_tenant(self, tenant_id: str) -> None:
        """Drop a tenant's own limits: the defaults apply again."""
        self._http.empty(Call("DELETE", path("/v1/admin/tenants/{}/limits", tenant_id)))


class Retention(_Resource):
    """``client.retention``: how long runs, threads and artifacts are kept (yours; any tenant's
    for operators)."""

    def get(self) -> TenantRetention:
        """The retention periods that apply to your tenant."""
        return self._http.model(TenantRetention, Call("GET", "/v1/retention"))

    def get_tenant(self, tenant_id: str) -> TenantRetention:
        """A tenant's retention periods (platform operators: ``tenants:manage`` in ``ten_default``)."""
        return self._http.model(
            TenantRetention, Call("GET", path("/v1/admin/tenants/{}/retention", tenant_id))
        )

    def set_tenant(
        self,
        tenant_id: str,
        *,
        runs_days: int | None = None,
        threads_days: int | None = None,
        artifacts_days: int | None = None,
    ) -> TenantRetention:
        """Replace a tenant's own retention periods in days (left out: the deployment's default;
        0: forever)."""
        body = {"runs_days": runs_days, "threads_days": threads_days, "artifacts_days": artifacts_days}
        return self._http.model(
            TenantRetention, Call("PUT", path("/v1/admin/tenants/{}/retention", tenant_id), json=body)
        )

    def reset_tenant(self, tenant_id: str) -> None:
        """Drop a tenant's own retention periods: the defaults apply again."""
        self._http.empty(Call("DELETE", path("/v1/admin/tenants/{}/retention", tenant_id)))


class Events(_Resource):
    """``client.events``: every event of your tenant's runs, live (for dashboards)."""

    def stream(
        self, *, agent_id: str | None = None, run_id: str | None = None, last_event_id: str | None = None
    ) -> EventStream:
        """Events of all your runs as they happen (filtered by ``agent_id`` / ``run_id``); never
        ends. Reconnections resume after the last event and drop the repeats the server may send.

        Example:
            >>> for event in client.events.stream(agent_id=agent.id):
            ...     print(event.run_id, event.type)
        """
        params = {"agent_id": agent_id, "run_id": run_id}

        def call(last: str | None) -> Call:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = last
            return Call("GET", "/v1/events/stream", params=params, headers=headers)

        options = self._http.options
        resumer = make_resumer(
            call,
            TenantPosition(last_event_id),
            stream_read_timeout_s=options.stream_read_timeout_s,
            backoff=options.retry.backoff,
        )
        return EventStream(self._http, resumer)


# ------------------------------------------------------------------------------- artifacts


class Artifacts(_Resource):
    """``client.artifacts``: files of your tenant (bytes in object storage) that runs can read.

    Example:
        >>> report = client.artifacts.upload("report.pdf")
        >>> handle = client.runs.create(agent.id, "Summarise the report", artifact_ids=[report.id])
        >>> client.artifacts.download(report.id, "copy.pdf")
    """

    def upload(
        self,
        file: FileInput,
        *,
        name: str | None = None,
        content_type: str | None = None,
        run_id: str | None = None,
        thread_id: str | None = None,
        presign_threshold: int = PRESIGN_THRESHOLD,
    ) -> Artifact:
        """Upload a file (a path, bytes or a binary file object, read from its position to its
        end); return the ``ready`` artifact.

        The file is streamed, never read whole into memory. Up to ``presign_threshold`` bytes
        (8 MiB) it goes through the API in one request; larger ones (or any the API finds too
        large) go straight to the object storage with a presigned ``PUT`` (the SDK computes
        their SHA-256 first, which the storage and the API check), then the upload is completed.

        Args:
            name: The artifact's file name; default the path's (required for bytes and for file
                objects without a ``name``).
            content_type: Its media type; default guessed from the name
                (``application/octet-stream`` if the name says nothing).
            run_id: Tie it to this run.
            thread_id: Tie it to this thread.
            presign_threshold: Files larger than this many bytes use the presigned upload.

        Raises:
            ValidationError: The API refused the file: empty, a name that is a path, a media type
                the deployment does not allow (``errors`` names the field).
            NotFoundError: No such run or thread.
            ServiceUnavailableError: ``storage_not_configured``: the deployment has no object storage.
            OSError: The path cannot be read.

        Example:
            >>> artifact = client.artifacts.upload("data/cities.csv")
            >>> artifact.content_type, artifact.size
            ('text/csv', 2048)
            >>> client.artifacts.upload(b"hello", name="hello.txt", run_id=run.id)
        """
        source = open_upload(file, name=name, content_type=content_type)
        try:
            if source.size <= presign_threshold:
                try:
                    return self._upload_through_the_api(source, run_id=run_id, thread_id=thread_id)
                except RequestTooLargeError as error:
                    if error.code != "payload_too_large":
                        raise
            return self._upload_presigned(source, run_id=run_id, thread_id=thread_id)
        finally:
            source.close()

    def _upload_through_the_api(
        self, source: UploadSource, *, run_id: str | None, thread_id: str | None
    ) -> Artifact:
        call = Call(
            "POST",
            "/v1/artifacts",
            params={"run_id": run_id, "thread_id": thread_id},
            files={"file": (source.name, source.body, source.content_type)},
        )
        return self._http.model(Artifact, call)

    def _upload_presigned(
        self, source: UploadSource, *, run_id: str | None, thread_id: str | None
    ) -> Artifact:
        started = self.start_upload(
            source.name,
            content_type=source.content_type,
            size=source.size,
            sha256=source.sha256(),
            run_id=run_id,
            thread_id=thread_id,
        )
        try:
            self._http.empty(presigned_put(started.upload, source.chunks))
        except BaseException:
            with contextlib.suppress(AgentRuntimeError):
                self.delete(started.artifact.id)  # no pending artifact left behind
            raise
        return self.complete(started.artifact.id)

    def start_upload(
        self,
        name: str,
        *,
        content_type: str,
        size: int,
        sha256: str | None = None,
        run_id: str | None = None,
        thread_id: str | None = None,
    ) -> ArtifactUpload:
        """Start a presigned upload yourself: a ``pending`` artifact and the ``PUT`` to send its
        bytes with (exactly its headers, before it expires); then call :meth:`complete`.
        :meth:`upload` does all three.

        Example:
            >>> started = client.artifacts.start_upload(
            ...     "big.bin", content_type="application/octet-stream", size=52428800
            ... )
            >>> httpx.put(started.upload.url, headers=started.upload.headers, content=data)
            >>> client.artifacts.complete(started.artifact.id).status
            'ready'
        """
        body = {
            "name": name,
            "content_type": content_type,
            "size": size,
            "sha256": sha256,
            "run_id": run_id,
            "thread_id": thread_id,
        }
        return self._http.model(ArtifactUpload, Call("POST", "/v1/artifacts/uploads", json=body))

    def complete(self, artifact_id: str) -> Artifact:
        """Check a presigned upload's bytes and mark the artifact ``ready`` (``ConflictError``
        ``artifact_not_uploaded``, ``artifact_size_mismatch``, ``artifact_checksum_mismatch``, ...)."""
        # Completing a ready artifact returns it: a retry after a lost answer is harmless.
        call = Call("POST", path("/v1/artifacts/{}/complete", artifact_id), retry_safe=True)
        return self._http.model(Artifact, call)

    def list(
        self,
        *,
        run_id: str | None = None,
        thread_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
    ) -> Pager[Artifact]:
        """Your tenant's artifacts, newest first: a run's or a thread's, ``ready`` or ``pending``.

        Example:
            >>> names = [artifact.name for artifact in client.artifacts.list(run_id=run.id)]
        """

        def fetch(cursor: str | None) -> Page[Artifact]:
            params = {
                "run_id": run_id,
                "thread_id": thread_id,
                "status": status,
                "limit": limit,
                "cursor": cursor,
            }
            return self._http.model(Page[Artifact], Call("GET", "/v1/artifacts", params=params))

        return Pager(fetch)

    def get(self, artifact_id: str) -> Artifact:
        """One artifact's metadata (``NotFoundError`` if your tenant has none with this id)."""
        return self._http.model(Artifact, Call("GET", path("/v1/artifacts/{}", artifact_id)))

    def delete(self, artifact_id: str) -> None:
        """Delete an artifact and its bytes (deleting it again succeeds too)."""
        self._http.empty(Call("DELETE", path("/v1/artifacts/{}", artifact_id)))

    def download_url(self, artifact_id: str) -> ArtifactDownloadUrl:
        """A short-lived URL that downloads the artifact without credentials (for a browser or
        another tool).

        Example:
            >>> link = client.artifacts.download_url(artifact.id)
            >>> httpx.get(link.url).content
        """
        return self._http.model(
            ArtifactDownloadUrl, Call("GET", path("/v1/artifacts/{}/download-url", artifact_id))
        )

    def download(self, artifact_id: str, destination: Destination) -> int:
        """Write the artifact's bytes to ``destination`` (a path, or a binary file object), as
        they arrive; return how many were written. A path is written whole or not at all (a
        temporary file beside it is renamed at the end), replacing any file there.

        Raises:
            NotFoundError: No such artifact.
            ConflictError: ``artifact_not_ready``: its upload is not complete.

        Example:
            >>> client.artifacts.download(artifact.id, "report.pdf")
            52311
            >>> with open("copy.pdf", "wb") as out:
            ...     client.artifacts.download(artifact.id, out)
        """
        written = 0
        response = self._http.send(content_call(artifact_id), stream=True)
        try:
            with open_destination(destination) as out:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    out.write(chunk)
                    written += len(chunk)
        finally:
            response.close()
        return written

    def read(self, artifact_id: str) -> bytes:
        """The artifact's bytes, in memory (for small files; see :meth:`download`).

        Example:
            >>> client.artifacts.read(artifact.id).decode()
            'city,population\\n...'
        """
        return self._http.send(content_call(artifact_id)).content
