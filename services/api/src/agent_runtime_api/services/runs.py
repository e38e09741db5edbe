"""Runs: create (idempotently) and start the workflow, read, list, cancel, events."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from agent_runtime_api.hot_reads import HotReads
from agent_runtime_api.services.pages import Window, window
from agent_runtime_api.temporal_connection import TemporalConnection
from agent_runtime_api.tenant_limits import TenantLimitsCache
from agent_runtime_core.catalog import MEMORY_TOOL_NAMES
from agent_runtime_core.db import UnitOfWork
from agent_runtime_core.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
)
from agent_runtime_core.event_bus import EventBus
from agent_runtime_core.ids import new_run_id
from agent_runtime_core.lifecycle import DedupeKey, EventSpec, terminal_event
from agent_runtime_core.metrics import record_run_created
from agent_runtime_core.models import (
    Agent,
    AgentVersion,
    ArtifactStatus,
    MultitaskStrategy,
    Run,
    RunEvent,
    RunStatus,
)
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import (
    AgentRepository,
    ArtifactRepository,
    RunEventRepository,
    RunRepository,
    ThreadRepository,
)
from agent_runtime_core.repositories.threads import admit
from agent_runtime_core.schemas import RUN_INPUT_MAX_CHARS_CEILING, RunCreate
from agent_runtime_core.temporal import (
    AGENT_RUN_WORKFLOW,
    THREAD_TURN_SIGNAL,
    AgentConfig,
    AgentRunInput,
    agent_id_key,
    run_status_key,
    tenant_id_key,
    workflow_id_for_run,
)
from agent_runtime_core.temporal.contracts import memory_user
from agent_runtime_core.tracing import current_trace_id, joined_trace, new_trace_id

logger = logging.getLogger(__name__)

_WRITE_ATTEMPTS = 3
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
"""deadlock_detected, serialization_failure: the transaction was rolled back; run it again."""


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
EXECUTION_TIMEOUT_GRACE = timedelta(minutes=10)
"""Backstop on top of the run timeout: the workflow ends the run itself at ``run_timeout_s``."""


@dataclass(frozen=True)
class CreatedRun:
    """The run and whether this request created it (``False``: an idempotent replay)."""

    run: Run
    created: bool
    interrupted_run_id: str | None = None
    """The thread's active run this one interrupts (cancel it once this run's workflow started)."""


def request_fingerprint(body: RunCreate) -> str:
    """Hash of the request body, to tell a retry from a different request with the same key.

    A body without a thread hashes as before threads existed (their fields left out), so a retry
    across the upgrade is still recognised."""
    fields = body.model_dump(mode="json")
    if body.thread_id is None:
        fields.pop("thread_id", None)
        fields.pop("multitask_strategy", None)
    if body.metadata is None:
        fields.pop("metadata", None)
    if body.artifact_ids is None:
        fields.pop("artifact_ids", None)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_idempotency_key(key: str | None) -> str | None:
    """Return the key, or raise 422 naming the header."""
    if key is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise InvalidRequestError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
            loc=["header", "Idempotency-Key"],
            code="invalid_idempotency_key",
        )
    return key


def check_input_length(text: str, max_chars: int) -> None:
    """Raise 422 ``input_too_long`` when ``text`` is longer than the deployment allows."""
    if len(text) > max_chars:
        raise InvalidRequestError(
            f"The input is {len(text):,} characters long; this deployment accepts at most "
            f"{max_chars:,} characters per run.",
            loc=["body", "input"],
            code="input_too_long",
        )


def workflow_input(run: Run, agent: Agent, version: AgentVersion) -> AgentRunInput:
    """The pinned configuration the workflow receives: it loads nothing by itself."""
    return AgentRunInput(
        run_id=run.id,
        tenant_id=run.tenant_id,
        input=run.input,
        agent=AgentConfig.from_version(agent, version),
        thread_id=run.thread_id,
        metadata=run.run_metadata,
    )


class RunService:
    """Rules for the runs of one tenant. Commits through its unit of work: a run's row is
    committed before its workflow starts, so the worker always finds it. Events it writes are
    published to live readers after their transaction commits."""

    def __init__(
        self,
        unit_of_work: UnitOfWork,
        temporal: TemporalConnection,
        *,
        task_queue: str,
        tenant_limits: TenantLimitsCache | None = None,
        event_bus: EventBus | None = None,
        active_run_retry_after_s: int = 10,
        hot_reads: HotReads | None = None,
        run_input_max_chars: int = RUN_INPUT_MAX_CHARS_CEILING,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.temporal = temporal
        self.tenant_id = unit_of_work.tenant_id
        self.task_queue = task_queue
        self.tenant_limits = tenant_limits
        """Where the tenant's cap on queued, running and waiting runs is read (``None``: no cap)."""
        self.event_bus = event_bus
        self.active_run_retry_after_s = active_run_retry_after_s
        self.hot_reads = hot_reads
        """The read cache of agents and versions (``None``: read Postgres)."""
        self.run_input_max_chars = run_input_max_chars
        """The deployment's longest run input (``run_input_max_chars``)."""

    def _publish(self, *events: RunEvent) -> None:
        """Publish committed events in the background (never fails or delays the request:
        Postgres is the record)."""
        if self.event_bus is not None and events:
            self.event_bus.publish_soon(events)

    async def create(self, body: RunCreate, idempotency_key: str | None) -> CreatedRun:
        """Write the run (``queued``) and start its workflow, in that order, idempotently.

        Same key and body: the original run. Same key, other body: 422. A run whose workflow
        could not be started stays ``queued`` under its key; retrying the request starts it.
        """
        check_input_length(body.input, self.run_input_max_chars)
        key = validate_idempotency_key(idempotency_key)
        fingerprint = request_fingerprint(body)
        max_active_runs = 0
        if self.tenant_limits is not None:
            max_active_runs = (await self.tenant_limits.get(self.tenant_id)).max_active_runs
        prepared = None
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                prepared = await self._write_run(body, key, fingerprint, max_active_runs)
                break
            except IntegrityError:
                # A concurrent request with the same key committed first: answer as its replay.
                prepared = await self._write_run(body, key, fingerprint, max_active_runs)
                break
            except DBAPIError as exc:
                # Admission locks the thread, then (interrupt, rollback) the run it cuts; a worker
                # finishing or resuming that run can hold the run and wait for the thread. Postgres
                # breaks the cycle by aborting one side: the whole transaction rolled back, so
                # running it again is safe (Postgres's own advice for deadlocks).
                if _sqlstate(exc) not in _RETRYABLE_SQLSTATES or attempt == _WRITE_ATTEMPTS:
                    raise
                logger.info("run creation hit %s; retrying (attempt %d)", _sqlstate(exc), attempt + 1)
        assert prepared is not None
        created, start_input = prepared
        if created.created:
            record_run_created()
        if start_input is not None:
            await self._start_workflow(created.run, start_input, forget_on_failure=key is None)
        if created.interrupted_run_id is not None:
            await self._interrupt(created.interrupted_run_id)
        return created

    async def _write_run(
        self, body: RunCreate, key: str | None, fingerprint: str, max_active_runs: int
    ) -> tuple[CreatedRun, AgentRunInput | None]:
        async with self.unit_of_work.begin() as session:
            created, start_input, queued = await self._add_run(
                session, body, key, fingerprint, max_active_runs
            )
        self._publish(*queued)
        return created, start_input

    async def _add_run(
        self, session: AsyncSession, body: RunCreate, key: str | None, fingerprint: str, max_active_runs: int
    ) -> tuple[CreatedRun, AgentRunInput | None, list[RunEvent]]:
        """The run (new, or the original of an idempotent replay), its start input, and its
        ``run.queued`` event when it was created now."""
        runs = RunRepository(session, self.tenant_id)
        if key is not None:
            existing = await runs.get_by_idempotency_key(key)
            if existing is not None:
                if existing.request_fingerprint != fingerprint:
                    raise InvalidRequestError(
                        "This Idempotency-Key was already used with a different request "
                        "body; use a new key for a new run.",
                        loc=["header", "Idempotency-Key"],
                        code="idempotency_key_reused",
                    )
                start = None
                if existing.status == RunStatus.QUEUED:
                    start = await self._input_for_existing(AgentRepository(session, self.tenant_id), existing)
                return CreatedRun(run=existing, created=False), start, []
        agents = AgentRepository(session, self.tenant_id)
        agent = await self._agent(agents, body.agent_id)
        if agent is None:
            raise NotFoundError("Agent", body.agent_id)
        await self._check_active_run_cap(runs, max_active_runs)
        version_number = body.agent_version or agent.latest_version
        if version_number == 0:
            raise ConflictError(
                f"Agent '{agent.id}' has no version yet; create one with "
                f"POST /v1/agents/{agent.id}/versions first.",
                code="agent_has_no_version",
            )
        version = await self._version(agents, agent.id, version_number)
        if version is None:
            raise NotFoundError("Agent version", f"{agent.id}/versions/{version_number}")
        config = AgentConfig.from_version(agent, version)
        if body.thread_id is None:
            _check_memory_needs_no_thread(config)
        metadata = await self._metadata_for_memory(session, config, body)
        artifact_ids = await self._input_artifacts(session, body.artifact_ids)
        run_id = new_run_id()
        queued_data: dict[str, Any] = {"agent_id": agent.id, "agent_version": version.version}
        admission = None
        if body.thread_id is not None:
            admission = await self._admit(session, body.thread_id, run_id, body.multitask_strategy)
            queued_data.update(admission)
        run = Run(
            id=run_id,
            tenant_id=self.tenant_id,
            agent_id=agent.id,
            agent_version=version.version,
            status=RunStatus.QUEUED,
            input=body.input,
            workflow_id=workflow_id_for_run(run_id),
            idempotency_key=key,
            request_fingerprint=fingerprint if key else None,
            # The request's trace (its server span) when the API traces, else a new one that
            # the workflow's spans join (see _start_workflow).
            trace_id=current_trace_id() or new_trace_id(),
            thread_id=body.thread_id,
            multitask_strategy=body.multitask_strategy.value if body.thread_id is not None else None,
            run_metadata=metadata,
            input_artifact_ids=artifact_ids,
        )
        queued = await runs.create(run, queued_data)
        interrupted = admission.get("interrupts") if admission is not None else None
        created = CreatedRun(run=run, created=True, interrupted_run_id=interrupted)
        return created, workflow_input(run, agent, version), queued

    async def _input_artifacts(
        self, session: AsyncSession, artifact_ids: list[str] | None
    ) -> list[str] | None:
        """The run's input artifacts, each a ready artifact of this tenant (else 422 naming
        ``body.artifact_ids.<i>``; another tenant's id reads like one that does not exist)."""
        if not artifact_ids:
            return None
        artifacts = ArtifactRepository(session, self.tenant_id)
        for index, artifact_id in enumerate(artifact_ids):
            artifact = await artifacts.get(artifact_id)
            if artifact is None:
                raise InvalidRequestError(
                    f"there is no artifact '{artifact_id}'",
                    loc=["body", "artifact_ids", index],
                    code="artifact_not_found",
                )
            if artifact.status != ArtifactStatus.READY:
                raise InvalidRequestError(
                    f"artifact '{artifact_id}' is still pending: complete its upload first",
                    loc=["body", "artifact_ids", index],
                    code="artifact_not_ready",
                )
        return list(dict.fromkeys(artifact_ids))

    async def _metadata_for_memory(
        self, session: AsyncSession, config: AgentConfig, body: RunCreate
    ) -> dict[str, Any] | None:
        """The run's metadata: the body's, checked against a ``user``-scoped memory version (it
        must name the user: 422 naming ``body.metadata.<key>``). A thread run without the key takes
        it from its thread's metadata, recorded in the run's (so the run's memory stays the same
        user's even if the thread's metadata changes later)."""
        metadata = body.metadata
        memory = config.memory.store_namespace
        uses_memory = any(tool.name in MEMORY_TOOL_NAMES for tool in config.tools)
        if not uses_memory or memory.scope != "user" or memory.metadata_key is None:
            return metadata
        key = memory.metadata_key
        if body.thread_id is not None and (metadata is None or key not in metadata):
            thread = await ThreadRepository(session, self.tenant_id).get(body.thread_id)
            if thread is not None and key in thread.thread_metadata:
                metadata = {**(metadata or {}), key: thread.thread_metadata[key]}
        if memory_user(config, metadata) is None:
            where = "in the run's metadata" + (" or its thread's" if body.thread_id is not None else "")
            raise InvalidRequestError(
                f"Version {config.version} of agent '{config.agent_id}' keeps its memories per user "
                f"(memory.store_namespace.scope is 'user'); name the user {where}: '{key}', a string "
                "of 1 to 256 characters without '.'.",
                loc=["body", "metadata", key],
                code="metadata_key_required",
            )
        return metadata

    async def _admit(
        self, session: AsyncSession, thread_id: str, run_id: str, strategy: MultitaskStrategy
    ) -> dict[str, Any]:
        """Admit run ``run_id`` to its thread under the thread's row lock (concurrent requests
        are decided one after the other, in the order they take the lock); return what was
        decided, for the run's ``run.queued`` event. 404 for a missing or deleted thread, 409
        ``thread_busy`` when the thread is busy and the strategy is ``reject``."""
        threads = ThreadRepository(session, self.tenant_id)
        thread = await threads.get(thread_id, for_update=True)
        if thread is None:
            raise NotFoundError("Thread", thread_id)
        queued = await threads.queued_strategies(thread.queued_run_ids)
        admission = admit(thread.active_run_id, queued, run_id, strategy)
        if admission.rejected:
            raise ConflictError(
                f"Thread '{thread_id}' is busy with run '{thread.active_run_id}'; wait for it to end, "
                "or choose multitask_strategy enqueue, interrupt or rollback.",
                code="thread_busy",
            )
        if admission.roll_back and admission.cancel_run_id is not None:
            await RunRepository(session, self.tenant_id).mark_rolled_back(admission.cancel_run_id, run_id)
        thread.active_run_id, thread.queued_run_ids = admission.active_run_id, admission.queued_run_ids
        thread.admitted_runs += 1
        thread.updated_at = utcnow()
        session.add(thread)
        await session.flush()
        decided: dict[str, Any] = {
            "thread_id": thread_id,
            "admission": thread.admitted_runs,
            "decision": admission.decision,
        }
        if admission.cancel_run_id is not None:
            decided["interrupts"] = admission.cancel_run_id
        return decided

    async def _agent(self, agents: AgentRepository, agent_id: str) -> Agent | None:
        """The live agent (its ``latest_version`` picks the version), through the read cache."""
        if self.hot_reads is None:
            return await agents.get(agent_id)
        return await self.hot_reads.agents.get(self.tenant_id, agent_id, lambda: agents.get(agent_id))

    async def _version(self, agents: AgentRepository, agent_id: str, number: int) -> AgentVersion | None:
        """Version ``number`` of the agent, through the read cache (versions never change)."""
        if self.hot_reads is None:
            return await agents.get_version(agent_id, number)
        return await self.hot_reads.agent_versions.get(
            self.tenant_id, f"{agent_id}:{number}", lambda: agents.get_version(agent_id, number)
        )

    async def _check_active_run_cap(self, runs: RunRepository, max_active_runs: int) -> None:
        """429 ``active_run_limit`` when the tenant is at its cap of active runs.

        Creates of one tenant are serialized by a transaction-scoped advisory lock (held until
        this transaction commits, so the new run is counted by the next one): concurrent
        requests can never exceed the cap. Idempotent replays return before this check.
        """
        if max_active_runs <= 0:
            return
        await runs.lock_tenant_run_creation()
        active = await runs.count_active()
        if active >= max_active_runs:
            raise RateLimitedError(
                f"This tenant already has {active} active runs (queued, running or waiting), its "
                f"limit is {max_active_runs}; retry when some have finished.",
                retry_after_s=self.active_run_retry_after_s,
                code="active_run_limit",
            )

    async def _input_for_existing(self, agents: AgentRepository, run: Run) -> AgentRunInput | None:
        agent = await agents.get(run.agent_id)
        version = await agents.get_version(run.agent_id, run.agent_version)
        if agent is None or version is None:
            return None
        return workflow_input(run, agent, version)

    async def _start_workflow(self, run: Run, start_input: AgentRunInput, *, forget_on_failure: bool) -> None:
        try:
            client = await self.temporal.client()
            with joined_trace(run.trace_id) if run.trace_id else contextlib.nullcontext():
                await self._start(client, start_input)
        except (ServiceUnavailableError, RPCError, RuntimeError) as exc:
            logger.warning("could not start workflow for %s: %s", run.id, exc)
            if forget_on_failure:
                await self._fail_unstarted(run.id, "Temporal was unreachable; the run never started.")
            raise ServiceUnavailableError(
                "The run could not be started because Temporal is unreachable. "
                + (
                    "Retry with the same Idempotency-Key to start it."
                    if not forget_on_failure
                    else "It was marked failed; retry the request (an Idempotency-Key makes retries safe)."
                )
            ) from exc

    async def _start(self, client: Client, start_input: AgentRunInput) -> None:
        agent = start_input.agent
        # Started before (a retried request): the workflow id made the start idempotent.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                AGENT_RUN_WORKFLOW,
                start_input,
                id=workflow_id_for_run(start_input.run_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                # A worker that dies inside a workflow task is replaced after this (default 10 s);
                # above the SDK's 2 s deadlock detection, and local activities keep tasks alive.
                task_timeout=WORKFLOW_TASK_TIMEOUT,
                # A thread run may wait for its turn as long as the runs before it take: its own
                # timeout (enforced by the workflow) starts when it gets the turn.
                execution_timeout=(
                    timedelta(seconds=agent.limits.run_timeout_s) + EXECUTION_TIMEOUT_GRACE
                    if start_input.thread_id is None
                    else None
                ),
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(tenant_id_key, start_input.tenant_id),
                        SearchAttributePair(agent_id_key, agent.agent_id),
                        SearchAttributePair(run_status_key, RunStatus.QUEUED.value),
                    ]
                ),
                memo={"agent_name": agent.agent_name, "agent_version": agent.version},
                static_summary=f"{agent.agent_name} v{agent.version}",
            )

    async def _fail_unstarted(self, run_id: str, message: str) -> None:
        error = {"code": "start_failed", "message": message}
        await self._end_unstarted(run_id, RunStatus.FAILED, error, only_from=(RunStatus.QUEUED,))

    async def get(self, run_id: str) -> Run:
        """Return a run or raise 404."""
        async with self.unit_of_work.begin() as session:
            run = await RunRepository(session, self.tenant_id).get(run_id)
        if run is None:
            raise NotFoundError("Run", run_id)
        return run

    async def list(
        self,
        *,
        limit: int,
        before: str | None,
        agent_id: str | None,
        statuses: Sequence[RunStatus],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Window[Run]:
        """A page of runs, newest first, older than the run ``before``, created in
        ``[since, until)`` when given (422 on ``since`` if the window is empty)."""
        if since is not None and until is not None and since >= until:
            raise InvalidRequestError("since must be before until", loc=["query", "since"])
        async with self.unit_of_work.begin() as session:
            rows = await RunRepository(session, self.tenant_id).list(
                limit=limit + 1,
                before_id=before,
                agent_id=agent_id,
                statuses=statuses,
                created_since=since,
                created_until=until,
            )
        return window(rows, limit, key=lambda run: run.id)

    async def cancel(self, run_id: str) -> Run:
        """Ask the run's workflow to cancel. The run ends ``cancelled`` once the workflow
        has stopped its current step (running activities see it through heartbeats)."""
        run = await self.get(run_id)
        if run.status.is_terminal:
            raise ConflictError(
                f"Run '{run_id}' already finished with status '{run.status.value}'.",
                code="run_already_finished",
            )
        client = await self.temporal.client()
        try:
            await client.get_workflow_handle(run.workflow_id).cancel()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise ServiceUnavailableError(f"Temporal refused the cancel: {exc}") from exc
            # No workflow (its start failed): nothing runs, so the run ends here.
            await self._cancel_unstarted(run_id)
        return await self.get(run_id)

    async def _interrupt(self, run_id: str) -> None:
        """Cancel the run a new one interrupts. If Temporal refuses now, the new run still gets
        the turn when the interrupted one ends (it degrades to ``enqueue``): logged, not raised,
        because the new run was created and started."""
        try:
            await self.cancel(run_id)
        except (ConflictError, NotFoundError):
            pass  # it ended meanwhile
        except (ServiceUnavailableError, RPCError) as exc:
            logger.warning("could not cancel run %s interrupted on its thread: %s", run_id, exc)

    async def _signal_turn(self, run_id: str) -> None:
        """Tell a waiting thread run that the turn is its (its workflow checks; a lost signal is
        covered by the workflow's periodic re-check)."""
        try:
            client = await self.temporal.client()
            await client.get_workflow_handle(workflow_id_for_run(run_id)).signal(THREAD_TURN_SIGNAL)
        except (ServiceUnavailableError, RPCError, RuntimeError) as exc:
            logger.info("could not signal run %s its thread's turn: %s", run_id, exc)

    async def _cancel_unstarted(self, run_id: str) -> None:
        error = {"code": "cancelled", "message": "Cancelled before it started."}
        await self._end_unstarted(run_id, RunStatus.CANCELLED, error)

    async def _end_unstarted(
        self,
        run_id: str,
        status: RunStatus,
        error: dict[str, str],
        *,
        only_from: Collection[RunStatus] | None = None,
    ) -> None:
        """End a run whose workflow never started (no worker will): ``status`` with ``error``."""

        async def set_error(run: Run) -> None:
            run.error = error

        ended = EventSpec(terminal_event(status), {"error": error}, DedupeKey.RUN_FINISHED)
        async with self.unit_of_work.begin() as session:
            result = await RunRepository(session, self.tenant_id).transition(
                run_id, status, only_from=only_from, apply=set_error, events=[ended]
            )
        if result is not None:
            self._publish(*result.events)
            if result.next_thread_run_id is not None:
                await self._signal_turn(result.next_thread_run_id)

    async def events(self, run_id: str, *, after: int, limit: int) -> Window[RunEvent]:
        """Events of a run with ``seq > after``, in order."""
        async with self.unit_of_work.begin() as session:
            if await RunRepository(session, self.tenant_id).get(run_id) is None:
                raise NotFoundError("Run", run_id)
            rows = await RunEventRepository(session, self.tenant_id).list(
                run_id, after_seq=after, limit=limit + 1
            )
        return window(rows, limit, key=lambda event: event.seq)


def _check_memory_needs_no_thread(config: AgentConfig) -> None:
    """A version whose memory tools keep memories per thread cannot run without a thread (422)."""
    uses_memory = any(tool.name in MEMORY_TOOL_NAMES for tool in config.tools)
    if uses_memory and config.memory.store_namespace.scope == "thread":
        raise InvalidRequestError(
            f"Version {config.version} of agent '{config.agent_id}' keeps its memories per thread "
            "(memory.store_namespace.scope is 'thread'); start the run on a thread (thread_id).",
            loc=["body", "thread_id"],
            code="thread_required",
        )
