"""Resolve an agent version's model string to a pydantic-ai model.

Runs twice per model request: in the workflow at run setup (where it must do no I/O and read no
settings, so credentials are placeholders there) and inside the model-request activity, where it
builds the real client from the worker's settings. Provider SDK retries are off: Temporal's retry
policy is the only retry loop.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, ModelResolutionContext
from temporalio import workflow

from agent_runtime_core.breakers import ProviderEndpoint
from agent_runtime_core.catalog import model_name_problem
from agent_runtime_worker.models.scripted import build_scripted_model

# Import provider SDKs with this module (at worker start, and when a replayer loads the workflow):
# their first import inside a workflow (model resolution runs there, for the primary model and for
# each fallback model) takes seconds and would trip Temporal's deadlock detector.
for _module in (
    "pydantic_ai.models.openai",
    "pydantic_ai.providers.openai",
    "pydantic_ai.models.anthropic",
    "pydantic_ai.providers.anthropic",
):
    importlib.import_module(_module)

WORKFLOW_PLACEHOLDER_KEY = "not-used-in-workflow-code"


DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"


@dataclass(frozen=True)
class ProviderSettings:
    """What model resolution needs from the worker's settings."""

    openai_key: str | None
    openai_base_url: str | None
    anthropic_key: str | None
    anthropic_base_url: str | None
    compatible_base_url: str | None
    compatible_key: str | None
    timeout_s: float


_WORKFLOW_SETTINGS = ProviderSettings(
    openai_key=WORKFLOW_PLACEHOLDER_KEY,
    openai_base_url=None,
    anthropic_key=WORKFLOW_PLACEHOLDER_KEY,
    anthropic_base_url=None,
    compatible_base_url="http://placeholder.invalid/v1",
    compatible_key=WORKFLOW_PLACEHOLDER_KEY,
    timeout_s=60.0,
)


def _provider_settings() -> ProviderSettings:
    """Placeholders in workflow code; this worker's credentials and base URLs in an activity."""
    if workflow.in_workflow():
        return _WORKFLOW_SETTINGS
    from agent_runtime_worker.runtime import resources

    settings = resources().settings

    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    return ProviderSettings(
        openai_key=secret(settings.openai_api_key),
        openai_base_url=settings.openai_api_base_url,
        anthropic_key=secret(settings.anthropic_api_key),
        anthropic_base_url=settings.anthropic_base_url,
        compatible_base_url=settings.openai_base_url,
        compatible_key=secret(settings.openai_compatible_api_key),
        timeout_s=settings.model_request_timeout_s,
    )


def resolve_model(ctx: ModelResolutionContext[Any], model_id: str) -> Model | None:
    """Build the model named ``model_id`` (``provider:name``); ``None`` lets pydantic-ai try.

    Inside an activity the model is wrapped in a :class:`GovernedModel` (circuit breaker of its
    provider endpoint, retry decisions, bookkeeping); workflow code gets the bare model.
    """
    model, endpoint = _build_model(model_id)
    if model is None or workflow.in_workflow():
        return model
    from agent_runtime_worker.models.governed import GovernedModel

    return GovernedModel(model, model_ref=model_id, endpoint=endpoint)


def _build_model(model_id: str) -> tuple[Model | None, ProviderEndpoint | None]:
    problem = model_name_problem(model_id)
    if problem:
        raise UserError(problem)
    provider, _, name = model_id.partition(":")
    if provider == "builtin":
        return build_scripted_model(), None
    config = _provider_settings()
    if provider == "openai":
        if not config.openai_key:
            raise UserError("model 'openai:…' needs AGENT_RUNTIME_OPENAI_API_KEY on the worker")
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        base_url = config.openai_base_url or DEFAULT_OPENAI_BASE_URL
        client = AsyncOpenAI(
            api_key=config.openai_key, base_url=base_url, max_retries=0, timeout=config.timeout_s
        )
        model = OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
        return model, ProviderEndpoint("openai", base_url)
    if provider == "openai-compatible":
        if not config.compatible_base_url:
            raise UserError("model 'openai-compatible:…' needs AGENT_RUNTIME_OPENAI_BASE_URL on the worker")
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        client = AsyncOpenAI(
            base_url=config.compatible_base_url,
            api_key=config.compatible_key or "none",
            max_retries=0,
            timeout=config.timeout_s,
        )
        model = OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
        return model, ProviderEndpoint("openai-compatible", config.compatible_base_url)
    if provider == "anthropic":
        if not config.anthropic_key:
            raise UserError("model 'anthropic:…' needs AGENT_RUNTIME_ANTHROPIC_API_KEY on the worker")
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        base_url = config.anthropic_base_url or DEFAULT_ANTHROPIC_BASE_URL
        client = AsyncAnthropic(
            api_key=config.anthropic_key, base_url=base_url, max_retries=0, timeout=config.timeout_s
        )
        model = AnthropicModel(name, provider=AnthropicProvider(anthropic_client=client))
        return model, ProviderEndpoint("anthropic", base_url)
    return None, None
