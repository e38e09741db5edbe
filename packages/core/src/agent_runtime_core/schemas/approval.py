"""Approvals and questions for humans."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from agent_runtime_core.models.approval import HumanRequestStatus
from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import HumanRequest


class ApprovalPublic(BaseModel):
    """A tool call waiting for (or given) a human decision."""

    id: str = Field(examples=["apr_01jd3x8a0b1c2d3e4f5g6h7j8k"])
    run_id: str
    tool: str
    tool_call_id: str
    args: dict[str, Any]
    status: HumanRequestStatus
    reason: str | None = Field(description="The decider's reason, if any.")
    decided_by: str | None
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None

    @classmethod
    def from_row(cls, request: HumanRequest) -> ApprovalPublic:
        """An approval as the API shows it."""
        return cls(
            id=request.id,
            run_id=request.run_id,
            tool=request.tool,
            tool_call_id=request.tool_call_id,
            args=request.args,
            status=request.status,
            reason=request.reason,
            decided_by=request.decided_by,
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            decided_at=request.decided_at,
        )


class ApprovalInboxItem(ApprovalPublic):
    """An approval in the tenant-wide inbox: the approval and the agent of its run."""

    agent_id: str = Field(description="The agent whose run asks (decide with the run's route).")

    @classmethod
    def from_row_and_agent(cls, request: HumanRequest, agent_id: str) -> ApprovalInboxItem:
        """An approval and its run's agent as the inbox shows them."""
        return cls(**ApprovalPublic.from_row(request).model_dump(), agent_id=agent_id)


ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "cancelled"]
"""What an approval can be: waiting, decided either way, timed out, or void (its run ended)."""


class ApprovalDecision(StrictInput):
    """Approve or reject a pending tool call."""

    decision: Literal["approve", "reject"]
    reason: str | None = Field(
        default=None, max_length=2000, description="Told to the model when the call is rejected."
    )


class InputRequestPublic(BaseModel):
    """A question the agent asked a human (`ask_human`)."""

    id: str = Field(examples=["inp_01jd3x8a0b1c2d3e4f5g6h7j8k"])
    run_id: str
    question: str
    status: HumanRequestStatus
    answer: str | None
    decided_by: str | None = Field(description="Who answered.")
    requested_at: datetime
    expires_at: datetime
    decided_at: datetime | None

    @classmethod
    def from_row(cls, request: HumanRequest) -> InputRequestPublic:
        """A question to a human as the API shows it."""
        return cls(
            id=request.id,
            run_id=request.run_id,
            question=request.question or "",
            status=request.status,
            answer=request.answer,
            decided_by=request.decided_by,
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            decided_at=request.decided_at,
        )


class QuestionInboxItem(InputRequestPublic):
    """A question in the tenant-wide inbox: the question and the agent of its run."""

    agent_id: str = Field(description="The agent whose run asks (answer with the run's route).")

    @classmethod
    def from_row_and_agent(cls, request: HumanRequest, agent_id: str) -> QuestionInboxItem:
        """A question and its run's agent as the inbox shows them."""
        return cls(**InputRequestPublic.from_row(request).model_dump(), agent_id=agent_id)


QuestionStatus = Literal["pending", "answered", "expired", "cancelled"]
"""What a question can be: waiting, answered, timed out, or void (its run ended)."""


class InputAnswer(StrictInput):
    """Answer the run's pending question."""

    request_id: str | None = Field(
        default=None,
        max_length=40,
        description="Which question (`inp_…`); may be omitted when exactly one is pending.",
    )
    answer: str = Field(min_length=1, max_length=100_000)
