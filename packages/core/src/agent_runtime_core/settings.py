"""Settings for every Agent Runtime process, read from the environment (prefix ``AGENT_RUNTIME_``).

One flat model keeps the variable names guessable: ``AGENT_RUNTIME_DATABASE_URL``,
``AGENT_RUNTIME_TEMPORAL_ADDRESS`` and so on. ``DATABASE_URL`` is accepted as well, as most
platforms set it. Secrets are ``SecretStr`` so they never show up in logs or reprs.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TENANT_ID = "ten_default"
"""The single tenant every row belongs to until authentication assigns real tenants."""


def normalize_database_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver selected for SQLAlchemy.

    Users paste ``postgres://`` or ``postgresql://`` URLs; SQLAlchemy would pick psycopg2 for
    those, which we do not ship.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Configuration shared by the API, the worker and the CLI."""

    model_config = SettingsConfigDict(
        env_prefix="AGENT_RUNTIME_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        default="postgresql+psycopg://postgres@127.0.0.1:5432/agent_runtime",
        validation_alias=AliasChoices("AGENT_RUNTIME_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL of the Postgres database (postgres:// URLs are accepted).",
    )
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_echo: bool = False

    redis_url: str | None = Field(
        default="redis://127.0.0.1:6379/0",
        description=(
            "Redis (or Valkey) for live event fan-out. Optional: without it, streams read "
            "Postgres only (slower). Empty disables it."
        ),
    )
    event_stream_maxlen: int = Field(
        default=10_000, ge=100, description="Approximate length cap of each Redis event stream."
    )

    temporal_address: str = Field(default="127.0.0.1:7233", description="host:port of Temporal.")
    temporal_namespace: str = "default"
    temporal_task_queue: str = Field(
        default="agent-runtime",
        description="Task queue the worker polls and the API starts runs on.",
    )
    temporal_ui_url: str | None = Field(
        default=None, description="Base URL of the Temporal Web UI, used to link runs."
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_public_url: str | None = Field(
        default=None, description="URL clients use to reach the API (for links and docs)."
    )

    # Model providers. pydantic-ai reads OPENAI_API_KEY / ANTHROPIC_API_KEY too; these win.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = Field(
        default=None,
        description="Base URL for `openai-compatible:` models (Ollama, vLLM, ...).",
    )
    openai_compatible_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    model_request_timeout_s: float = Field(default=120.0, gt=0)

    # Built-in tools.
    http_get_allow_private_networks: bool = Field(
        default=False,
        description="Let the http_get tool reach private, loopback and link-local addresses.",
    )
    http_get_max_bytes: int = Field(default=1_000_000, ge=1)
    http_get_timeout_s: float = Field(default=10.0, gt=0)

    # Worker tuning (measured: a ~1 s sticky timeout plus heartbeats cut crash recovery to ~4 s).
    worker_sticky_queue_timeout_s: float = Field(default=1.0, gt=0)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=1)

    # Model providers: base URLs, retries and circuit breakers (see README "Model providers and
    # fallback"). Base URLs point the real `openai:` / `anthropic:` providers at a proxy or a
    # test server.
    openai_api_base_url: str | None = Field(
        default=None, description="Base URL of the `openai:` provider (default: OpenAI's API)."
    )
    anthropic_base_url: str | None = Field(
        default=None, description="Base URL of the `anthropic:` provider (default: Anthropic's API)."
    )
    model_retry_max_attempts: int = Field(
        default=5,
        ge=1,
        le=10,
        description="Attempts of a model request on retryable errors before falling over (at most 10).",
    )
    model_retry_initial_interval_s: float = Field(default=1.0, gt=0, description="First retry delay.")
    model_retry_backoff: float = Field(default=2.0, ge=1, description="Retry delay multiplier.")
    model_retry_max_interval_s: float = Field(
        default=30.0, gt=0, description="Longest retry delay, also the cap on a provider's Retry-After."
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Retryable failures within the window that open a breaker."
    )
    breaker_window_s: float = Field(default=60.0, gt=0, description="Window the failures are counted in.")
    breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="Time a breaker stays open before one probe request."
    )
    breaker_probe_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="How long a half-open probe may take before another worker may probe "
        "(default: the model request timeout plus 10 s).",
    )

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        return normalize_database_url(value)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
