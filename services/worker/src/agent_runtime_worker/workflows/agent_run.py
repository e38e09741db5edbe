"""``AgentRunWorkflow``: one run of a pinned agent version.

mark_run_started → the agent (each model request and tool call its own activity) → finish_run.
The run timeout is enforced here with a durable timer so the run can still be written
``timed_out``; Temporal's execution timeout is only a backstop (set by the API).

This module is the worker's workflow half: it imports contracts
(:mod:`agent_runtime_worker.contracts`, ``agent_runtime_core.temporal``), pure helpers and the
agent definition, never database, Redis or settings code (``lint-imports`` checks it in CI). It
calls the worker's own activities by typed reference to their declarations
(``bookkeeping(RunActivityContract.finish_run, ...)``); the activity half implements them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic_ai import RunContext
    from pydantic_ai.durable_exec.temporal import PydanticAIWorkflow
    from pydantic_ai.exceptions import (
        AgentRunError,
        FallbackExceptionGroup,
        ModelAPIError,
        RunCancelled,
        RunTimedOut,
        UsageLimitExceeded,
        UserError,
    )
    from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
    from pydantic_ai.usage import RunUsage, UsageLimits
    from ulid import ULID

    from agent_runtime_core.catalog import HUMAN_INPUT_TOOL, MEMORY_TOOL_NAMES
    from agent_runtime_core.lifecycle import RunStatus
    from agent_runtime_core.models.approval import HumanRequestKind, HumanRequestStatus
    from agent_runtime_core.temporal.contracts import (
        AGENT_RUN_WORKFLOW,
        ANSWER_INPUT_UPDATE,
        DECIDE_APPROVAL_UPDATE,
        REQUEST_ALREADY_RESOLVED,
        REQUEST_AMBIGUOUS,
        REQUEST_NOT_FOUND,
        THREAD_TURN_SIGNAL,
        AgentRunInput,
        AgentRunResult,
        ApprovalDecisionUpdate,
        HumanRequestResolution,
        InputAnswerUpdate,
        memory_namespace,
        run_status_key,
        tenant_id_key,
        workflow_id_for_run,
    )
    from agent_runtime_worker.agents.runtime_agent import RunDeps, runtime_agent
    from agent_runtime_worker.contracts import (
        HUMAN_DECISION_NOT_RECORDED,
        BudgetWaitInput,
        CloseHumanWaitInput,
        FinishRunInput,
        HumanRequestActivityContract,
        HumanRequestSpec,
        OpenHumanRequestsInput,
        ResolveHumanRequestInput,
        RunActivityContract,
        RunRef,
        RunUsageTotals,
        SummarizeThreadInput,
        ThreadActivityContract,
        ThreadTurn,
        ThreadTurnInput,
    )
    from agent_runtime_worker.governance.waiting import BudgetExceededError, ExhaustedBudget, exhausted_budget
    from agent_runtime_worker.models.fallback import describe_model_error

BOOKKEEPING_TIMEOUT = timedelta(seconds=10)
"""Our own activities are single short transactions: a crashed worker's attempt is retried soon."""
BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,  # the run's record must be written: retry until the database answers
    non_retryable_error_types=["RunNotFound", "InvalidStatus"],
)


class HumanWaitTimedOutError(Exception):
    """Nobody answered in time and the agent version says to fail the run."""


@dataclass
class PendingRequest:
    """A human request as the workflow tracks it (deterministic state)."""

    spec: HumanRequestSpec
    status: HumanRequestStatus = HumanRequestStatus.PENDING
    reason: str | None = None
    answer: str | None = None
    decided_by: str | None = None
    persisted: bool = False  # the row exists (open_human_requests finished)
    writing: bool = False  # a decision or answer is being written (resolve_human_request)
    recorded: bool = False  # the decision or answer is written


def new_request_id(prefix: str) -> str:
    """A time-sortable, replay-safe id (``apr_…``) from the workflow clock and random."""
    milliseconds = int(workflow.now().timestamp() * 1000)
    value = (milliseconds << 80) | workflow.random().getrandbits(80)
    return f"{prefix}_{str(ULID.from_int(value)).lower()}"


