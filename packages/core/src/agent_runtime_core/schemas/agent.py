"""Agents and agent versions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent_runtime_core.catalog import BUILTIN_TOOL_NAMES, RETIRED_TOOLS, model_name_problem
from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import Agent, AgentVersion

_Stored = TypeVar("_Stored", bound=BaseModel)


def _read_stored(model: type[_Stored], stored: Mapping[str, Any]) -> _Stored:
    """Read a stored JSON object leniently: keys this build does not know are ignored and nothing
    is re-checked, so a row written by an older or newer API is always shown (never a 500).
    Stored values were validated when they were written."""
    known = {key: value for key, value in stored.items() if key in model.model_fields}
    return model.model_construct(**known)


AgentName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$",
        description="Unique per tenant among live agents; letters, digits, space, _ . -",
        examples=["support-bot"],
    ),
]
ModelName = Annotated[
    str,
    Field(
        min_length=3,
        max_length=200,
        description=(
            "`provider:model`, e.g. `openai:gpt-4o`, `anthropic:claude-sonnet-4-5`, "
            "`openai-compatible:llama3.1` (server at AGENT_RUNTIME_OPENAI_BASE_URL) or the "
            "offline `builtin:scripted`."
        ),
        examples=["builtin:scripted"],
    ),
]


def _check_model_name(value: str) -> str:
    problem = model_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class ToolSpec(StrictInput):
    """A built-in tool the agent may call."""

    name: str = Field(description="One of: " + ", ".join(BUILTIN_TOOL_NAMES), examples=["calculator"])
    requires_approval: bool = Field(
        default=False, description="Pause the run for a human decision before the tool runs."
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="Tool-specific settings.")

    @field_validator("name")
    @classmethod
    def _known_tool(cls, value: str) -> str:
        if value in RETIRED_TOOLS:
            raise ValueError(f"tool '{value}' was retired: {RETIRED_TOOLS[value]}")
        if value not in BUILTIN_TOOL_NAMES:
            raise ValueError(f"unknown tool '{value}'; available tools: " + ", ".join(BUILTIN_TOOL_NAMES))
        return value


class ModelSettings(StrictInput):
    """Sampling settings passed to the model."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)


class Limits(StrictInput):
    """Per-run limits. A run that exceeds one ends ``failed`` (or ``timed_out`` for time)."""

    max_requests: int = Field(default=50, ge=1, le=10_000, description="Model requests per run.")
    max_total_tokens: int | None = Field(
        default=None, ge=1, le=100_000_000, description="Input + output tokens per run."
    )
    run_timeout_s: int = Field(
        default=3600, ge=1, le=30 * 24 * 3600, description="Wall-clock limit of a run, seconds."
    )
    approval_timeout_s: int = Field(
        default=24 * 3600,
        ge=1,
        le=30 * 24 * 3600,
        description="How long an approval (or a question to a human) may wait, seconds.",
    )
    on_approval_timeout: Literal["reject", "fail"] = Field(
        default="reject",
        description=(
            "When nobody answers in time: `reject` tells the model the call was rejected (or the "
            "question unanswered) and the run goes on; `fail` ends the run `failed`."
        ),
    )


class AgentVersionCreate(StrictInput):
    """A new immutable version of an agent."""

    model: ModelName
    fallback_models: list[ModelName] = Field(default_factory=list, max_length=5)
    instructions: str = Field(default="", max_length=100_000)
    tools: list[ToolSpec] = Field(default_factory=list[ToolSpec], max_length=64)
    model_settings: ModelSettings = Field(default_factory=ModelSettings)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("model")
    @classmethod
    def _model_known(cls, value: str) -> str:
        return _check_model_name(value)

    @field_validator("fallback_models")
    @classmethod
    def _fallbacks_known(cls, value: list[str]) -> list[str]:
        for model in value:
            _check_model_name(model)
        if len(set(value)) != len(value):
            raise ValueError("fallback_models must not repeat a model")
        return value

    @model_validator(mode="after")
    def _tools_unique(self) -> Self:
        names = [tool.name for tool in self.tools]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError("tools must not repeat a name: " + ", ".join(duplicates))
        return self


class AgentCreate(StrictInput):
    """A new agent, optionally with its first version in the same call."""

    name: AgentName
    description: str = Field(default="", max_length=2000)
    version: AgentVersionCreate | None = Field(
        default=None, description="If given, version 1 is created with the agent."
    )


class AgentUpdate(StrictInput):
    """Change an agent's name or description (behaviour changes are new versions)."""

    name: AgentName | None = None
    description: str | None = Field(default=None, max_length=2000)


class ToolPublic(BaseModel):
    """A tool of a stored version, as it was configured."""

    name: str = Field(examples=["calculator"])
    requires_approval: bool = Field(
        default=False, description="The run pauses for a human decision before the tool runs."
    )
    settings: dict[str, Any] = Field(default_factory=dict[str, Any], description="Tool-specific settings.")
    available: bool = Field(
        default=True,
        description=(
            "False when the tool has been retired from the catalog since this version was "
            "created: runs of this version get a tool error if the model calls it. New versions "
            "cannot name it (422)."
        ),
    )

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> ToolPublic:
        """A tool as a version row stores it (``ToolSpec`` dumped as JSON), read leniently."""
        name = str(stored.get("name", ""))
        settings = stored.get("settings")
        return cls(
            name=name,
            requires_approval=bool(stored.get("requires_approval", False)),
            settings=dict(settings) if isinstance(settings, Mapping) else {},  # pyright: ignore[reportUnknownArgumentType]
            available=name in BUILTIN_TOOL_NAMES,
        )


class AgentPublic(BaseModel):
    """An agent."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["agt_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    name: str
    description: str
    latest_version: int | None = Field(description="Newest version number; null before the first.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, agent: Agent) -> AgentPublic:
        """An agent as the API shows it."""
        return cls(
            id=agent.id,
            name=agent.name,
            description=agent.description,
            latest_version=agent.latest_version or None,
            created_at=agent.created_at,
            updated_at=agent.updated_at,
        )


class AgentVersionPublic(BaseModel):
    """An immutable agent version."""

    model_config = ConfigDict(from_attributes=True)

    agent_id: str
    version: int
    model: str
    fallback_models: list[str]
    instructions: str
    tools: list[ToolPublic]
    model_settings: ModelSettings
    limits: Limits
    created_at: datetime

    @classmethod
    def from_row(cls, version: AgentVersion) -> AgentVersionPublic:
        """A stored version as the API shows it, read leniently (see :func:`_read_stored`): a
        tool retired since is shown with ``available: false``, a setting this build does not
        know is left out."""
        return cls(
            agent_id=version.agent_id,
            version=version.version,
            model=version.model,
            fallback_models=list(version.fallback_models),
            instructions=version.instructions,
            tools=[ToolPublic.from_stored(tool) for tool in version.tools],
            model_settings=_read_stored(ModelSettings, version.model_settings),
            limits=_read_stored(Limits, version.limits),
            created_at=version.created_at,
        )
