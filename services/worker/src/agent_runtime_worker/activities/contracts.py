"""Inputs of the worker's own activities (the workflow builds them; names are frozen)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

MARK_RUN_STARTED: Final = "mark_run_started"
FINISH_RUN: Final = "finish_run"
RECORD_BUDGET_WAIT: Final = "record_budget_wait"


class RunRef(BaseModel):
    """Which run (and whose)."""

    run_id: str
    tenant_id: str


class RunUsageTotals(BaseModel):
    """Usage of a run, as counted by the agent."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class FinishRunInput(BaseModel):
    """The terminal state a run reached."""

    run_id: str
    tenant_id: str
    status: str = Field(description="succeeded | failed | cancelled | timed_out")
    output: Any | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: RunUsageTotals = Field(default_factory=RunUsageTotals)


class BudgetWaitInput(BaseModel):
    """A run starts (``waiting``) or ends (``resumed``) a wait for a tenant budget to reset."""

    run_id: str
    tenant_id: str
    wait_key: str = Field(description="Identifies this wait (step and attempt) in event dedupe keys.")
    waiting: bool = Field(description="True: the wait starts; False: it is over and the run goes on.")
    budget: str
    limit: str
    used: str
    resets_at: datetime
    message: str
