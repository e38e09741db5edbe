"""Runs and run events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import BaseModel, Field

from agent_runtime_core.lifecycle import EventType
from agent_runtime_core.models.run import RunStatus
from agent_runtime_core.models.thread import MultitaskStrategy
from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import Run, RunEvent


RUN_INPUT_MAX_CHARS_CEILING: Final = 10_000_000
"""The most any deployment accepts in one run input (``run_input_max_chars`` is at most this)."""
MAX_RUN_ARTIFACTS: Final = 20
"""At most this many input artifacts per run."""


class RunCreate(StrictInput):
    """Start a run of an agent."""

    agent_id: str = Field(min_length=1, max_length=40, examples=["agt_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    agent_version: int | None = Field(
        default=None, ge=1, description="Version to run; the agent's latest version if omitted."
    )
    input: str = Field(
        min_length=1,
        max_length=RUN_INPUT_MAX_CHARS_CEILING,
        description=(
            "The user's message to the agent: up to the deployment's `run_input_max_chars` "
            "(2,000,000 characters by default); longer, 422 `input_too_long`."
        ),
        examples=["What is 12 * 7?"],
    )
    thread_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description=(
            "Run as the next turn of this thread (`thr_…`): the model sees the thread's earlier "
            "turns, and this run's turn is appended when it succeeds."
        ),
    )
    multitask_strategy: MultitaskStrategy = Field(
        default=MultitaskStrategy.REJECT,
        description=(
            "When the thread is busy (another run has the turn): `reject` (409 `thread_busy`), "
            "`enqueue` (run after the runs before it, in order), `interrupt` (cancel the active run; "
            "this one goes next), `rollback` (like `interrupt`, and the cancelled run's turn is "
            "dropped: the run shows `rolled_back_by`). Ignored without `thread_id`."
        ),
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Your own JSON object (who, what about), shown on the run. An agent version whose memory "
            "is `user`-scoped (`memory.store_namespace`) keeps its memories per value of the key it "
            "names here (e.g. `user_id`)."
        ),
        examples=[{"user_id": "u_42"}],
    )
    artifact_ids: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None,
        max_length=MAX_RUN_ARTIFACTS,
        description=(
            "Files the run is given (`art_…`, ready artifacts of yours, at most 20): an agent whose "
            "version enables `artifact_list` / `artifact_read` can list and read them."
        ),
        examples=[["art_01jd3x7k2m9q8r4t6v5w0y1z2a"]],
    )


class RunError(BaseModel):
    """Why a run did not succeed."""

    code: str = Field(examples=["model_error", "cancelled", "timed_out", "usage_limit_exceeded"])
    message: str

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> RunError:
        """The error as a run row stores it, read leniently: other keys are ignored and a missing
        one is empty, so a row written by another build never makes reading the run a 500."""
        return cls(code=str(stored.get("code") or "error"), message=str(stored.get("message") or ""))


class RunUsage(BaseModel):
    """Model usage of a run so far."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = Field(default=None, description="Null while pricing is unknown.")


class RunPublic(BaseModel):
    """A run."""

    id: str = Field(examples=["run_01jd3x8a0b1c2d3e4f5g6h7j8k"])
    agent_id: str
    agent_version: int
    status: RunStatus
    input: str
    output: Any | None = Field(description="The agent's final output once succeeded.")
    error: RunError | None
    usage: RunUsage
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    workflow_id: str = Field(description="Temporal workflow id (`run-<id>`): open it in the Temporal UI.")
    temporal_ui_url: str | None = Field(
        default=None, description="Link to this run's workflow in the Temporal Web UI, if known."
    )
    trace_id: str | None = Field(
        default=None,
        description=(
            "OpenTelemetry trace id (32 hex digits) of the run: the API request, the workflow, its "
            "model requests and tool calls share it. Look it up in your tracing backend."
        ),
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )
    trace_url: str | None = Field(
        default=None, description="Link to the run's trace in Langfuse, when Langfuse is configured."
    )
    thread_id: str | None = Field(default=None, description="The thread the run is a turn of.")
    multitask_strategy: MultitaskStrategy | None = Field(
        default=None, description="What the run asked for if its thread was busy (thread runs only)."
    )
    rolled_back_by: str | None = Field(
        default=None,
        description="The run whose `rollback` cancelled this one; its turn is not in the thread.",
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=(
            "The run's metadata as given; a thread run of a `user`-scoped memory agent that did not "
            "name the user takes the key from the thread's metadata (recorded here)."
        ),
    )

    artifact_ids: list[str] = Field(
        default_factory=list, description="The run's input artifacts (`artifact_ids` as given)."
    )

    @classmethod
    def from_row(
        cls, run: Run, *, temporal_ui_url: str | None = None, trace_url: str | None = None
    ) -> RunPublic:
        """A run as the API shows it, with the links only the caller's settings can build."""
        return cls(
            id=run.id,
            agent_id=run.agent_id,
            agent_version=run.agent_version,
            status=run.status,
            input=run.input,
            output=run.output,
            error=RunError.from_stored(run.error) if run.error else None,
            usage=RunUsage(
                requests=run.usage_requests,
                input_tokens=run.usage_input_tokens,
                output_tokens=run.usage_output_tokens,
                cost_usd=run.cost_usd,
            ),
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            workflow_id=run.workflow_id,
            temporal_ui_url=temporal_ui_url,
            trace_id=run.trace_id,
            trace_url=trace_url,
            thread_id=run.thread_id,
            multitask_strategy=MultitaskStrategy(run.multitask_strategy) if run.multitask_strategy else None,
            rolled_back_by=run.rolled_back_by,
            metadata=run.run_metadata,
            artifact_ids=list(run.input_artifact_ids or []),
        )


class RunEventPublic(BaseModel):
    """One event of a run; ``seq`` is gap-free per run and starts at 1."""

    id: str = Field(description="`<run_id>:<seq>`", examples=["run_01jd3x8a0b1c2d3e4f5g6h7j8k:3"])
    seq: int
    run_id: str
    type: EventType | str = Field(
        description=(
            "What happened (see `EventType`). Readers should skip types they do not know: a newer "
            "server may add some."
        ),
        examples=["run.started", "tool.call.finished"],
    )
    at: datetime
    data: dict[str, Any]

    @classmethod
    def from_row(cls, event: RunEvent) -> RunEventPublic:
        """The envelope: ``{"id": "<run_id>:<seq>", "seq", "run_id", "type", "at", "data"}``, the
        same in lists, in SSE and on Redis."""
        return cls(
            id=f"{event.run_id}:{event.seq}",
            seq=event.seq,
            run_id=event.run_id,
            type=event.type,
            at=event.at,
            data=event.data,
        )
