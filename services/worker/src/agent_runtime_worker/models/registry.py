"""Build a pydantic-ai model from an agent version's model string (pure: no I/O, no settings).

A model is built twice per model request: in the workflow at run setup, where it must do no I/O
and read no settings (:func:`resolve_model`, credentials are placeholders), and inside the
model-request activity, where :class:`~agent_runtime_worker.models.governed.ModelResolver` builds
it with :func:`build_model` from the worker's settings and wraps it in a ``GovernedModel``. This
module is the shared, workflow-safe part. Provider SDK retries are off: Temporal's retry policy
is the only retry loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic_ai.exceptions import UserError
from pydantic_ai.models import Model, ModelResolutionContext
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from agent_runtime_core.catalog import model_name_problem
from agent_runtime_worker.models.scripted import build_scripted_model

# Provider SDKs are imported with this module (at worker start, and when a replayer loads the
# workflow): their first import inside a workflow (model resolution runs there, for the primary
# model and for each fallback model) takes seconds and would trip Temporal's deadlock detector.

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


WORKFLOW_PROVIDER_SETTINGS = ProviderSettings(
    openai_key=WORKFLOW_PLACEHOLDER_KEY,
    openai_base_url=None,
    anthropic_key=WORKFLOW_PLACEHOLDER_KEY,
    anthropic_base_url=None,
    compatible_base_url="http://placeholder.invalid/v1",
    compatible_key=WORKFLOW_PLACEHOLDER_KEY,
    timeout_s=60.0,
)


class ModelEndpoint(NamedTuple):
    """Where a built model sends its requests (its circuit breaker's key)."""

    provider: str
    base_url: str


def resolve_model(ctx: ModelResolutionContext[Any], model_id: str) -> Model | None:
    """Workflow-side resolution: the bare model named ``model_id``, with placeholder credentials
    (the workflow only needs its name and profile); ``None`` lets pydantic-ai try."""
    return build_model(model_id, WORKFLOW_PROVIDER_SETTINGS)[0]


def build_model(model_id: str, config: ProviderSettings) -> tuple[Model | None, ModelEndpoint | None]:
    """The model named ``model_id`` (``provider:name``) built with ``config``, and its endpoint
    (``None`` for the built-in model); ``(None, None)`` for a provider we do not build."""
    problem = model_name_problem(model_id)
    if problem:
        raise UserError(problem)
    provider, _, name = model_id.partition(":")
    if provider == "builtin":
        return build_scripted_model(), None
    if provider == "openai":
        if not config.openai_key:
            raise UserError("model 'openai:…' needs AGENT_RUNTIME_OPENAI_API_KEY on the worker")
        base_url = config.openai_base_url or DEFAULT_OPENAI_BASE_URL
        client = AsyncOpenAI(
            api_key=config.openai_key, base_url=base_url, max_retries=0, timeout=config.timeout_s
        )
        model = OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
        return model, ModelEndpoint("openai", base_url)
    if provider == "openai-compatible":
        if not config.compatible_base_url:
            raise UserError("model 'openai-compatible:…' needs AGENT_RUNTIME_OPENAI_BASE_URL on the worker")
        client = AsyncOpenAI(
            base_url=config.compatible_base_url,
            api_key=config.compatible_key or "none",
            max_retries=0,
            timeout=config.timeout_s,
        )
        model = OpenAIChatModel(name, provider=OpenAIProvider(openai_client=client))
        return model, ModelEndpoint("openai-compatible", config.compatible_base_url)
    if provider == "anthropic":
        if not config.anthropic_key:
            raise UserError("model 'anthropic:…' needs AGENT_RUNTIME_ANTHROPIC_API_KEY on the worker")
        base_url = config.anthropic_base_url or DEFAULT_ANTHROPIC_BASE_URL
        client = AsyncAnthropic(
            api_key=config.anthropic_key, base_url=base_url, max_retries=0, timeout=config.timeout_s
        )
        model = AnthropicModel(name, provider=AnthropicProvider(anthropic_client=client))
        return model, ModelEndpoint("anthropic", base_url)
    return None, None
