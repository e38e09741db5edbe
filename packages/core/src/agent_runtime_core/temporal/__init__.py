"""How the API and the worker speak about runs: names, ids, inputs, search attributes.

The API never imports the worker; both sides use these contracts.
"""

from agent_runtime_core.temporal.client import connect_temporal
from agent_runtime_core.temporal.contracts import (
    AGENT_RUN_WORKFLOW,
    ANSWER_INPUT_UPDATE,
    DECIDE_APPROVAL_UPDATE,
    HUMAN_DECISION_NOT_RECORDED,
    REQUEST_ALREADY_RESOLVED,
    REQUEST_AMBIGUOUS,
    REQUEST_NOT_FOUND,
    SEARCH_ATTRIBUTE_TYPES,
    AgentConfig,
    AgentRunInput,
    AgentRunResult,
    ApprovalDecisionUpdate,
    DurableModel,
    HumanRequestResolution,
    InputAnswerUpdate,
    LimitsConfig,
    ModelSettingsConfig,
    ToolConfig,
    agent_id_key,
    run_status_key,
    tenant_id_key,
    workflow_id_for_run,
)

__all__ = [
    "AGENT_RUN_WORKFLOW",
    "ANSWER_INPUT_UPDATE",
    "DECIDE_APPROVAL_UPDATE",
    "HUMAN_DECISION_NOT_RECORDED",
    "REQUEST_ALREADY_RESOLVED",
    "REQUEST_AMBIGUOUS",
    "REQUEST_NOT_FOUND",
    "SEARCH_ATTRIBUTE_TYPES",
    "AgentConfig",
    "AgentRunInput",
    "AgentRunResult",
    "ApprovalDecisionUpdate",
    "DurableModel",
    "HumanRequestResolution",
    "InputAnswerUpdate",
    "LimitsConfig",
    "ModelSettingsConfig",
    "ToolConfig",
    "agent_id_key",
    "connect_temporal",
    "run_status_key",
    "tenant_id_key",
    "workflow_id_for_run",
]
