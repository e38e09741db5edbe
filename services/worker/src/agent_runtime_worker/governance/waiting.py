"""Workflow side of budgets: a model request a budget refused fails the run or waits for the reset.

The model-request activity refuses a request with a non-retryable ``BudgetExceeded``
``ApplicationError`` (:mod:`agent_runtime_worker.governance.budgets`). pydantic-ai hands that
failure to the ``on_model_request_error`` hook of :class:`BudgetGuard`, in workflow code, which asks
the running workflow to handle it: with ``on_exceeded: "fail"`` the run fails with
``budget_exceeded``; with ``"wait"`` the workflow records ``run.waiting``, sleeps on a durable
timer until the budget's period resets, records ``run.resumed`` and raises ``RetryModelRequest``,
so the same request is attempted again (a new activity, checked again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import RetryModelRequest
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import ModelRequestContext
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from agent_runtime_core.budgets import BUDGET_EXCEEDED_ERROR_TYPE

BUDGET_DETAILS_KEY = "budget_exceeded"


class BudgetExceededError(Exception):
    """A tenant budget is used up and the tenant chose to fail runs (code ``budget_exceeded``)."""


@dataclass(frozen=True)
class ExhaustedBudget:
    """The budget that refused a request, as the activity described it."""

    name: str
    limit: str
    used: str
    resets_at: datetime
    on_exceeded: str
    message: str


def exhausted_budget(error: BaseException) -> ExhaustedBudget | None:
    """The exhausted budget ``error`` reports, if it is a model request refused by a budget."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if not isinstance(cause, ApplicationError) or cause.type != BUDGET_EXCEEDED_ERROR_TYPE:
        return None
    details = cause.details[0] if cause.details else None
    if not isinstance(details, dict):
        return None
    data = cast(dict[str, Any], details).get(BUDGET_DETAILS_KEY)
    if not isinstance(data, dict):
        return None
    info = cast(dict[str, Any], data)
    return ExhaustedBudget(
        name=str(info["name"]),
        limit=str(info["limit"]),
        used=str(info["used"]),
        resets_at=datetime.fromisoformat(str(info["resets_at"])),
        on_exceeded=str(info.get("on_exceeded", "fail")),
        message=str(info.get("message", cause.message)),
    )


class BudgetWaitHandler(Protocol):
    """What the running workflow offers: wait for a budget's reset (or fail the run)."""

    async def wait_for_budget(self, budget: ExhaustedBudget, wait_key: str) -> None: ...


@dataclass
class BudgetGuard(AbstractCapability[Any]):
    """Turns a budget refusal into a failed run or a durable wait followed by another attempt."""

    async def on_model_request_error(
        self,
        ctx: RunContext[Any],
        *,
        request_context: ModelRequestContext,
        error: Exception,
    ) -> ModelResponse:
        """Handle a budget refusal (see the module doc); re-raise any other error."""
        budget = exhausted_budget(error)
        if budget is None:
            raise error
        if budget.on_exceeded != "wait" or not workflow.in_workflow():
            raise BudgetExceededError(budget.message) from error
        handler = cast(BudgetWaitHandler, workflow.instance())
        await handler.wait_for_budget(budget, f"{ctx.run_step}:{request_context.attempt}")
        raise RetryModelRequest()
