"""The baseline workflows of the overhead benchmark (sandboxed, like ``AgentRunWorkflow``).

They live in their own module because Temporal's sandbox re-imports a workflow's module for every
workflow run; the agent and the activity come from ``bench_workloads``, passed through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench_workloads import RawRunInput, bare_agent, bare_prompt, noop_activity
    from pydantic_ai.durable_exec.temporal import PydanticAIWorkflow

RAW_WORKFLOW: Final = "BenchRawActivitiesWorkflow"
BARE_AGENT_WORKFLOW: Final = "BenchBareAgentWorkflow"
ACTIVITY_TIMEOUT: Final = timedelta(seconds=60)


@workflow.defn(name=RAW_WORKFLOW)
class RawActivitiesWorkflow:
    """Scenario (a): sequential no-op activities, nothing else."""

    @workflow.run
    async def run(self, run_input: RawRunInput) -> int:
        """Execute the activities one after the other."""
        executed = 0
        regular_before = run_input.extra_activities // 2
        local_before = run_input.extra_local_activities // 2
        for _ in range(regular_before):
            await workflow.execute_activity(noop_activity, -1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        for _ in range(local_before):
            await workflow.execute_local_activity(noop_activity, -1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        for step in range(run_input.activities):
            executed += 1
            await workflow.execute_activity(noop_activity, step, start_to_close_timeout=ACTIVITY_TIMEOUT)
        for _ in range(run_input.extra_activities - regular_before):
            await workflow.execute_activity(noop_activity, -1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        for _ in range(run_input.extra_local_activities - local_before):
            await workflow.execute_local_activity(noop_activity, -1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return executed


@workflow.defn(name=BARE_AGENT_WORKFLOW)
class BareAgentWorkflow(PydanticAIWorkflow):
    """Scenario (b): the bare durable agent, ``steps`` model requests."""

    __pydantic_ai_agents__ = [bare_agent]

    @workflow.run
    async def run(self, steps: int) -> str:
        """Run the agent once."""
        result = await bare_agent.run(bare_prompt(steps))
        return result.output
