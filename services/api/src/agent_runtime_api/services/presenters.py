"""Turn table rows into public resources."""

from __future__ import annotations

from agent_runtime_core.event_bus import run_event_envelope
from agent_runtime_core.models import Agent, AgentVersion, ApiKey, HumanRequest, Run, RunEvent
from agent_runtime_core.schemas import (
    AgentPublic,
    AgentVersionPublic,
    ApiKeyCreated,
    ApiKeyPublic,
    ApprovalPublic,
    InputRequestPublic,
    Limits,
    ModelSettings,
    RunError,
    RunEventPublic,
    RunPublic,
    RunUsage,
    ToolSpec,
)


def agent_public(agent: Agent) -> AgentPublic:
    """An agent as the API shows it."""
    return AgentPublic(
        id=agent.id,
        name=agent.name,
        description=agent.description,
        latest_version=agent.latest_version or None,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def agent_version_public(version: AgentVersion) -> AgentVersionPublic:
    """An agent version as the API shows it."""
    return AgentVersionPublic(
        agent_id=version.agent_id,
        version=version.version,
        model=version.model,
        fallback_models=list(version.fallback_models),
        instructions=version.instructions,
        tools=[ToolSpec.model_validate(tool) for tool in version.tools],
        model_settings=ModelSettings.model_validate(version.model_settings),
        limits=Limits.model_validate(version.limits),
        created_at=version.created_at,
    )


def run_public(run: Run, temporal_ui_url: str | None = None, trace_url: str | None = None) -> RunPublic:
    """A run as the API shows it."""
    return RunPublic(
        id=run.id,
        agent_id=run.agent_id,
        agent_version=run.agent_version,
        status=run.status,
        input=run.input,
        output=run.output,
        error=RunError.model_validate(run.error) if run.error else None,
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
    )


def run_event_public(event: RunEvent) -> RunEventPublic:
    """A run event in its envelope (the same one the live streams send)."""
    return run_event_envelope(event)


def approval_public(request: HumanRequest) -> ApprovalPublic:
    """An approval as the API shows it."""
    return ApprovalPublic(
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


def input_request_public(request: HumanRequest) -> InputRequestPublic:
    """A question to a human as the API shows it."""
    return InputRequestPublic(
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


def api_key_public(key: ApiKey) -> ApiKeyPublic:
    """An API key as lists show it: never its secret or hash."""
    return ApiKeyPublic.model_validate(key, from_attributes=True)


def api_key_created(key: ApiKey, token: str) -> ApiKeyCreated:
    """A new API key with its token (the only time the token is shown)."""
    return ApiKeyCreated(**api_key_public(key).model_dump(), key=token)
