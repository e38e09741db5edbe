"""Which model errors are retried, which fall over to the next model, and how a fallover is recorded.

Used on both sides of the activity boundary, so everything here is pure (no I/O, no settings):

* inside the model activity, :func:`is_retryable` decides whether Temporal retries a failed
  request (and whether it counts against the endpoint's circuit breaker);
* in the workflow, :class:`RecordingModelFallback` (pydantic-ai's ``ModelFallback`` capability)
  moves a request step to the next model when :func:`falls_over` says so, and notes the move in
  the run's deps; the next model activity writes it as a ``model.fallback`` event.

Semantics (README "Model providers and fallback"):

* Retryable (Temporal retries the request, then it falls over): 429, 5xx, 529, timeouts and
  connection errors.
* Non-retryable but falls over at once: 401/403 (credentials belong to one provider), 404 (that
  provider does not have the model), context window exceeded (the next model may have a larger
  one), exhausted quota or billing, and a breaker that is open (no request is sent).
* Non-retryable and fails the run: 400/422 "bad request". The request itself was refused
  (invalid parameters, tool schema, content): sending it to another provider most likely fails
  the same way and only multiplies cost and latency, so the run fails at once with the
  provider's message.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel
from pydantic_ai import RunContext
from pydantic_ai.capabilities import AbstractCapability, CapabilityOrdering, ModelFallback
from pydantic_ai.exceptions import (
    FallbackExceptionGroup,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelServerError,
    ModelUnavailableError,
    RetryModelRequest,
)
from pydantic_ai.messages import ModelResponse
from pydantic_ai.models import ModelRequestContext

CIRCUIT_OPEN_CODE: Final = "circuit_open"
"""``provider_error_code`` of the error a request gets when its endpoint's breaker is open."""


class ModelFallbackNote(BaseModel):
    """One fallover, carried in the run's deps to the next model activity (which records it)."""

    step: int
    from_model: str
    to_model: str
    error: str


def is_retryable(error: ModelAPIError) -> bool:
    """Whether another attempt at the same model may succeed (Temporal retries it)."""
    if isinstance(error, ModelRequestRejectedError | ModelQuotaExceededError | ModelRequestTimeout):
        return False
    if error.provider_error_code == CIRCUIT_OPEN_CODE:
        return False
    if isinstance(
        error, ModelRateLimitError | ModelUnavailableError | ModelServerError | ModelConnectionError
    ):
        return True
    if isinstance(error, ModelHTTPError):
        return error.status_code >= 500 or error.status_code in (408, 409, 429)
    return True


def falls_over(error: Exception) -> bool:
    """Whether a request that failed for good with ``error`` moves on to the next model."""
    if not isinstance(error, ModelAPIError):
        return False
    if isinstance(error, ModelAuthenticationError | ModelNotFoundError | ModelContextWindowExceededError):
        return True
    # A plain 400/422: the request itself is wrong; see the module docstring.
    return not isinstance(error, ModelRequestRejectedError)


def _provider_message(body: object) -> str | None:
    if isinstance(body, dict):
        fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        nested = fields.get("error")
        if isinstance(nested, dict):
            return _provider_message(nested)  # pyright: ignore[reportUnknownArgumentType]
        message = fields.get("message")
        if isinstance(message, str):
            return message
    return None


def describe_model_error(error: BaseException) -> str:
    """A one-line description for run errors and ``model.fallback`` events."""
    if isinstance(error, FallbackExceptionGroup):
        return "every model failed: " + "; ".join(describe_model_error(e) for e in error.exceptions)
    if not isinstance(error, ModelAPIError):
        return str(error)
    if error.provider_error_code == CIRCUIT_OPEN_CODE:
        return f"model '{error.model_name}': {error.message}"
    message = _provider_message(error.body) or error.message
    if isinstance(error, ModelHTTPError):
        return f"model '{error.model_name}' answered HTTP {error.status_code}: {message}"
    return f"model '{error.model_name}' failed ({type(error).__name__}): {message}"


class RecordingModelFallback(ModelFallback[Any]):
    """pydantic-ai's ``ModelFallback`` (run in workflow code) that notes each fallover in the run's
    deps (``model_fallbacks``), so the next model activity records a ``model.fallback`` event."""

    def __init__(self, *models: str) -> None:
        """Fall over to ``models``, in order, on the errors :func:`falls_over` accepts."""
        super().__init__(*models, fallback_on=falls_over)

    async def on_model_request_error(
        self,
        ctx: RunContext[Any],
        *,
        request_context: ModelRequestContext,
        error: Exception,
    ) -> ModelResponse:
        """Move on (or give up) as ``ModelFallback`` does, noting where the request went."""
        try:
            return await super().on_model_request_error(ctx, request_context=request_context, error=error)
        except RetryModelRequest as retry:
            notes: list[ModelFallbackNote] | None = getattr(ctx.deps, "model_fallbacks", None)
            if notes is not None and isinstance(retry.model, str):
                notes.append(
                    ModelFallbackNote(
                        step=ctx.run_step,
                        from_model=request_context.model_id or request_context.model.model_name,
                        to_model=retry.model,
                        error=describe_model_error(error),
                    )
                )
            raise


class FallbackFromDeps(AbstractCapability[Any]):
    """Attached at agent construction (durable execution refuses per-run capabilities): each run
    becomes a :class:`RecordingModelFallback` over its deps' ``fallback_models``, or does nothing
    when there are none. Runs in workflow code; deterministic given the deps."""

    def get_ordering(self) -> CapabilityOrdering:
        """Innermost, like ``ModelFallback`` (a rejected attempt is judged before other hooks)."""
        return CapabilityOrdering(position="innermost")

    async def for_run(self, ctx: RunContext[Any]) -> AbstractCapability[Any]:
        """This run's fallback chain (a fresh ``ModelFallback``), if its version has one."""
        models: list[str] = list(getattr(ctx.deps, "fallback_models", None) or [])
        if not models or ctx.agent is None:
            return self
        return await RecordingModelFallback(*models).for_agent(ctx.agent).for_run(ctx)
