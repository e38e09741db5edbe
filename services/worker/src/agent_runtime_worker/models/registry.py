"""Resolve an agent version's model string to a pydantic-ai model.

Runs twice per model request: in the workflow at run setup (where it must do no I/O and read no
settings, so credentials are placeholders there) and inside the model-request activity, where it
builds the real client from the worker's settings. Provider SDK retries are off: Temporal's retry
policy is the only retry loop.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, ModelResolutionContext
from temporalio import workflow

from agent_runtime_core.catalog import model_name_problem
from agent_runtime_worker.models.governed import GovernedModel
from agent_runtime_worker.models.scripted import build_scripted_model

WORKFLOW_PLACEHOLDER_KEY = "not-used-in-workflow-code"


def _credentials() -> tuple[str | None, str | None, str | None, str | None, float]:
    """(openai key, anthropic key, openai-compatible base URL, its key, timeout) of this worker."""
    if workflow.in_workflow():
        return (
            WORKFLOW_PLACEHOLDER_KEY,
            WORKFLOW_PLACEHOLDER_KEY,
            "http://placeholder.invalid/v1",
            WORKFLOW_PLACEHOLDER_KEY,
            60.0,
        )
    from agent_runtime_worker.runtime import resources

    settings = resources().settings

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return (
        secret(settings.openai_api_key),
        secret(settings.anthropic_api_key),
        settings.openai_base_url,
        secret(settings.openai_compatible_api_key),
        settings.model_request_timeout_s,
    )


def resolve_model(ctx: ModelResolutionContext[Any], model_id: str) -> Model | None:
    """Build the model named ``model_id`` (``provider:name``), wrapped in :class:`GovernedModel`
    (budgets, usage and cost); ``None`` lets pydantic-ai try."""
    problem = model_name_problem(model_id)
    if problem:
        raise UserError(problem)
    provider, _, name = model_id.partition(":")
    model = _provider_model(provider, name)
    return GovernedModel(model, provider=provider, model_id_name=name) if model is not None else None


def _provider_model(provider: str, name: str) -> Model | None:
    if provider == "builtin":
        return build_scripted_model()
    openai_key, anthropic_key, base_url, compatible_key, timeout = _credentials()
    if provider == "openai":
        if not openai_key:
            raise UserError("model 'openai:…' needs AGENT_RUNTIME_OPENAI_API_KEY on the worker")
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        client = AsyncOpenAI(api_key=openai_key, max_retries=0, timeout=timeout)
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
    if provider == "openai-compatible":
        if not base_url:
            raise UserError("model 'openai-compatible:…' needs AGENT_RUNTIME_OPENAI_BASE_URL on the worker")
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        client = AsyncOpenAI(
            base_url=base_url, api_key=compatible_key or "none", max_retries=0, timeout=timeout
        )
        return OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
    if provider == "anthropic":
        if not anthropic_key:
            raise UserError("model 'anthropic:…' needs AGENT_RUNTIME_ANTHROPIC_API_KEY on the worker")
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        client = AsyncAnthropic(api_key=anthropic_key, max_retries=0, timeout=timeout)
        return AnthropicModel(name, provider=AnthropicProvider(anthropic_client=client))
    return None
