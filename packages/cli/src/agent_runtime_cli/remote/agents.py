"""``agent-runtime agents``: list, show and create agents and their versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text
from typer.core import TyperGroup

from agent_runtime_cli.remote.context import Cli, Cursor, Every, ExitCode, Limit, api_command
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    print_fields,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import Agent, AgentVersion, AgentVersionParams, NotFoundError

app = typer.Typer(
    help=(
        "Agents: what runs execute (a model, instructions, tools), in immutable versions.\n\n"
        "Examples:\n\n"
        "  agent-runtime agents create -f agent.yaml\n\n"
        "  agent-runtime agents list\n\n"
        "  agent-runtime agents get calc\n\n"
        "  agent-runtime agents versions calc\n\n"
        "  agent-runtime agents versions create calc -f version.yaml"
    ),
    no_args_is_help=True,
)

AgentRef = Annotated[str, typer.Argument(help="Agent id (agt_…) or name.", show_default=False)]
FileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        help="YAML or JSON file ('-': standard input).",
        show_default=False,
        allow_dash=True,
    ),
]

_VERSION_FIELDS = tuple(AgentVersionParams.__annotations__)
"""What a version file may hold: the body of ``POST /v1/agents/{id}/versions``."""


# ---------------------------------------------------------------------------------- helpers


def resolve_agent(cli: Cli, ref: str) -> Agent:
    """The agent whose id or name is ``ref`` (names are unique among a tenant's live agents)."""
    client = cli.client
    if ref.startswith("agt_"):
        try:
            return client.agents.get(ref)
        except NotFoundError:
            pass  # an agent may be named like an id
    for agent in client.agents.list(limit=100):
        if agent.name == ref:
            return agent
    raise cli.fail(
        f"no agent has the id or name {ref!r} (see `agent-runtime agents list`)", ExitCode.API_ERROR
    )


def agent_names(cli: Cli) -> dict[str, str]:
    """Names of the tenant's agents by id (the newest 100: enough to label a table's rows)."""
    return {agent.id: agent.name for agent in cli.client.agents.list(limit=100).page().data}


def read_document(cli: Cli, path: Path) -> dict[str, Any]:
    """A YAML or JSON file's top-level mapping (``-``: standard input)."""
    name = "standard input" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise cli.fail(f"cannot read {name}: {error}") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise cli.fail(
            f"{name} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}"
        ) from None
    if not isinstance(document, dict):
        raise cli.fail(f"{name} must hold a mapping (name: …, model: …), not {type(document).__name__}")
    mapping: dict[Any, Any] = document  # pyright: ignore[reportUnknownVariableType]
    return {str(key): value for key, value in mapping.items()}


def _tool_names(version: AgentVersion) -> str:
    return ", ".join(tool.name + (" (approval)" if tool.requires_approval else "") for tool in version.tools)


AGENT_COLUMNS: list[Column[Agent]] = [
    Column("ID", lambda a: a.id, no_wrap=True),
    Column("NAME", lambda a: a.name, no_wrap=True),
    Column("VERSION", lambda a: "" if a.latest_version is None else str(a.latest_version)),
    Column("DESCRIPTION", lambda a: compact(a.description, 50)),
    Column("CREATED", lambda a: when_short(a.created_at), no_wrap=True),
]

VERSION_COLUMNS: list[Column[AgentVersion]] = [
    Column("VERSION", lambda v: str(v.version)),
    Column("MODEL", lambda v: v.model, no_wrap=True),
    Column("TOOLS", _tool_names),
    Column("INSTRUCTIONS", lambda v: compact(v.instructions, 40)),
    Column("CREATED", lambda v: when_short(v.created_at), no_wrap=True),
]


def print_agent(cli: Cli, agent: Agent) -> None:
    """An agent, as the chosen output wants it."""
    if not cli.human:
        write_data(cli.output, agent)
        return
    print_fields(
        cli.out,
        [
            ("id", agent.id),
            ("name", agent.name),
            ("description", agent.description),
            ("latest version", "" if agent.latest_version is None else str(agent.latest_version)),
            ("created", when(agent.created_at)),
            ("updated", when(agent.updated_at)),
        ],
    )


def print_version(cli: Cli, version: AgentVersion) -> None:
    """A version, as the chosen output wants it."""
    if not cli.human:
        write_data(cli.output, version)
        return
    limits = version.limits
    print_fields(
        cli.out,
        [
            ("agent", version.agent_id),
            ("version", str(version.version)),
            ("model", version.model),
            ("fallback models", ", ".join(version.fallback_models)),
            ("instructions", version.instructions),
            ("tools", _tool_names(version)),
            ("mcp servers", ", ".join(server.name for server in version.mcp_servers)),
            (
                "limits",
                f"{limits.max_requests} requests, {limits.run_timeout_s} s per run, "
                f"approvals wait {limits.approval_timeout_s} s",
            ),
            ("created", when(version.created_at)),
        ],
    )


# --------------------------------------------------------------------------------- commands


@app.command("list")
@api_command()
def list_agents(cli: Cli, limit: Limit = 20, cursor: Cursor = None, every: Every = False) -> None:
    """List your agents, newest first."""
    page = cli.page(cli.client.agents.list(limit=100 if every else limit), cursor=cursor, every=every)
    cli.show_page(page, AGENT_COLUMNS, empty="No agents yet.")


@app.command("get")
@api_command()
def get_agent(cli: Cli, agent: AgentRef) -> None:
    """Show an agent (by id or name)."""
    print_agent(cli, resolve_agent(cli, agent))


@app.command("create")
@api_command()
def create_agent(cli: Cli, file: FileOption) -> None:
    """Create an agent from a YAML or JSON file, with its version 1.

    The file is the body of POST /v1/agents: `name`, `description` and `version` (model,
    instructions, tools, limits, ...); the version's fields may also stand at the top level:

      name: calc
      description: Arithmetic, briefly.
      model: builtin:scripted
      instructions: Answer briefly.
      tools:
        - name: calculator
          requires_approval: true
    """
    document = read_document(cli, file)
    name = document.pop("name", None)
    if not isinstance(name, str):
        raise cli.fail(f"{file}: `name` is required (a string)")
    description = document.pop("description", None)
    version: Any = document.pop("version", None)
    if version is not None and document:
        raise cli.fail(f"{file}: put {', '.join(sorted(document))} inside `version`, or leave `version` out")
    if version is None and document:
        version = document  # the flat form: every other key is a version field
    created = cli.client.agents.create(name, description=description, version=version)
    if cli.human:
        cli.err.print(Text(f"Created agent {created.name} ({created.id}).", style="green"))
    print_agent(cli, created)


class _VersionsGroup(TyperGroup):
    """``agents versions AGENT`` lists: an unknown first word is the ``list`` command's argument."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["list", *args]
        return super().resolve_command(ctx, args)


versions_app = typer.Typer(
    cls=_VersionsGroup,
    help=(
        "An agent's versions: `agents versions AGENT` lists them.\n\n"
        "Examples:\n\n"
        "  agent-runtime agents versions calc\n\n"
        "  agent-runtime agents versions get calc 2\n\n"
        "  agent-runtime agents versions create calc -f version.yaml"
    ),
    no_args_is_help=True,
)
app.add_typer(versions_app, name="versions")


@versions_app.command("list")
@api_command()
def list_versions(
    cli: Cli, agent: AgentRef, limit: Limit = 20, cursor: Cursor = None, every: Every = False
) -> None:
    """List an agent's versions, newest first."""
    agent_id = resolve_agent(cli, agent).id
    pager = cli.client.agents.versions.list(agent_id, limit=100 if every else limit)
    page = cli.page(pager, cursor=cursor, every=every)
    cli.show_page(page, VERSION_COLUMNS, empty="No versions yet.")


@versions_app.command("get")
@api_command()
def get_version(
    cli: Cli, agent: AgentRef, version: Annotated[int, typer.Argument(help="Version number.", min=1)]
) -> None:
    """Show one version of an agent."""
    print_version(cli, cli.client.agents.versions.get(resolve_agent(cli, agent).id, version))


@versions_app.command("create")
@api_command()
def create_version(cli: Cli, agent: AgentRef, file: FileOption) -> None:
    """Add an agent's next version from a YAML or JSON file; new runs use it.

    The file is the body of POST /v1/agents/{id}/versions:

      model: builtin:scripted
      instructions: Answer briefly.
      tools:
        - name: calculator
    """
    document = read_document(cli, file)
    unknown = sorted(set(document) - set(_VERSION_FIELDS))
    if unknown:
        raise cli.fail(
            f"{file}: unknown field(s) {', '.join(unknown)} (a version has {', '.join(_VERSION_FIELDS)})"
        )
    if "model" not in document:
        raise cli.fail(f"{file}: `model` is required")
    agent_id = resolve_agent(cli, agent).id
    created = cli.client.agents.versions.create(agent_id, **document)
    if cli.human:
        cli.err.print(Text(f"Created version {created.version} of {agent_id}.", style="green"))
    print_version(cli, created)
