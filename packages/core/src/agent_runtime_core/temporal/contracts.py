"""Workflow names, ids, search attributes and the input/output models of a run's workflow.

Changing a name here breaks runs in flight: treat every string as frozen once released.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from agent_runtime_core.schemas.agent import Limits, ModelSettings, ToolSpec

AGENT_RUN_WORKFLOW: Final = "AgentRunWorkflow"

tenant_id_key: Final = SearchAttributeKey.for_keyword("TenantId")
agent_id_key: Final = SearchAttributeKey.for_keyword("AgentId")
run_status_key: Final = SearchAttributeKey.for_keyword("RunStatus")

SEARCH_ATTRIBUTE_TYPES: Final[dict[str, str]] = {
    tenant_id_key.name: "Keyword",
    agent_id_key.name: "Keyword",
    run_status_key.name: "Keyword",
}
"""Custom search attributes the Temporal namespace must have (name → indexed value type)."""


def workflow_id_for_run(run_id: str) -> str:
    """The workflow id of a run: one workflow per run, which makes starting it idempotent."""
    return f"run-{run_id}"


class AgentConfig(BaseModel):
    """The pinned agent version, as the workflow receives it (the workflow loads nothing)."""

    agent_id: str
    agent_name: str
    version: int
    model: str
    fallback_models: list[str] = Field(default_factory=list)
    instructions: str = ""
    tools: list[ToolSpec] = Field(default_factory=list[ToolSpec])
    model_settings: ModelSettings = Field(default_factory=ModelSettings)
    limits: Limits = Field(default_factory=Limits)


class AgentRunInput(BaseModel):
    """Input of ``AgentRunWorkflow``."""

    run_id: str
    tenant_id: str
    input: str
    agent: AgentConfig


class AgentRunResult(BaseModel):
    """Result of ``AgentRunWorkflow``: the terminal status the run reached."""

    run_id: str
    status: str
    output: Any | None = None
    error_code: str | None = None
    error_message: str | None = None


DECIDE_APPROVAL_UPDATE: Final = "decide_approval"
"""Workflow update delivering a human's approve/reject decision."""
ANSWER_INPUT_UPDATE: Final = "answer_input"
"""Workflow update delivering a human's answer to an ``ask_human`` question."""

REQUEST_NOT_FOUND: Final = "HumanRequestNotFound"
"""Update rejected by the validator: no such pending request (the API answers 404)."""
REQUEST_ALREADY_RESOLVED: Final = "HumanRequestAlreadyResolved"
"""Update rejected by the validator: already decided, answered or expired (409)."""
REQUEST_AMBIGUOUS: Final = "HumanRequestAmbiguous"
"""Update rejected: no request id given and not exactly one question is pending (422)."""


class ApprovalDecisionUpdate(BaseModel):
    """Input of the ``decide_approval`` update."""

    request_id: str
    approve: bool
    reason: str | None = None
    decided_by: str


class InputAnswerUpdate(BaseModel):
    """Input of the ``answer_input`` update."""

    request_id: str | None = None
    answer: str
    decided_by: str


class HumanRequestResolution(BaseModel):
    """Result of both updates: which request, and its status now."""

    request_id: str
    status: str
