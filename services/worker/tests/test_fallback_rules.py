"""Which model errors are retried and which fall over (README "Model providers and fallback")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_ai.exceptions import (
    FallbackExceptionGroup,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelOverloadedError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelServerError,
    ModelTimeoutError,
    ModelUnavailableError,
)

from agent_runtime_core.settings import Settings
from agent_runtime_worker.models.fallback import (
    CIRCUIT_OPEN_CODE,
    describe_model_error,
    falls_over,
    is_retryable,
)
from agent_runtime_worker.models.governed import retry_delay_s

CATEGORIES: dict[int, type[ModelAPIError]] = {
    400: ModelRequestRejectedError,
    401: ModelAuthenticationError,
    402: ModelQuotaExceededError,
    403: ModelAuthenticationError,
    404: ModelNotFoundError,
    422: ModelRequestRejectedError,
    429: ModelRateLimitError,
    500: ModelServerError,
    502: ModelServerError,
    503: ModelUnavailableError,
    529: ModelOverloadedError,
}


def http(status: int) -> ModelAPIError:
    """The error pydantic-ai's providers raise for ``status`` (category and ``ModelHTTPError``)."""
    return ModelHTTPError.for_category(
        CATEGORIES[status],  # pyright: ignore[reportArgumentType]
        status_code=status,
        model_name="m",
        body={"message": f"status {status}"},
    )


@pytest.mark.parametrize(
    ("error", "retried", "falls"),
    [
        (http(429), True, True),
        (http(500), True, True),
        (http(502), True, True),
        (http(503), True, True),
        (http(529), True, True),
        (ModelTimeoutError("m", "timed out"), True, True),
        (ModelConnectionError("m", "refused"), True, True),
        (http(401), False, True),
        (http(403), False, True),
        (http(404), False, True),
        (http(402), False, True),
        (http(400), False, False),
        (http(422), False, False),
        (ModelUnavailableError("m", "open", provider_error_code=CIRCUIT_OPEN_CODE), False, True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_retry_and_fallover_rules(error: ModelAPIError, retried: bool, falls: bool) -> None:
    assert (is_retryable(error), falls_over(error)) == (retried, falls)


def test_other_errors_never_fall_over() -> None:
    assert not falls_over(ValueError("a bug"))


def test_descriptions_name_the_status_and_the_provider_message() -> None:
    assert describe_model_error(http(401)) == "model 'm' answered HTTP 401: status 401"
    group = FallbackExceptionGroup("all failed", [http(500), http(503)])
    assert describe_model_error(group) == (
        "every model failed: model 'm' answered HTTP 500: status 500; model 'm' answered HTTP 503: status 503"
    )


@given(
    attempt=st.integers(min_value=1, max_value=10),
    retry_after=st.none() | st.floats(min_value=0, max_value=1000),
    initial=st.floats(min_value=0.01, max_value=5),
    backoff=st.floats(min_value=1, max_value=3),
    maximum=st.floats(min_value=0.01, max_value=60),
)
def test_retry_delay_is_bounded_and_honours_retry_after(
    attempt: int, retry_after: float | None, initial: float, backoff: float, maximum: float
) -> None:
    settings = Settings(
        model_retry_initial_interval_s=initial,
        model_retry_backoff=backoff,
        model_retry_max_interval_s=maximum,
    )
    delay = retry_delay_s(attempt, retry_after, settings)
    assert delay <= maximum
    assert delay >= min(maximum, initial * backoff ** (attempt - 1))
    if retry_after is not None:
        assert delay >= min(retry_after, maximum)
