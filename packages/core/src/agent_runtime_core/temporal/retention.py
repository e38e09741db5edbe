"""Contracts of the retention cleanup: the workflow, its activities and its daily schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from agent_runtime_core.temporal.contracts import DurableModel

RETENTION_WORKFLOW: Final = "RetentionWorkflow"
RETENTION_WORKFLOW_ID: Final = "agent-runtime-retention"
"""The workflow id of the scheduled cleanups (Temporal appends the scheduled time)."""

PLAN_RETENTION: Final = "plan_retention"
PURGE_EXPIRED: Final = "purge_expired"

RetentionKind = Literal["runs", "threads", "artifacts"]


class TenantRetentionPlan(DurableModel):
    """The effective periods of one tenant (days; 0: keep forever)."""

    tenant_id: str
    runs_days: int = 0
    threads_days: int = 0
    artifacts_days: int = 0


class RetentionPlan(DurableModel):
    """What one cleanup does: every tenant's periods, read once at its start."""

    tenants: list[TenantRetentionPlan] = Field(default_factory=list[TenantRetentionPlan])
    batch_size: int = 500
    pending_upload_hours: int = 24


class RetentionInput(DurableModel):
    """Input of ``RetentionWorkflow``; a scheduled start gives none of the fields. The others
    carry a cleanup across ``continue_as_new``."""

    plan: RetentionPlan | None = None
    now: datetime | None = None
    """The moment the cutoffs are counted back from (the first run's start)."""
    next_tenant: int = 0
    deleted: dict[str, int] = Field(default_factory=dict[str, int])
    failed: list[str] = Field(default_factory=list[str])


class RetentionResult(DurableModel):
    """What a cleanup deleted: rows per kind (``runs``, ``threads``, ``artifacts``)."""

    tenants: int = 0
    deleted: dict[str, int] = Field(default_factory=dict[str, int])
    failed: list[str] = Field(default_factory=list[str])
    """``<tenant>/<kind>`` whose batches kept failing (left for the next cleanup)."""


class PlanRetentionInput(DurableModel):
    """Input of the ``plan_retention`` activity (none needed)."""


class PurgeBatchInput(DurableModel):
    """One batch of one tenant's expired rows of one kind."""

    tenant_id: str
    kind: RetentionKind
    cutoff: datetime | None
    """Older than this expires (``None``: the kind is kept forever; only abandoned uploads go)."""
    pending_cutoff: datetime | None = None
    """Pending uploads whose URL expired before this expire (artifacts only)."""
    limit: int = 500


class PurgeBatchResult(DurableModel):
    """How many rows the batch deleted (fewer than the limit: the tenant's kind is done)."""

    deleted: int = 0
    examined: int = 0
    """Rows the batch took on (a batch may take ``limit`` rows and delete fewer)."""
