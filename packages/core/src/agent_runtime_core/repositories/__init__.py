"""All queries live here. Every repository is bound to one session and one tenant."""

from agent_runtime_core.repositories.agents import AgentRepository
from agent_runtime_core.repositories.api_keys import ApiKeyLookup, ApiKeyRepository
from agent_runtime_core.repositories.artifacts import ArtifactRepository
from agent_runtime_core.repositories.audit import AuditLogRepository
from agent_runtime_core.repositories.human_requests import HumanRequestRepository
from agent_runtime_core.repositories.limits import TenantLimitsRepository
from agent_runtime_core.repositories.pagination import decode_cursor, encode_cursor
from agent_runtime_core.repositories.retention import RetentionRepository, TenantRetentionRepository
from agent_runtime_core.repositories.runs import RunEventRepository, RunRepository
from agent_runtime_core.repositories.signing_keys import Rotation, SigningKeyMaterial, SigningKeyRepository
from agent_runtime_core.repositories.store import (
    ScoredItem,
    SemanticQuery,
    StoreRepository,
    TextQuery,
)
from agent_runtime_core.repositories.threads import MultitaskStrategy, ThreadRepository
from agent_runtime_core.repositories.tool_catalog import ToolCatalogRepository
from agent_runtime_core.repositories.tool_secrets import ToolSecretRepository
from agent_runtime_core.repositories.tools import ToolRepository
from agent_runtime_core.repositories.usage import BudgetRepository, ModelPriceRepository, UsageRepository

__all__ = [
    "AgentRepository",
    "ApiKeyLookup",
    "ApiKeyRepository",
    "ArtifactRepository",
    "AuditLogRepository",
    "BudgetRepository",
    "HumanRequestRepository",
    "ModelPriceRepository",
    "MultitaskStrategy",
    "RetentionRepository",
    "Rotation",
    "RunEventRepository",
    "RunRepository",
    "ScoredItem",
    "SemanticQuery",
    "SigningKeyMaterial",
    "SigningKeyRepository",
    "StoreRepository",
    "TenantLimitsRepository",
    "TenantRetentionRepository",
    "TextQuery",
    "ThreadRepository",
    "ToolCatalogRepository",
    "ToolRepository",
    "ToolSecretRepository",
    "UsageRepository",
    "decode_cursor",
    "encode_cursor",
]
