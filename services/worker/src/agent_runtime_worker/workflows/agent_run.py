"""``AgentRunWorkflow``: one run of a pinned agent version.

mark_run_started → the agent (each model request and tool call its own activity) → finish_run.
The run timeout is enforced here with a durable timer so the run can still be written
``timed_out``; Temporal's execution timeout is only a backstop (set by the API).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic_ai.durable_exec.temporal import PydanticAIWorkflow
    from pydantic_ai.exceptions import (
        AgentRunError,
        ModelAPIError,
        RunCancelled,
        RunTimedOut,
        UsageLimitExceeded,
        UserError,
    )
    from pydantic_ai.settings import ModelSettings
    from pydantic_ai.usage import RunUsage, UsageLimits

    from agent_runtime_core.models.run import RunStatus
    from agent_runtime_core.temporal.contracts import (
        AGENT_RUN_WORKFLOW,
        AgentRunInput,
        AgentRunResult,
        run_status_key,
    )
    from agent_runtime_worker.activities.contracts import (
        FINISH_RUN,
        MARK_RUN_STARTED,
        FinishRunInput,
        RunRef,
        RunUsageTotals,
    )
    from agent_runtime_worker.agents.runtime_agent import RunDeps, runtime_agent

BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
BOOKKEEPING_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,  # the run's record must be written: retry until the database answers
    non_retryable_error_types=["RunNotFound", "InvalidStatus"],
)


def activity_error(exc: ActivityError) -> tuple[str, str]:
    """A run error (code, message) for an activity that failed for good."""
    cause = exc.cause
    error_type = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
    if error_type == "UserError":
        return "configuration_error", message
    if error_type and error_type.startswith("Model"):
        return "model_error", f"{error_type}: {message}"
    if "call_tool" in exc.activity_type:
        return "tool_error", message
    return "activity_failed", f"{exc.activity_type}: {message}"


@workflow.defn(name=AGENT_RUN_WORKFLOW)
class AgentRunWorkflow(PydanticAIWorkflow):
    """Runs the agent once for the run's input and records how it ended."""

    __pydantic_ai_agents__ = [runtime_agent]

    def __init__(self) -> None:
        self._status = RunStatus.QUEUED

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
        ref = RunRef(run_id=run_input.run_id, tenant_id=run_input.tenant_id)
        try:
            should_run = await workflow.execute_activity(
                MARK_RUN_STARTED,
                ref,
                result_type=bool,
                start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY,
            )
        except asyncio.CancelledError:
            return await self._finish(run_input, RunStatus.CANCELLED, error=("cancelled", "Cancelled."))
        if not should_run:
            return AgentRunResult(run_id=run_input.run_id, status="already_finished")
        self._set_status(RunStatus.RUNNING)
        return await self._run_agent(run_input)

    async def _run_agent(self, run_input: AgentRunInput) -> AgentRunResult:
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
        )
        try:
            result = await runtime_agent.run(
                run_input.input,
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
        except UsageLimitExceeded as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("usage_limit_exceeded", str(exc)))
        except ModelAPIError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("model_error", str(exc)))
        except UserError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("configuration_error", str(exc)))
        except AgentRunError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=("agent_error", str(exc)))
        except ActivityError as exc:
            return await self._finish(run_input, RunStatus.FAILED, error=activity_error(exc))
        return await self._finish(run_input, RunStatus.SUCCEEDED, output=result.output, usage=result.usage)

    async def _finish(
        self,
        run_input: AgentRunInput,
        status: RunStatus,
        *,
        output: str | None = None,
        error: tuple[str, str] | None = None,
        usage: RunUsage | None = None,
    ) -> AgentRunResult:
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
        )
        final_status = await workflow.execute_activity(
            FINISH_RUN,
            finish,
            result_type=str,
            start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY,
        )
        self._set_status(RunStatus(final_status))
        return AgentRunResult(
            run_id=run_input.run_id,
            status=final_status,
            output=output,
            error_code=finish.error_code,
            error_message=finish.error_message,
        )
