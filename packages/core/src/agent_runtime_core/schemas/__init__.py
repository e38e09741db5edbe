"""Request and response models of the public API (the workflow's input has its own durable
models: :mod:`agent_runtime_core.temporal`)."""

from agent_runtime_core.schemas.agent import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    AgentVersionCreate,
    AgentVersionPublic,
    Limits,
    ModelSettings,
    ToolPublic,
    ToolSpec,
)
from agent_runtime_core.schemas.api_key import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from agent_runtime_core.schemas.approval import (
    ApprovalDecision,
    ApprovalPublic,
    InputAnswer,
    InputRequestPublic,
)
from agent_runtime_core.schemas.audit import AuditLogEntryPublic, AuditOutcome
from agent_runtime_core.schemas.common import Page, Text, Timestamp
from agent_runtime_core.schemas.provider import (
    BreakerSettingsPublic,
    ProviderEndpointList,
    ProviderEndpointPublic,
)
from agent_runtime_core.schemas.run import RunCreate, RunError, RunEventPublic, RunPublic, RunUsage
from agent_runtime_core.schemas.secret import (
    SecretCreate,
    SecretPublic,
    SecretUpdate,
    SigningKeyCreated,
    SigningKeyPublic,
    SigningKeyRotate,
)

__all__ = [
    "AgentCreate",
    "AgentPublic",
    "AgentUpdate",
    "AgentVersionCreate",
    "AgentVersionPublic",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "ApprovalDecision",
    "ApprovalPublic",
    "AuditLogEntryPublic",
    "AuditOutcome",
    "BreakerSettingsPublic",
    "InputAnswer",
    "InputRequestPublic",
    "Limits",
    "ModelSettings",
    "Page",
    "ProviderEndpointList",
    "ProviderEndpointPublic",
    "RunCreate",
    "RunError",
    "RunEventPublic",
    "RunPublic",
    "RunUsage",
    "SecretCreate",
    "SecretPublic",
    "SecretUpdate",
    "SigningKeyCreated",
    "SigningKeyPublic",
    "SigningKeyRotate",
    "Text",
    "Timestamp",
    "ToolPublic",
    "ToolSpec",
]
