"""The ``agent-runtime`` commands that use a running API through the SDK (``agents``, ``runs``,
``approvals``, ``questions``, ``threads``, ``artifacts``, ``tools``, ``secrets``, ``store``,
``usage``) and the ``profiles`` that say where it runs.

These modules import only the SDK, typer, rich and PyYAML, never the server packages: they
speak to any deployment over HTTP, as users' programs do.
"""

from __future__ import annotations

import typer

API_PANEL = "Use an API (agent-runtime <command> --help)"


def add_api_commands(app: typer.Typer) -> None:
    """Add the API commands to the ``agent-runtime`` app."""
    from agent_runtime_cli.remote import (
        agents,
        artifacts,
        humans,
        profiles,
        runs,
        secrets,
        store,
        threads,
        tools,
        usage,
    )

    app.add_typer(agents.app, name="agents", rich_help_panel=API_PANEL)
    app.add_typer(runs.app, name="runs", rich_help_panel=API_PANEL)
    app.add_typer(humans.approvals_app, name="approvals", rich_help_panel=API_PANEL)
    app.add_typer(humans.questions_app, name="questions", rich_help_panel=API_PANEL)
    app.add_typer(threads.app, name="threads", rich_help_panel=API_PANEL)
    app.add_typer(artifacts.app, name="artifacts", rich_help_panel=API_PANEL)
    app.add_typer(tools.app, name="tools", rich_help_panel=API_PANEL)
    app.add_typer(secrets.app, name="secrets", rich_help_panel=API_PANEL)
    app.add_typer(store.app, name="store", rich_help_panel=API_PANEL)
    app.add_typer(usage.app, name="usage", rich_help_panel=API_PANEL)
    app.add_typer(profiles.app, name="profiles", rich_help_panel=API_PANEL)
