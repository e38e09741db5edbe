"""Settings for every Agent Runtime process, read from the environment (prefix ``AGENT_RUNTIME_``).

One flat model keeps the variable names guessable: ``AGENT_RUNTIME_DATABASE_URL``,
``AGENT_RUNTIME_TEMPORAL_ADDRESS`` and so on. ``DATABASE_URL`` is accepted as well, as most
platforms set it. Secrets are ``SecretStr`` so they never show up in logs or reprs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Final, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TENANT_ID = "ten_default"
"""The tenant of the local dev stack (`agent-runtime dev` prints an admin API key of it)."""

DEFAULT_ARTIFACT_CONTENT_TYPES: Final = (
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "application/x-ndjson",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/octet-stream",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
)
"""Media types artifacts may have by default: documents, data, images, audio and video. Left out:
what a browser would render and run from the API's origin (HTML, SVG, XML, JavaScript)."""


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
    database_password: SecretStr | None = Field(
        default=None,
        description="Password put into database_url (replacing one it holds), so the URL can be "
        "plain configuration while the password comes from a secret store (e.g. the "
        "`password` key of an RDS-managed Secrets Manager secret).",
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
    # Connection security: Temporal Cloud (mTLS or an API key) or a self-hosted cluster with TLS.
    temporal_tls: bool = Field(
        default=False,
        description="Connect to Temporal over TLS (on by itself when an API key or a client "
        "certificate is set).",
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="Temporal Cloud API key (sent as a bearer token; implies TLS)."
    )
    temporal_tls_client_cert: SecretStr | None = Field(
        default=None,
        description="PEM client certificate (chain) for mTLS, e.g. a Temporal Cloud namespace's; "
        "needs temporal_tls_client_key.",
    )
    temporal_tls_client_key: SecretStr | None = Field(
        default=None, description="PEM private key of temporal_tls_client_cert."
    )
    temporal_tls_server_ca_cert: SecretStr | None = Field(
        default=None,
        description="PEM CA certificate(s) to verify the server with, instead of the system's "
        "(a self-hosted cluster with its own CA).",
    )
    temporal_tls_server_name: str | None = Field(
        default=None, description="Server name to verify the server's certificate for (SNI)."
    )

    # Temporal payloads (agent_runtime_core.temporal.data_converter): the API and the workers MUST
    # share these settings, as each side reads what the other wrote.
    temporal_payload_offload: bool = Field(
        default=True,
        description=(
            "Store Temporal payloads of `temporal_payload_offload_threshold_bytes` or more in the "
            "payload bucket (Temporal's external storage; the history keeps a reference), so runs "
            "may carry more than Temporal's 2 MB per payload and 50 MB per history. Needs a bucket "
            "(`temporal_payload_bucket` or `s3_bucket`). Off: nothing new is offloaded, but "
            "references written before are still read (the bucket stays configured)."
        ),
    )
    temporal_payload_offload_threshold_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        le=2 * 1024 * 1024,
        description=(
            "Payloads of this size or more (bytes, after encryption) go to the bucket; smaller ones "
            "stay in the history. At most 2 MiB, Temporal's own limit per payload."
        ),
    )
    temporal_payload_bucket: str | None = Field(
        default=None,
        min_length=3,
        max_length=63,
        description=(
            "Bucket of offloaded payloads (default: `s3_bucket`), on the same S3 API and with the "
            "same credentials and server-side encryption. Keys: `v0/ns/<namespace>/wt/<workflow "
            "type>/wi/<workflow id>/ri/<run id>/d/sha256/<digest>`. Give it an expiration rule "
            "longer than the longest run plus the namespace's retention; we never delete."
        ),
    )
    temporal_payload_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024 * 1024,
        le=1024 * 1024 * 1024,
        description="Largest payload the workers and the API offload (bytes); a larger one fails "
        "the call that made it. Bounds the memory one payload takes.",
    )
    temporal_payload_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Client-side encryption of every Temporal payload (AES-256-GCM), so the Temporal "
            "server, its database and its UI never hold prompts in clear: key id → base64 of 32 "
            "random bytes, as JSON. Empty: payloads are not encrypted. Keep a retired key here "
            "as long as histories written with it exist (the namespace's retention, plus the "
            "longest run)."
        ),
    )
    temporal_payload_active_key_id: str | None = Field(
        default=None,
        max_length=100,
        description="The key of `temporal_payload_keys` new payloads are encrypted with (required "
        "with keys); its id is written in each payload's metadata.",
    )
    temporal_codec_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list[str],
        description=(
            "Origins of Temporal Web UIs that call the codec endpoint (`/v1/temporal/codec`) from "
            "the browser, comma-separated, e.g. `https://temporal.example.com` (`*` is refused)."
        ),
    )
    temporal_codec_local_dev_access: bool = Field(
        default=False,
        description=(
            "DEVELOPMENT ONLY: let requests from this machine (a loopback client address, no proxy "
            "headers, no foreign Origin) use the codec endpoint without credentials, because the "
            "embedded Temporal UI of `agent-runtime dev` has no sign-in. Never in production."
        ),
    )

    api_port: int = Field(default=8000, ge=1, le=65535)
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list[str],
        description=(
            "Origins of browser apps that call the API directly (CORS), comma-separated, e.g. "
            "`http://localhost:3000` for agent-chat-ui; `*` allows any origin. Credentials travel "
            "in headers (API keys, bearer tokens), never cookies. Empty: no CORS headers (callers "
            "from the same origin, servers, or a gateway that adds them)."
        ),
    )
    run_input_max_chars: int = Field(
        default=2_000_000,
        ge=1,
        le=10_000_000,
        description=(
            "Longest run input (characters), what a large model context holds. Above it, 422 "
            "`input_too_long`. The run-creating routes read bodies up to 4 bytes a character plus "
            "`max_request_body_bytes`; a larger body is a 413. Inputs over "
            "`temporal_payload_offload_threshold_bytes` travel through the payload bucket."
        ),
    )
    max_request_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description=(
            "Largest request body the API reads (bytes); above it, 413. Routes that need more "
            "(uploads) raise it for themselves (`openapi_extra=body_limit(...)` in the API)."
        ),
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
    # The run_python sandbox (docs/sandbox.md): limits of every call, set here and never by the model.
    sandbox_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="Wall-clock limit of one run_python call (sleeping counts)."
    )
    sandbox_cpu_time_s: float = Field(
        default=10.0, gt=0, le=600, description="CPU-time limit of one run_python call."
    )
    sandbox_memory_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=32 * 1024 * 1024,
        le=4 * 1024**3,
        description="Memory limit of one run_python call (the interpreter's linear memory), in bytes.",
    )
    sandbox_max_output_bytes: int = Field(
        default=64_000,
        ge=1_000,
        le=10_000_000,
        description="Bytes kept of each of a run_python call's stdout, stderr and result; the rest is cut.",
    )

    # Tenants' own tools (HTTP tools, MCP servers).
    tools_require_https: bool = Field(
        default=True,
        description=(
            "HTTP tools and MCP servers must use https:// URLs (a version naming http:// gets a "
            "422). `agent-runtime dev` turns it off for local services."
        ),
    )
    tools_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let HTTP tools and MCP servers reach private, loopback and link-local addresses "
            "(cloud metadata endpoints stay blocked). Off: only public hosts."
        ),
    )
    tools_max_timeout_s: float = Field(
        default=120.0, gt=0, description="Longest timeout an HTTP tool or MCP server may declare."
    )
    tools_max_response_bytes: int = Field(
        default=5_000_000, ge=1, description="Largest response an HTTP tool may declare."
    )
    mcp_stdio_servers: dict[str, str] = Field(
        default_factory=dict[str, str],
        description=(
            "MCP servers the operator installed on the workers, started over stdio: name → command "
            'line, as JSON (`{"files": "mcp-server-filesystem /srv/data"}`). A version names one '
            "by its name (`transport: stdio, command: files`); the API never accepts a command line."
        ),
    )
    tool_result_max_chars: int = Field(
        default=20_000,
        ge=100,
        description=(
            "Tool results longer than this (as JSON text) are cut for the model, with a marker "
            "saying how much was left out; the event keeps a preview."
        ),
    )
    tool_result_artifact_bytes: int = Field(
        default=100_000,
        ge=0,
        description=(
            "Tool results larger than this (bytes of JSON text) are stored whole as an artifact of "
            "the run when object storage is configured; the model gets a preview and the artifact's "
            "id (readable with `artifact_read`). 0 turns it off."
        ),
    )

    # Tenants' secrets and signing keys: envelope encryption (agent_runtime_core.crypto). Without
    # a key, the API answers 503 `secrets_not_configured` instead of storing anything in clear.
    secrets_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Local key-encryption keys as a JSON object: key id → base64 of 32 random bytes "
            "(`agent-runtime dev` makes one). Keep retired keys here until every secret was "
            "re-wrapped with the active one."
        ),
    )
    secrets_active_key_id: str | None = Field(
        default=None,
        max_length=100,
        description="The key of `secrets_keys` new secrets are encrypted with (required with keys).",
    )
    secrets_kms_key_id: str | None = Field(
        default=None,
        description=(
            "AWS KMS key (id, ARN or alias) for envelope encryption in production; needs boto3. "
            "Wins over `secrets_keys` for new values; local keys still decrypt older ones."
        ),
    )
    secrets_kms_region: str | None = Field(
        default=None, description="AWS region of the KMS key (default: the AWS configuration's)."
    )

    @model_validator(mode="after")
    def _usable_secrets_keys(self) -> Self:
        # Checked at start-up, so a typo fails the process, not the first secret. Messages name
        # key ids only, never key material.
        from agent_runtime_core.crypto import decode_local_key

        for key_id, key in self.secrets_keys.items():
            if not key_id or len(key_id) > 100:
                raise ValueError("secrets_keys: key ids must be 1 to 100 characters")
            try:
                decode_local_key(key.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"secrets_keys['{key_id}'] is not a valid key: {exc}") from None
        if self.secrets_keys and self.secrets_active_key_id not in self.secrets_keys:
            raise ValueError("secrets_active_key_id must name one of secrets_keys")
        return self

    # Object storage (artifacts' bytes): any S3 API (AWS S3, MinIO, SeaweedFS, ...) through boto3.
    # Without a bucket, artifact calls answer 503 `storage_not_configured`.
    s3_endpoint_url: str | None = Field(
        default=None,
        description="Endpoint of the S3 API the API and workers use (unset: AWS S3 of `s3_region`).",
        examples=["http://127.0.0.1:8333", "http://minio:9000"],
    )
    s3_public_endpoint_url: str | None = Field(
        default=None,
        description=(
            "Endpoint presigned URLs name, when clients reach the storage at another address than "
            "the API does (compose: `http://localhost:9000` for `http://minio:9000`). A presigned "
            "URL is signed for its host, so it must be the clients' (default: `s3_endpoint_url`)."
        ),
    )
    s3_region: str | None = Field(
        default=None, description="Region of the bucket (default: the AWS configuration's, else us-east-1)."
    )
    s3_bucket: str | None = Field(
        default=None,
        min_length=3,
        max_length=63,
        description="Bucket holding every tenant's artifacts (keys start with `tenants/<tenant_id>/`).",
    )
    s3_access_key_id: str | None = Field(
        default=None, description="Access key id (unset: boto3's credential chain, e.g. an IAM role)."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="Secret of the access key.")
    s3_force_path_style: bool = Field(
        default=False,
        description="Address buckets in the path (`http://host/bucket/key`), as MinIO and SeaweedFS "
        "need; off: virtual-hosted style where the server supports it (AWS).",
    )
    s3_sse: Literal["none", "s3", "kms"] = Field(
        default="s3",
        description=(
            "Server-side encryption of every object written: `s3` (SSE-S3, AES256, keys managed by "
            "the storage), `kms` (SSE-KMS with `s3_kms_key_id`) or `none` (only for storage that "
            "encrypts by itself or refuses the header). A storage that cannot encrypt makes writes "
            "fail; it is never skipped silently."
        ),
    )
    s3_kms_key_id: str | None = Field(
        default=None, description="KMS key (id, ARN or alias) of `s3_sse=kms` (required with it)."
    )
    s3_create_bucket: bool = Field(
        default=False,
        description="Create the bucket when it is missing (dev and tests; in production the bucket "
        "is provisioned with its policies and lifecycle rules).",
    )
    s3_presign_ttl_s: int = Field(
        default=900,
        ge=1,
        le=7 * 24 * 3600,
        description="Lifetime of presigned upload and download URLs (seconds; S3 allows at most 7 days).",
    )
    s3_timeout_s: float = Field(default=30.0, gt=0, description="Connect and read timeout of S3 calls.")
    s3_max_concurrency: int = Field(
        default=16, ge=1, le=256, description="S3 calls one process makes at once (threads, connections)."
    )
    artifact_max_upload_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1,
        le=5 * 1024**3,
        description="Largest file `POST /v1/artifacts` accepts in the request (above it, 413); larger "
        "files go straight to the storage with a presigned URL (`POST /v1/artifacts/uploads`).",
    )
    artifact_max_presigned_bytes: int = Field(
        default=5 * 1024**3,
        ge=1,
        le=5 * 1024**3,
        description="Largest file a presigned upload may declare (S3's single PUT holds at most 5 GiB).",
    )
    artifact_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ARTIFACT_CONTENT_TYPES),
        description=(
            "Media types artifacts may have, comma-separated; `type/*` allows a whole type and `*/*` "
            "any. The default leaves out what a browser would run (HTML, SVG, JavaScript)."
        ),
    )

    @field_validator(
        "s3_endpoint_url",
        "s3_public_endpoint_url",
        "s3_region",
        "s3_bucket",
        "s3_access_key_id",
        "s3_secret_access_key",
        "s3_kms_key_id",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `AGENT_RUNTIME_S3_BUCKET=` (compose's `${VAR:-}`) means "not set", not "a bucket named ''".
        return None if value == "" else value

    @field_validator("artifact_content_types", mode="before")
    @classmethod
    def _comma_separated_types(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip().lower() for item in value.split(",") if item.strip()]
        return value

    @field_validator("artifact_content_types")
    @classmethod
    def _media_type_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            kind, sep, subtype = pattern.partition("/")
            if not sep or not kind or not subtype or (kind == "*" and subtype != "*"):
                raise ValueError(f"'{pattern}' is no media type pattern: use type/subtype, type/* or */*")
        return [pattern.lower() for pattern in value]

    @model_validator(mode="after")
    def _kms_key_with_kms(self) -> Self:
        if self.s3_sse == "kms" and not self.s3_kms_key_id:
            raise ValueError("s3_kms_key_id is required when s3_sse is 'kms'")
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("set both s3_access_key_id and s3_secret_access_key, or neither")
        return self

    # Worker tuning (measured: a ~1 s sticky timeout plus heartbeats cut crash recovery to ~4 s).
    worker_sticky_queue_timeout_s: float = Field(default=1.0, gt=0)
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    worker_backlog_metrics_interval_s: float = Field(
        default=15.0,
        ge=0,
        le=3600,
        description="How often the worker reads its task queue's backlog from Temporal into "
        "agent_runtime_temporal_task_queue_backlog (what worker autoscaling follows); 0: never. "
        "Only with worker_metrics_port set.",
    )
    worker_graceful_shutdown_s: float = Field(
        default=25.0,
        ge=0,
        description=(
            "On SIGTERM/SIGINT the worker stops polling at once and gives its running activities "
            "this long to finish; then it cancels them (Temporal retries them on another worker), "
            "closes its connections and exits 0. Keep it below the time the orchestrator waits "
            "before SIGKILL: on ECS set the container's stopTimeout a few seconds above it "
            "(ECS' default of 30 s fits the default of 25 s; its maximum is 120 s)."
        ),
    )
    worker_health_file: str | None = Field(
        default=None,
        description=(
            "A file the running worker touches every few seconds (and removes when it stops), "
            "for `agent-runtime healthcheck`; unset: none. The image sets "
            "/tmp/agent-runtime-worker.health."
        ),
    )

    # Tracing and metrics (OpenTelemetry to OTLP/Langfuse, Prometheus). Tracing is off unless an
    # OTLP endpoint or Langfuse keys are set; then no exporter, instrumentation or thread runs.
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AGENT_RUNTIME_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description=(
            "Base URL of an OTLP/HTTP receiver (`/v1/traces` is appended), e.g. an OpenTelemetry "
            "Collector. Headers come from OTEL_EXPORTER_OTLP_HEADERS."
        ),
    )
    langfuse_public_key: str | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str = Field(
        default="https://cloud.langfuse.com",
        description="Langfuse base URL; spans go to <host>/api/public/otel (with both keys set).",
    )
    tracing_service_name: str | None = Field(
        default=None, description="OpenTelemetry service.name (default agent-runtime-api / -worker)."
    )
    tracing_include_content: bool = Field(
        default=True, description="Put prompts, outputs and tool arguments on spans (pydantic-ai)."
    )
    metrics_enabled: bool = Field(
        default=True, description="Serve Prometheus metrics at GET /metrics on the API."
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus metrics server (0 or unset: no server).",
    )
    worker_metrics_host: str = "0.0.0.0"
    # Isolation, audit and limits.
    rate_limit_enabled: bool = Field(
        default=True,
        description=(
            "Per-tenant request rate limits on /v1 (Redis-backed; needs redis_url). If Redis is "
            "unreachable requests are let through (fail open) with a warning."
        ),
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per tenant per minute (sliding window)."
    )
    rate_limit_burst: int = Field(
        default=50, ge=1, description="Requests per tenant in any one second (caps bursts)."
    )
    rate_limit_redis_timeout_s: float = Field(
        default=0.25, gt=0, description="Give up on Redis after this long and let the request through."
    )
    max_active_runs_per_tenant: int = Field(
        default=100,
        ge=0,
        description="Cap on a tenant's queued, running and waiting runs (0: no cap). Over it, 429.",
    )
    active_run_limit_retry_after_s: int = Field(
        default=10, ge=1, description="Retry-After of a 429 `active_run_limit` answer."
    )
    tenant_limits_cache_s: float = Field(
        default=10.0,
        ge=0,
        description="How long an API process keeps a tenant's limits (the operators' overrides of "
        "the rate limits and active-run cap) before reading them again.",
    )

    # Retention (the daily cleanup workflow; per-tenant overrides in `tenant_retention`).
    retention_runs_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Delete finished runs (with their events, approvals and questions) this many days "
        "after they finished (0: keep forever).",
    )
    retention_threads_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Delete idle threads (with their messages and summaries) this many days after "
        "their last change (0: keep forever).",
    )
    retention_artifacts_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Delete artifacts (rows and objects) this many days after their creation "
        "(0: keep forever).",
    )
    retention_pending_upload_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 365,
        description="Delete artifacts whose presigned upload never completed this many hours after "
        "the upload URL expired.",
    )
    retention_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Rows the cleanup deletes per activity call."
    )
    retention_schedule_enabled: bool = Field(
        default=True,
        description="Create (or update) the daily retention schedule when the worker starts; false "
        "deletes it.",
    )
    retention_schedule_id: str = Field(
        default="agent-runtime-retention",
        min_length=1,
        max_length=200,
        description="Id of the daily retention schedule. Deployments sharing one Temporal namespace "
        "(staging and prod on one Temporal Cloud namespace, say) each need their own.",
    )
    retention_schedule_hour_utc: int = Field(
        default=3, ge=0, le=23, description="Hour (UTC) the daily retention cleanup starts at."
    )

    # Reconciliation (the periodic workflow finishing runs whose workflow closed without doing so).
    reconcile_schedule_enabled: bool = Field(
        default=True,
        description="Create (or update) the run reconciliation schedule when the worker starts; "
        "false deletes it.",
    )
    reconcile_schedule_id: str = Field(
        default="agent-runtime-reconcile",
        min_length=1,
        max_length=200,
        description="Id of the run reconciliation schedule. Deployments sharing one Temporal "
        "namespace each need their own.",
    )
    reconcile_interval_s: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="How often the reconciliation looks for active runs whose workflow is closed.",
    )
    reconcile_min_age_s: int = Field(
        default=300,
        ge=0,
        le=30 * 86_400,
        description="Only runs created longer ago than this are reconciled (a run whose workflow is "
        "being started is never touched).",
    )
    reconcile_batch_size: int = Field(
        default=100, ge=1, le=1_000, description="Active runs the reconciliation examines per batch."
    )

    # Read cache (Redis cache-aside for hot reads: agents, agent versions; see agent_runtime_core.cache).
    cache_enabled: bool = Field(
        default=True,
        description="Cache hot reads in Redis (needs redis_url). Every write deletes its entries "
        "before it answers; with Redis down or slow, reads go to Postgres.",
    )
    cache_ttl_s: float = Field(
        default=60.0,
        gt=0,
        description="Lifetime of a cache entry (kinds without their own in cache_kind_ttl_s). "
        "Bounds memory, and staleness in the one case invalidation cannot reach Redis.",
    )
    cache_kind_ttl_s: dict[str, float] = Field(
        default_factory=lambda: {"agent_version": 3600.0},
        description='Lifetime per kind of entry, e.g. {"agent_version": 3600} (versions never change).',
    )
    cache_redis_timeout_s: float = Field(
        default=0.1, gt=0, description="Give up on the cache's Redis after this long and read Postgres."
    )
    cache_retry_after_failure_s: float = Field(
        default=5.0, ge=0, description="After a Redis failure, read Postgres only for this long."
    )
    cache_max_value_bytes: int = Field(
        default=64 * 1024, ge=0, description="Rows larger than this (as JSON) are not cached."
    )

    # Authentication. API keys always work; OIDC bearer JWTs (Keycloak or any OpenID provider)
    # are accepted once `oidc_issuer` and `oidc_audience` are set.
    oidc_issuer: str | None = Field(
        default=None,
        description=(
            "Issuer URL of the OpenID provider (e.g. https://sso.example.com/realms/agents); its "
            "discovery document and JWKS are fetched from there. Unset: bearer JWTs are refused."
        ),
    )
    oidc_audience: str | None = Field(
        default=None, description="The `aud` access tokens must carry for this API (required with an issuer)."
    )
    oidc_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"],
        description="Signature algorithms accepted (asymmetric only: `none` and HS* are refused).",
    )
    oidc_tenant_claim: str = Field(
        default="tenant_id", description="Claim holding the caller's tenant id (a token without it is a 401)."
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="Keycloak client whose `resource_access.<client>.roles` also count as roles.",
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="Fetch the JWKS from here instead of the discovery document's `jwks_uri`.",
    )
    oidc_leeway_s: float = Field(default=30.0, ge=0, le=300, description="Clock skew allowed on exp/nbf.")
    oidc_jwks_cache_ttl_s: float = Field(default=600.0, gt=0, description="How long the JWKS is cached.")
    oidc_jwks_min_refresh_interval_s: float = Field(
        default=30.0,
        ge=0,
        description=(
            "A token with an unknown `kid` refetches the JWKS at most this often, so random kids "
            "cannot make the API hammer the provider."
        ),
    )
    oidc_http_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of discovery and JWKS fetches."
    )
    # The web console (/console), served by the API. It signs in with an API key, or with the
    # OIDC provider above (authorization code + PKCE in the browser) once it has a client there.
    console_enabled: bool = Field(default=True, description="Serve the web console at /console.")
    console_oidc_client_id: str | None = Field(
        default=None,
        description=(
            "Public client (no secret, PKCE) of the OIDC provider the console signs in with; its "
            "redirect URI is <API origin>/console/. Unset: the console offers API-key sign-in only."
        ),
    )
    console_oidc_scopes: str = Field(
        default="openid",
        max_length=500,
        description="Scopes the console asks for (space-separated); its access token must carry "
        "`oidc_audience` (Keycloak: an audience mapper on the client).",
    )
    api_key_last_used_interval_s: float = Field(
        default=60.0, ge=0, description="An API key's `last_used_at` is written at most this often."
    )

    @field_validator("cors_allow_origins", "temporal_codec_cors_origins", mode="before")
    @classmethod
    def _comma_separated_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_allow_origins", "temporal_codec_cors_origins")
    @classmethod
    def _origins_without_paths(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A browser's Origin header is scheme://host[:port]: anything else would never match. The
        # codec endpoint decrypts prompts: every origin allowed to read its answers is named (no *).
        wildcard = info.field_name == "cors_allow_origins"
        for origin in value:
            if origin == "*" and wildcard:
                continue
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest:
                hint = "scheme://host[:port], or *" if wildcard else "scheme://host[:port] (no wildcard)"
                raise ValueError(f"'{origin}' is no origin: use {hint}")
        return value

    @model_validator(mode="after")
    def _usable_payload_keys(self) -> Self:
        from agent_runtime_core.crypto import decode_local_key

        for key_id, key in self.temporal_payload_keys.items():
            if not key_id or len(key_id) > 100:
                raise ValueError("temporal_payload_keys: key ids must be 1 to 100 characters")
            try:
                decode_local_key(key.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"temporal_payload_keys['{key_id}'] is not a valid key: {exc}") from None
        keys = self.temporal_payload_keys
        if keys and self.temporal_payload_active_key_id not in keys:
            raise ValueError("temporal_payload_active_key_id must name one of temporal_payload_keys")
        if self.temporal_payload_active_key_id and not self.temporal_payload_keys:
            raise ValueError("temporal_payload_active_key_id is set but temporal_payload_keys is empty")
        return self

    @property
    def temporal_payload_bucket_name(self) -> str | None:
        """The bucket of offloaded Temporal payloads (``None``: no bucket, nothing offloaded)."""
        return self.temporal_payload_bucket or self.s3_bucket

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_algorithms_only(cls, value: list[str]) -> list[str]:
        # A symmetric algorithm would let anyone holding the public JWKS forge tokens (alg confusion).
        refused = [alg for alg in value if alg.lower() == "none" or alg.upper().startswith("HS")]
        if refused:
            raise ValueError(f"refused algorithms {refused}: only asymmetric ones (RS*, PS*, ES*, EdDSA)")
        if not value:
            raise ValueError("at least one algorithm is needed")
        return value

    @model_validator(mode="after")
    def _audience_with_issuer(self) -> Self:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError("oidc_audience is required when oidc_issuer is set")
        return self

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

    budget_policy_cache_s: float = Field(
        default=5.0,
        ge=0,
        description="How long a worker keeps a tenant's budget limits and price overrides before "
        "reading them again; a tenant WITHOUT a budget then costs no query before a model request. "
        "A new or changed budget or price applies within this time (0: read on every request).",
    )

    # Long-term memory store (/v1/store, the memory tools): semantic search needs an embedding model.
    embedding_model: str | None = Field(
        default=None,
        description=(
            "Embedding model of the memory store's semantic search, `openai:<model>` (OpenAI, or "
            "AGENT_RUNTIME_OPENAI_API_BASE_URL) or `openai-compatible:<model>` (the server at "
            "AGENT_RUNTIME_OPENAI_BASE_URL); unset: no embeddings, a search `query` is a "
            "case-insensitive text match."
        ),
        examples=["openai:text-embedding-3-small"],
    )
    embedding_dimensions: int | None = Field(
        default=None, ge=1, le=8192, description="Ask the model for vectors of this size (if it can)."
    )
    embedding_timeout_s: float = Field(default=30.0, gt=0, description="Per embeddings request.")

    @field_validator("embedding_model")
    @classmethod
    def _embedding_provider_known(cls, value: str | None) -> str | None:
        if not value:
            return None
        provider, sep, name = value.partition(":")
        if not sep or provider not in {"openai", "openai-compatible"} or not name.strip():
            raise ValueError("the embedding model is 'openai:<model>' or 'openai-compatible:<model>'")
        return value

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        return normalize_database_url(value)

    @model_validator(mode="after")
    def _database_password_into_url(self) -> Self:
        if self.database_password is not None:
            # Here, not at the top: SQLAlchemy takes ~0.3 s to import, and the CLI reads settings.
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                url = make_url(self.database_url)
            except ArgumentError:
                raise ValueError("database_url is not a valid database URL") from None
            with_password = url.set(password=self.database_password.get_secret_value())
            self.database_url = with_password.render_as_string(hide_password=False)
            self.database_password = None  # applied once: a copy of these settings keeps the URL
        return self

    @model_validator(mode="after")
    def _temporal_client_certificate_pair(self) -> Self:
        if (self.temporal_tls_client_cert is None) != (self.temporal_tls_client_key is None):
            raise ValueError(
                "temporal_tls_client_cert and temporal_tls_client_key go together: set both or neither"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
