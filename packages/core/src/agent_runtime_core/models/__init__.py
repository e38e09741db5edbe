"""SQLModel tables, one module per aggregate. Import this package to register every table."""

from agent_runtime_core.models.agent import Agent, AgentVersion
from agent_runtime_core.models.api_key import ApiKey
from agent_runtime_core.models.approval import HumanRequest, HumanRequestKind, HumanRequestStatus
from agent_runtime_core.models.artifact import Artifact, ArtifactStatus
from agent_runtime_core.models.audit import AuditLogEntry
from agent_runtime_core.models.limits import TenantLimits
from agent_runtime_core.models.retention import TenantRetention
from agent_runtime_core.models.run import Run, RunEvent, RunStatus
from agent_runtime_core.models.store import StoreItem
from agent_runtime_core.models.thread import MultitaskStrategy, Thread, ThreadMessage, ThreadSummary
from agent_runtime_core.models.tool import CatalogTool, Tool, ToolRevision, ToolSecret, ToolSigningKey
from agent_runtime_core.models.usage import (
    ModelPrice,
    ModelRequestRecord,
    OnBudgetExceeded,
    PriceSource,
    TenantBudget,
    UsageCounter,
)

__all__ = [
    "Agent",
    "AgentVersion",
    "ApiKey",
    "Artifact",
    "ArtifactStatus",
    "AuditLogEntry",
    "CatalogTool",
    "HumanRequest",
    "HumanRequestKind",
    "HumanRequestStatus",
    "ModelPrice",
    "ModelRequestRecord",
    "MultitaskStrategy",
    "OnBudgetExceeded",
    "PriceSource",
    "Run",
    "RunEvent",
    "RunStatus",
    "StoreItem",
    "TenantBudget",
    "TenantLimits",
    "TenantRetention",
    "Thread",
    "ThreadMessage",
    "ThreadSummary",
    "Tool",
    "ToolRevision",
    "ToolSecret",
    "ToolSigningKey",
    "UsageCounter",
]
