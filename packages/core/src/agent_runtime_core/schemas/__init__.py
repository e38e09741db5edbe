"""Request and response models of the public API (the workflow's input has its own durable
models: :mod:`agent_runtime_core.temporal`)."""

from agent_runtime_core.schemas.agent import (
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    AgentVersionCreate,
    AgentVersionPublic,
    Limits,
    McpServerPublic,
    McpServerSpec,
    ModelSettings,
    RegisteredToolRef,
    ToolPublic,
    ToolRefPublic,
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
from agent_runtime_core.schemas.tool import (
    CatalogList,
    CatalogToolPublic,
    HttpEndpointPublic,
    HttpEndpointSpec,
    HttpRetryPublic,
    HttpRetrySpec,
    ToolDefinitionCreate,
    ToolDefinitionPublic,
    ToolRevisionPublic,
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
    "CatalogList",
    "CatalogToolPublic",
    "HttpEndpointPublic",
    "HttpEndpointSpec",
    "HttpRetryPublic",
    "HttpRetrySpec",
    "InputAnswer",
    "InputRequestPublic",
    "Limits",
    "McpServerPublic",
    "McpServerSpec",
    "ModelSettings",
    "Page",
    "ProviderEndpointList",
    "ProviderEndpointPublic",
    "RegisteredToolRef",
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
    "ToolDefinitionCreate",
    "ToolDefinitionPublic",
    "ToolPublic",
    "ToolRefPublic",
    "ToolRevisionPublic",
    "ToolSpec",
]
