"""The ``agent-runtime`` console script: ``healthcheck`` runs without importing the CLI (a probe
every few seconds must not load typer, pydantic and the API client: ~0.6 s of CPU); every other
command goes to :data:`agent_runtime_cli.main.app`."""

from __future__ import annotations

import sys


def main() -> None:
    """Dispatch ``agent-runtime ...``."""
    if sys.argv[1:2] == ["healthcheck"]:
        from agent_runtime_cli.healthcheck import main as healthcheck

        raise SystemExit(healthcheck(sys.argv[2:]))
    from agent_runtime_cli.main import app

    app()
