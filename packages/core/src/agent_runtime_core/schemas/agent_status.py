"""What an agent is doing now: ``GET /v1/agents/{agent_id}/status``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

AGENT_STATUS_RULE = (
    "`status` is decided in this order: `processing` if any of the agent's runs is queued or "
    "running; else `waiting` if any is waiting (for a human or a budget reset); else `error` if "
    "the agent's most recently finished run failed or timed out; else `idle` (no runs, or the "
    "last one succeeded or was cancelled). `last_error` is the most recent failed or timed-out "
    "run whatever the status (null if there is none), so an error stays visible while newer "
    "runs are active or after a success."
)


class AgentStatusName(StrEnum):
    """The agent's state, by the rule in :data:`AGENT_STATUS_RULE`."""

    IDLE = "idle"
    PROCESSING = "processing"
    WAITING = "waiting"
    ERROR = "error"


class ActiveRunCounts(BaseModel):
    """The agent's unfinished runs by status."""

    queued: int = 0
    running: int = 0
    waiting: int = 0


class AgentLastError(BaseModel):
    """The agent's most recent failed or timed-out run."""

    run_id: str
    status: Literal["failed", "timed_out"]
    code: str = Field(examples=["model_error", "timed_out"])
    message: str
    at: datetime | None = Field(description="When the run finished.")


class AgentStatusPublic(BaseModel):
    """What an agent is doing now."""

    agent_id: str
    status: AgentStatusName = Field(description=AGENT_STATUS_RULE)
    active_runs: ActiveRunCounts
    last_error: AgentLastError | None
