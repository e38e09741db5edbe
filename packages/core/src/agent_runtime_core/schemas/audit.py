"""The audit log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from agent_runtime_core.models import AuditLogEntry


class AuditOutcome(StrEnum):
    """How the call ended."""

    SUCCESS = "success"
    """2xx/3xx."""
    DENIED = "denied"
    """401, 403, 404 (not visible to this tenant) or 429."""
    FAILED = "failed"
    """Any other 4xx (invalid, conflict) or 5xx."""


class AuditLogEntryPublic(BaseModel):
    """One recorded call: who did what to which resource, when, and how it ended."""

    id: str = Field(description="`aud_…`, time-sortable.")
    at: datetime
    actor: str = Field(description="Subject of the principal (user or API key owner).")
    auth_method: str = Field(description="`oidc`, `api_key`, `dev`, …")
    api_key_id: str | None = None
    action: str = Field(description="Stable action name, e.g. `runs.cancel`, `approvals.decide`.")
    resource_type: str
    resource_id: str | None = None
    request_id: str | None = Field(default=None, description="`X-Request-ID` of the call.")
    method: str
    path: str
    status_code: int = Field(description="HTTP status of the answer.")
    outcome: AuditOutcome
    details: dict[str, Any] = Field(
        default_factory=dict[str, Any], description="Small, non-secret context (e.g. the decision)."
    )

    @classmethod
    def from_row(cls, entry: AuditLogEntry) -> AuditLogEntryPublic:
        """An audit log entry as the API shows it."""
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            auth_method=entry.auth_method,
            api_key_id=entry.api_key_id,
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            request_id=entry.request_id,
            method=entry.method,
            path=entry.path,
            status_code=entry.status_code,
            outcome=AuditOutcome(entry.outcome),
            details=entry.details,
        )