ArgumentT = TypeVar("ArgumentT")
ResultT = TypeVar("ResultT")

BUDGET_WAIT_PATCH = "budget-wait"
"""Waiting for a budget's reset (new commands; only runs that hit a budget in wait mode reach it)."""
BUDGET_RESET_MARGIN = timedelta(seconds=1)
MODEL_FALLBACK_PATCH = "model-fallback"
"""Runs started before fallback existed never fell over (their histories have no such requests)."""

MCP_SERVERS_PATCH = "mcp-servers"
"""Offering the version's MCP servers' tools (new activities): a run that an earlier build started
ignored its version's servers, and keeps doing so on replay. Runs without servers never reach it."""
MCP_SERVER_UNREACHABLE = "McpServerUnreachable"
"""The failure type of an MCP server's tool listing that could not reach it (``tools.mcp``)."""

LOCAL_BOOKKEEPING_PATCH = "local-bookkeeping-activities"
"""Runs started before this change schedule bookkeeping as regular activities (replay-safe)."""
BOOKKEEPING_FAILURE_ENDS_RUN_PATCH = "bookkeeping-failure-ends-run"
"""A local bookkeeping activity failing for good during the agent run ends the run ``failed``."""
THREADS_PATCH = "threads"
"""Taking turns on a thread (new activities, a signal): an input may name a thread that an earlier
build ignored (durable inputs ignore unknown fields; a saved history has one), and its replay keeps
ignoring it. Runs without a thread never reach the patch."""
THREAD_TURN_RECHECK = timedelta(minutes=5)
"""A run waiting for its thread's turn asks again this often even without a ``thread_turn``
signal (a safety net: the signal is sent after every hand-over, and re-sent on retries)."""
SUMMARY_TIMEOUT = timedelta(minutes=5)
"""One attempt of ``summarize_thread`` (one non-streamed model request and two short writes)."""
SUMMARY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
    non_retryable_error_types=["UserError", "BudgetExceeded", "TenantMismatch"],
)
"""Like the agent's model requests (``MODEL_RETRY_POLICY``): the model's own errors carry their
retry decision (``GovernedModel``); this bounds the rest."""
MAX_SUMMARIES_PER_TURN = 3
"""A safety bound: the planner converges after one summary (``plan_summary``)."""
DECISION_WRITTEN_FIRST_PATCH = "human-decision-written-first"
"""A human's decision or answer changes the workflow's state only once it is written: a write that
fails for good fails the update and leaves the request pending (earlier runs set the state first)."""


async def bookkeeping(
    activity_method: Callable[[Any, ArgumentT], Awaitable[ResultT]], argument: ArgumentT
) -> ResultT:
    """Run one of our short database activities, named by typed reference
    (``bookkeeping(RunActivityContract.finish_run, finish)``).

    As a local activity: it runs on this worker without a round trip through the Temporal
    server (~20 ms each on the dev server), retried by the same policy; if the worker dies,
    the workflow task is retried elsewhere and the (idempotent) activity runs again.
    """
    if workflow.patched(LOCAL_BOOKKEEPING_PATCH):
        return await workflow.execute_local_activity_method(
            activity_method,
            argument,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
    return await workflow.execute_activity_method(
        activity_method,
        argument,
        start_to_close_timeout=BOOKKEEPING_TIMEOUT,
        retry_policy=BOOKKEEPING_RETRY,
    )


def run_error_for_activity_failure(exc: ActivityError) -> tuple[str, str]:
    """A run error (code, message) for an activity that failed for good."""
    cause = exc.cause
    error_type = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
    if error_type == "UserError":
        return "configuration_error", message
    if exhausted_budget(exc) is not None:
        return "budget_exceeded", message
    if error_type and error_type.startswith("Model"):
        return "model_error", f"{error_type}: {message}"
    if "call_tool" in exc.activity_type or error_type == MCP_SERVER_UNREACHABLE:
        return "tool_error", message
    return "activity_failed", f"{exc.activity_type}: {message}"


def check_tenant(run_input: AgentRunInput) -> None:
    """Fail the run (not the task) when its input's tenant differs from its ``TenantId``.

    The API sets both from the same row; a mismatch means the start was forged or corrupted, so
    no work is done for it. Issues no command, so histories of matching runs replay unchanged. A
    start without the search attribute (started by hand or by tests) has nothing to compare:
    the activities' row-level security still confines it to the input's tenant.
    """
    attributed = workflow.info().typed_search_attributes.get(tenant_id_key)
    if attributed is not None and attributed != run_input.tenant_id:
        raise ApplicationError(
            f"run {run_input.run_id}: input tenant {run_input.tenant_id!r} does not match the "
            f"workflow's TenantId {attributed!r}; refusing the work",
            type="TenantMismatch",
            non_retryable=True,
        )


@workflow.defn(name=AGENT_RUN_WORKFLOW)
class AgentRunWorkflow(PydanticAIWorkflow):
    """Runs the agent once for the run's input and records how it ended."""

    __pydantic_ai_agents__ = [runtime_agent]

    def __init__(self) -> None:
        self._status = RunStatus.QUEUED
        self._run_input: AgentRunInput | None = None
        self._requests: dict[str, PendingRequest] = {}
        self._turn_signalled = False
        self._thread_id: str | None = None

    @workflow.signal(name=THREAD_TURN_SIGNAL)
    def thread_turn(self) -> None:
        """The thread's turn may be this run's now: check again (harmless when it is not)."""
        self._turn_signalled = True

    @workflow.query
    def get_status(self) -> str:
        """The run's status as this workflow knows it."""
        return self._status.value

    def _set_status(self, status: RunStatus) -> None:
        self._status = status
        workflow.upsert_search_attributes(  # pyright: ignore[reportUnknownMemberType]
            [run_status_key.value_set(status.value)]
        )

    @workflow.run
    async def run(self, run_input: AgentRunInput) -> AgentRunResult:
        """Execute the run."""
        check_tenant(run_input)
        self._run_input = run_input
        ref = RunRef(run_id=run_input.run_id, tenant_id=run_input.tenant_id)
        turn: ThreadTurn | None = None
        if run_input.thread_id is not None and workflow.patched(THREADS_PATCH):
            self._thread_id = run_input.thread_id
        try:
            if self._thread_id is not None:
                turn = await self._wait_for_turn(run_input, self._thread_id)
                if turn is None:
                    return AgentRunResult(run_id=run_input.run_id, status="already_finished")
            should_run = await bookkeeping(RunActivityContract.mark_run_started, ref)
        except asyncio.CancelledError:
            return await self._finish(run_input, RunStatus.CANCELLED, error=("cancelled", "Cancelled."))
        if not should_run:
            return AgentRunResult(run_id=run_input.run_id, status="already_finished")
        self._set_status(RunStatus.RUNNING)
        history: list[ModelMessage] | None = None
        if turn is not None:
            if turn.summarize_through_seq is not None:
                summarized = await self._summarize(run_input, turn)
                if isinstance(summarized, AgentRunResult):
                    return summarized
                turn = summarized
            history = ModelMessagesTypeAdapter.validate_python(turn.messages)
        return await self._run_agent(run_input, history)

    def _turn_input(self, run_input: AgentRunInput, thread_id: str) -> ThreadTurnInput:
        context = run_input.agent.memory.context
        return ThreadTurnInput(
            run_id=run_input.run_id,
            tenant_id=run_input.tenant_id,
            thread_id=thread_id,
            # Only a strategy travels: runs without one ask exactly as before context management.
            context=context if context.strategy != "none" else None,
        )

    async def _wait_for_turn(self, run_input: AgentRunInput, thread_id: str) -> ThreadTurn | None:
        """Wait (``queued``) until the run has its thread's turn; return the turn (the thread's
        earlier messages as the model will see them), or ``None`` when the run ended meanwhile
        (e.g. cancelled before it began).

        The flag is cleared before asking, so a signal that arrives while the activity runs is
        not lost: the wait then ends at once and the run asks again.
        """
        ask = self._turn_input(run_input, thread_id)
        while True:
            self._turn_signalled = False
            turn = await bookkeeping(ThreadActivityContract.acquire_thread_turn, ask)
            if turn.status == "active":
                return turn
            if turn.status == "finished":
                return None
            with contextlib.suppress(TimeoutError):  # the safety net: ask again
                await workflow.wait_condition(
                    lambda: self._turn_signalled,
                    timeout=THREAD_TURN_RECHECK,
                    timeout_summary="ask again for the thread's turn",
                )

    async def _summarize(self, run_input: AgentRunInput, turn: ThreadTurn) -> ThreadTurn | AgentRunResult:
        """The thread is over the version's ``max_context_tokens``: summarize its oldest turns
        (``summarize_thread``, a regular activity: a model request), then ask for the turn's
        context again. A summary that cannot be written ends the run ``failed``.

        No patch: only an ``acquire_thread_turn`` result of this build asks for a summary (earlier
        histories' results have no ``summarize_through_seq``), so their replay never comes here."""
        assert self._thread_id is not None
        ask = self._turn_input(run_input, self._thread_id)
        context = run_input.agent.memory.context
        for _ in range(MAX_SUMMARIES_PER_TURN):
            if turn.summarize_through_seq is None:
                break
            try:
                await workflow.execute_activity_method(
                    ThreadActivityContract.summarize_thread,
                    SummarizeThreadInput(
                        run_id=run_input.run_id,
                        tenant_id=run_input.tenant_id,
                        thread_id=self._thread_id,
                        through_seq=turn.summarize_through_seq,
                        model=context.summary_model or run_input.agent.model,
                    ),
                    start_to_close_timeout=SUMMARY_TIMEOUT,
                    retry_policy=SUMMARY_RETRY,
                    summary=f"summarize thread turns up to {turn.summarize_through_seq}",
                )
            except ActivityError as exc:
                return await self._finish(
                    run_input, RunStatus.FAILED, error=run_error_for_activity_failure(exc)
                )
            except asyncio.CancelledError:
                await self._finish(
                    run_input, RunStatus.CANCELLED, error=("cancelled", "The run was cancelled.")
                )
                raise
            turn = await bookkeeping(ThreadActivityContract.acquire_thread_turn, ask)
            if turn.status != "active":  # not expected: the run holds the turn while it runs
                return await self._finish(
                    run_input,
                    RunStatus.FAILED,
                    error=("thread_error", f"lost the thread's turn ({turn.status})"),
                )
        if turn.summarize_through_seq is not None:
            # The bound was hit (not expected): go on with the summary so far and the rest.
            workflow.logger.warning("run %s: thread still over its context limit", run_input.run_id)
        return turn

    async def _run_agent(
        self, run_input: AgentRunInput, history: list[ModelMessage] | None = None
    ) -> AgentRunResult:
        agent = run_input.agent
        settings = ModelSettings()
        if agent.model_settings.temperature is not None:
            settings["temperature"] = agent.model_settings.temperature
        if agent.model_settings.max_tokens is not None:
            settings["max_tokens"] = agent.model_settings.max_tokens
        deps = RunDeps(
            run_id=run_input.run_id,
            tenant_id=run_input.tenant_id,
            enabled_tools=[tool.name for tool in agent.tools],
            approval_tools=[tool.name for tool in agent.tools if tool.requires_approval],
            http_tools=[tool for tool in agent.tools if tool.kind == "http" and tool.http is not None],
        )
        if agent.fallback_models and workflow.patched(MODEL_FALLBACK_PATCH):
            deps.fallback_models = list(agent.fallback_models)
        if agent.mcp_servers and workflow.patched(MCP_SERVERS_PATCH):
            deps.mcp_servers = list(agent.mcp_servers)
        if any(tool.name in MEMORY_TOOL_NAMES for tool in agent.tools):
            # Data only (no command): the memory tools read it inside their activities.
            deps.memory_namespace = memory_namespace(agent, self._thread_id, run_input.metadata)
        try:
            result = await runtime_agent.run(
                run_input.input,
                message_history=history or None,
                model=agent.model,
                instructions=agent.instructions or None,
                deps=deps,
                model_settings=settings,
                usage_limits=UsageLimits(
                    request_limit=agent.limits.max_requests,
                    total_tokens_limit=agent.limits.max_total_tokens,
                ),
                timeout=float(agent.limits.run_timeout_s),
            )
        except asyncio.CancelledError:
            # Cancelled through Temporal (POST /v1/runs/{id}/cancel): record it, then let the
            # workflow end as cancelled too.
            await self._finish(run_input, RunStatus.CANCELLED, error=("cancelled", "The run was cancelled."))
            raise
        except RunTimedOut as exc:
            return await self._finish(
                run_input,
                RunStatus.TIMED_OUT,
                error=("timed_out", f"The run exceeded its limit of {agent.limits.run_timeout_s} s."),
                usage=exc.usage,
            )
        except RunCancelled as exc:
            return await self._finish(
                run_input, RunStatus.CANCELLED, error=("cancelled", str(exc)), usage=exc.usage
            )
        except HumanWaitTimedOutError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("approval_timeout", str(exc)))
        except BudgetExceededError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("budget_exceeded", str(exc)))
        except UsageLimitExceeded as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("usage_limit_exceeded", str(exc)))
        except (ModelAPIError, FallbackExceptionGroup) as exc:
            return await self._finish(
                run_input, RunStatus.FAILED, error=("model_error", describe_model_error(exc))
            )
        except UserError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("configuration_error", str(exc)))
        except AgentRunError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("agent_error", str(exc)))
        except ActivityError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=run_error_for_activity_failure(exc))
        except ApplicationError as exc:
            # A local bookkeeping activity (human requests, budget waits) that failed for good,
            # e.g. a write the database refuses: the run ends failed instead of the workflow
            # failing with the run left `running`/`waiting`. Earlier runs let it fail the workflow.
            if not workflow.patched(BOOKKEEPING_FAILURE_ENDS_RUN_PATCH):
                raise
            return await self._finish(
                run_input, RunStatus.FAILED, error=("activity_failed", f"{exc.type}: {exc.message}")
            )
        turn = None
        if self._thread_id is not None:
            # The run's own messages (its prompt, tool calls and results, answers): its turn.
            turn = ModelMessagesTypeAdapter.dump_python(result.new_messages(), mode="json")
        return await self._finish(
            run_input, RunStatus.SUCCEEDED, output=result.output, usage=result.usage, turn_messages=turn
        )

    async def _finish(
        self,
        run_input: AgentRunInput,
        status: RunStatus,
        *,
        output: str | None = None,
        error: tuple[str, str] | None = None,
        usage: RunUsage | None = None,
        turn_messages: list[dict[str, Any]] | None = None,
    ) -> AgentRunResult:
        unresolved = [rid for rid, r in self._requests.items() if r.status == HumanRequestStatus.PENDING]
        if unresolved:  # the run ends while humans were asked: those requests are void now
            for request_id in unresolved:
                self._requests[request_id].status = HumanRequestStatus.CANCELLED
            await bookkeeping(
                HumanRequestActivityContract.close_human_wait,
                CloseHumanWaitInput(
                    run_id=run_input.run_id,
                    tenant_id=run_input.tenant_id,
                    request_ids=unresolved,
                    status=HumanRequestStatus.CANCELLED,
                    resume=False,
                ),
            )
        totals = RunUsageTotals()
        if usage is not None:
            totals = RunUsageTotals(
                requests=usage.requests,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
        finish = FinishRunInput(
            run_id=run_input.run_id,
            tenant_id=run_input.tenant_id,
            status=status.value,
            output=output,
            error_code=error[0] if error else None,
            error_message=error[1] if error else None,
            usage=totals,
            turn_messages=turn_messages,
        )
        if self._thread_id is None:
            final_status = await bookkeeping(RunActivityContract.finish_run, finish)
        else:
            finished = await bookkeeping(ThreadActivityContract.finish_thread_run, finish)
            final_status = finished.status
            if finished.next_run_id is not None:
                await self._pass_turn(finished.next_run_id)
        self._set_status(RunStatus(final_status))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return AgentRunResult(
            run_id=run_input.run_id,
            status=final_status,
            output=output,
            error_code=finish.error_code,
            error_message=finish.error_message,
        )

    @staticmethod
    async def _pass_turn(next_run_id: str) -> None:
        """Tell the run that has the thread's turn now (its workflow waits for the signal)."""
        try:
            await workflow.get_external_workflow_handle(workflow_id_for_run(next_run_id)).signal(
                THREAD_TURN_SIGNAL
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            workflow.logger.info("run %s was not waiting for its thread's turn", next_run_id)

    # ------------------------------------------------------------------ budgets

    async def wait_for_budget(self, budget: ExhaustedBudget, wait_key: str) -> None:
        """Wait (``waiting``, on a durable timer) until ``budget``'s period resets.

        Called by the ``BudgetGuard`` capability when a model request was refused by a budget
        whose tenant chose ``on_exceeded: "wait"``; the request is attempted again afterwards.
        """
        assert self._run_input is not None
        if not workflow.patched(BUDGET_WAIT_PATCH):  # pragma: no cover - no history predates budgets
            raise BudgetExceededError(budget.message)
        wait = BudgetWaitInput(
            run_id=self._run_input.run_id,
            tenant_id=self._run_input.tenant_id,
            wait_key=wait_key,
            waiting=True,
            budget=budget.name,
            limit=budget.limit,
            used=budget.used,
            resets_at=budget.resets_at,
            message=budget.message,
        )
        self._set_status(RunStatus.WAITING)
        await bookkeeping(RunActivityContract.record_budget_wait, wait)
        # The activity's period is the Temporal server's clock, like workflow.now(); the margin
        # makes the next attempt land in the new period.
        delay = budget.resets_at - workflow.now() + BUDGET_RESET_MARGIN
        if delay > timedelta(0):
            await workflow.sleep(delay, summary=f"{budget.name} budget resets")
        await bookkeeping(RunActivityContract.record_budget_wait, wait.model_copy(update={"waiting": False}))
        self._set_status(RunStatus.RUNNING)

    # ------------------------------------------------------------------ humans in the loop

    async def resolve_deferred_calls(
        self, ctx: RunContext[RunDeps], requests: DeferredToolRequests
    ) -> DeferredToolResults:
        """Open a request per approval and question, wait for humans (or the timeout), and
        turn their answers into results the agent continues with."""
        assert self._run_input is not None
        run_input = self._run_input
        limits = run_input.agent.limits
        now = workflow.now()
        expires = now + timedelta(seconds=limits.approval_timeout_s)
        specs: list[HumanRequestSpec] = []
        for call in requests.approvals:
            specs.append(
                HumanRequestSpec(
                    id=new_request_id("apr"),
                    kind=HumanRequestKind.APPROVAL,
                    tool_call_id=call.tool_call_id,
                    tool=call.tool_name,
                    args=call.args_as_dict(),
                    requested_at=now,
                    expires_at=expires,
                )
            )
        for call in requests.calls:
            question = (
                str(call.args_as_dict().get("question", "")) if call.tool_name == HUMAN_INPUT_TOOL else ""
            )
            specs.append(
                HumanRequestSpec(
                    id=new_request_id("inp"),
                    kind=HumanRequestKind.INPUT,
                    tool_call_id=call.tool_call_id,
                    tool=call.tool_name,
                    args=call.args_as_dict(),
                    question=question or f"The agent called {call.tool_name}; provide its result.",
                    requested_at=now,
                    expires_at=expires,
                )
            )
        # Track before persisting, so a decision that arrives while the rows are written is
        # accepted (its handler waits for `persisted`).
        for spec in specs:
            self._requests[spec.id] = PendingRequest(spec=spec)
        await bookkeeping(
            HumanRequestActivityContract.open_human_requests,
            OpenHumanRequestsInput(run_id=run_input.run_id, tenant_id=run_input.tenant_id, requests=specs),
        )
        for spec in specs:
            self._requests[spec.id].persisted = True
        self._set_status(RunStatus.WAITING)
        pending = [self._requests[spec.id] for spec in specs]
        expired: list[str] = []
        try:
            await workflow.wait_condition(
                lambda: all(request.recorded for request in pending),
                timeout=timedelta(seconds=limits.approval_timeout_s),
                timeout_summary="human requests expire",
            )
        except TimeoutError:
            # A decision being written keeps its outcome if the write succeeds (and the request
            # expires if it fails); decisions already accepted keep theirs: wait until written.
            await workflow.wait_condition(lambda: not any(request.writing for request in pending))
            for request in pending:
                if request.status == HumanRequestStatus.PENDING:
                    request.status = HumanRequestStatus.EXPIRED
                    expired.append(request.spec.id)
            await workflow.wait_condition(
                lambda: all(r.recorded or r.status == HumanRequestStatus.EXPIRED for r in pending)
            )
        await bookkeeping(
            HumanRequestActivityContract.close_human_wait,
            CloseHumanWaitInput(
                run_id=run_input.run_id,
                tenant_id=run_input.tenant_id,
                request_ids=expired,
                resume=not (expired and limits.on_approval_timeout == "fail"),
            ),
        )
        if expired and limits.on_approval_timeout == "fail":
            raise HumanWaitTimedOutError(
                f"No human answered {len(expired)} request(s) within {limits.approval_timeout_s} s."
            )
        self._set_status(RunStatus.RUNNING)
        return self._results(pending, limits.approval_timeout_s)

    @staticmethod
    def _results(pending: list[PendingRequest], timeout_s: int) -> DeferredToolResults:
        results = DeferredToolResults()
        for request in pending:
            call_id = request.spec.tool_call_id
            who = request.decided_by or "a human"
            if request.spec.kind == HumanRequestKind.APPROVAL:
                if request.status == HumanRequestStatus.APPROVED:
                    results.approvals[call_id] = ToolApproved()
                elif request.status == HumanRequestStatus.REJECTED:
                    because = f": {request.reason}" if request.reason else "."
                    results.approvals[call_id] = ToolDenied(
                        f"Rejected by {who}{because} The tool was not run."
                    )
                else:
                    results.approvals[call_id] = ToolDenied(
                        f"Nobody approved this call within {timeout_s} s; the tool was not run."
                    )
            elif request.status == HumanRequestStatus.ANSWERED:
                results.calls[call_id] = request.answer
            else:
                results.calls[call_id] = f"Nobody answered within {timeout_s} s."
            if request.decided_by:
                results.answered_by[call_id] = request.decided_by
        return results

    def _pending_request(self, request_id: str, kind: HumanRequestKind) -> PendingRequest:
        request = self._requests.get(request_id)
        if request is None or request.spec.kind != kind:
            raise ApplicationError(
                f"No {kind.value} request '{request_id}' in this run.", type=REQUEST_NOT_FOUND
            )
        if request.status != HumanRequestStatus.PENDING:
            raise ApplicationError(
                f"Request '{request_id}' is already {request.status.value}.", type=REQUEST_ALREADY_RESOLVED
            )
        return request

    async def _record(self, request: PendingRequest) -> HumanRequestResolution:
        """Earlier runs' order (no ``DECISION_WRITTEN_FIRST_PATCH``): the decision is already in
        ``request``; write it."""
        assert self._run_input is not None
        assert request.decided_by is not None
        await workflow.wait_condition(lambda: request.persisted)
        await bookkeeping(
            HumanRequestActivityContract.resolve_human_request,
            ResolveHumanRequestInput(
                run_id=self._run_input.run_id,
                tenant_id=self._run_input.tenant_id,
                request_id=request.spec.id,
                status=request.status,
                reason=request.reason,
                answer=request.answer,
                decided_by=request.decided_by,
            ),
        )
        request.recorded = True
        return HumanRequestResolution(request_id=request.spec.id, status=request.status.value)

    async def _write_then_record(
        self,
        request_id: str,
        kind: HumanRequestKind,
        status: HumanRequestStatus,
        *,
        decided_by: str,
        reason: str | None = None,
        answer: str | None = None,
    ) -> HumanRequestResolution:
        """Write a human's decision or answer, and only then take it into the workflow's state.

        If the write fails for good (e.g. the database refuses the text), the update fails with
        ``HumanDecisionNotRecorded`` and the request stays pending: a later, valid decision is
        accepted. One write per request at a time: a concurrent decision is refused as already
        being resolved.
        """
        assert self._run_input is not None
        request = self._pending_request(request_id, kind)
        await workflow.wait_condition(lambda: request.persisted)
        if request.writing or request.status != HumanRequestStatus.PENDING:
            raise ApplicationError(
                f"Request '{request_id}' is already being resolved.", type=REQUEST_ALREADY_RESOLVED
            )
        request.writing = True
        try:
            await bookkeeping(
                HumanRequestActivityContract.resolve_human_request,
                ResolveHumanRequestInput(
                    run_id=self._run_input.run_id,
                    tenant_id=self._run_input.tenant_id,
                    request_id=request_id,
                    status=status,
                    reason=reason,
                    answer=answer,
                    decided_by=decided_by,
                ),
            )
        except (ActivityError, ApplicationError) as exc:
            # A local activity's failure arrives as its own error, a regular one's as ActivityError.
            cause = exc.cause if isinstance(exc, ActivityError) else exc
            why = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            raise ApplicationError(
                f"The decision on request '{request_id}' could not be recorded and was not taken "
                f"into account; the request is still pending. {why}",
                type=HUMAN_DECISION_NOT_RECORDED,
            ) from exc
        finally:
            request.writing = False
        request.status, request.reason, request.answer = status, reason, answer
        request.decided_by = decided_by
        request.recorded = True
        return HumanRequestResolution(request_id=request_id, status=status.value)

    @workflow.update(name=DECIDE_APPROVAL_UPDATE)
    async def decide_approval(self, decision: ApprovalDecisionUpdate) -> HumanRequestResolution:
        """Approve or reject a pending tool call."""
        if workflow.patched(DECISION_WRITTEN_FIRST_PATCH):
            return await self._write_then_record(
                decision.request_id,
                HumanRequestKind.APPROVAL,
                HumanRequestStatus.APPROVED if decision.approve else HumanRequestStatus.REJECTED,
                decided_by=decision.decided_by,
                reason=decision.reason,
            )
        request = self._pending_request(decision.request_id, HumanRequestKind.APPROVAL)
        request.status = HumanRequestStatus.APPROVED if decision.approve else HumanRequestStatus.REJECTED
        request.reason = decision.reason
        request.decided_by = decision.decided_by
        return await self._record(request)

    @decide_approval.validator
    def validate_decision(self, decision: ApprovalDecisionUpdate) -> None:
        """Refuse unknown or already-decided approvals before anything reaches history."""
        self._pending_request(decision.request_id, HumanRequestKind.APPROVAL)

    def _question_for(self, answer: InputAnswerUpdate) -> PendingRequest:
        if answer.request_id is not None:
            return self._pending_request(answer.request_id, HumanRequestKind.INPUT)
        pending = [
            r
            for r in self._requests.values()
            if r.spec.kind == HumanRequestKind.INPUT and r.status == HumanRequestStatus.PENDING
        ]
        if len(pending) != 1:
            raise ApplicationError(
                f"{len(pending)} questions are pending; name one with request_id.", type=REQUEST_AMBIGUOUS
            )
        return pending[0]

    @workflow.update(name=ANSWER_INPUT_UPDATE)
    async def answer_input(self, answer: InputAnswerUpdate) -> HumanRequestResolution:
        """Answer a pending question."""
        request = self._question_for(answer)
        if workflow.patched(DECISION_WRITTEN_FIRST_PATCH):
            return await self._write_then_record(
                request.spec.id,
                HumanRequestKind.INPUT,
                HumanRequestStatus.ANSWERED,
                decided_by=answer.decided_by,
                answer=answer.answer,
            )
        request.status = HumanRequestStatus.ANSWERED
        request.answer = answer.answer
        request.decided_by = answer.decided_by
        return await self._record(request)

    @answer_input.validator
    def validate_answer(self, answer: InputAnswerUpdate) -> None:
        """Refuse answers to unknown or already-answered questions."""
        self._question_for(answer)
