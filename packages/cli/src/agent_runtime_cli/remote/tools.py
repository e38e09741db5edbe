"""``agent-runtime tools``: the tools registry (HTTP tools registered once, used by name by any
agent version) and the catalog of tools the workers serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from agent_runtime_cli.remote.agents import FileOption, read_document
from agent_runtime_cli.remote.context import Cli, Cursor, Every, ExitCode, Limit, api_command
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    print_fields,
    print_table,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import CatalogTool, NotFoundError, Page, ToolDefinition, ToolRevision

app = typer.Typer(
    help=(
        "Tools: HTTP endpoints you register once for any agent version to use by name "
        "(tools: [{tool: {name: create_ticket}}]), and the catalog of tools the workers serve.\n\n"
        "Examples:\n\n"
        "  agent-runtime tools catalog\n\n"
        "  agent-runtime tools create -f tool.yaml\n\n"
        "  agent-runtime tools list\n\n"
        "  agent-runtime tools get create_ticket\n\n"
        "  agent-runtime tools revisions create_ticket"
    ),
    no_args_is_help=True,
)

ToolRef = Annotated[str, typer.Argument(help="Tool id (tool_…) or name.", show_default=False)]

TOOL_FIELDS = ("name", "description", "parameters", "http")
"""What a tool file holds: the body of ``POST /v1/tools``."""


def resolve_tool(cli: Cli, ref: str) -> ToolDefinition:
    """The registered tool whose id or name is ``ref``."""
    if ref.startswith("tool_"):
        try:
            return cli.client.tools.get(ref)
        except NotFoundError:
            pass  # a tool may be named like an id
    found = cli.client.tools.list(name=ref, limit=1).page().data
    if found:
        return found[0]
    raise cli.fail(
        f"no registered tool has the id or name {ref!r} (see `agent-runtime tools list`)", ExitCode.API_ERROR
    )


def _read_tool(cli: Cli, file: Path) -> dict[str, Any]:
    """The file's tool definition, every field present (a missing one is null: the API's 422
    then names it, as it names any invalid field)."""
    document = read_document(cli, file)
    unknown = sorted(set(document) - set(TOOL_FIELDS))
    if unknown:
        raise cli.fail(f"{file}: unknown field(s) {', '.join(unknown)} (a tool has {', '.join(TOOL_FIELDS)})")
    return {field: document.get(field) for field in TOOL_FIELDS}


def _endpoint(tool: ToolDefinition | ToolRevision) -> str:
    return f"{tool.http.method} {tool.http.url}"


TOOL_COLUMNS: list[Column[ToolDefinition]] = [
    Column("ID", lambda t: t.id, no_wrap=True),
    Column("NAME", lambda t: t.name, no_wrap=True),
    Column("REV", lambda t: str(t.latest_revision)),
    Column("ENDPOINT", _endpoint, max_width=60),
    Column("DESCRIPTION", lambda t: compact(t.description, 50)),
    Column("UPDATED", lambda t: when_short(t.updated_at), no_wrap=True),
]

REVISION_COLUMNS: list[Column[ToolRevision]] = [
    Column("REV", lambda r: str(r.revision)),
    Column("ENDPOINT", _endpoint, max_width=60),
    Column("DESCRIPTION", lambda r: compact(r.description, 50)),
    Column("BY", lambda r: r.created_by or "", no_wrap=True),
    Column("CREATED", lambda r: when_short(r.created_at), no_wrap=True),
]

CATALOG_COLUMNS: list[Column[CatalogTool]] = [
    Column("NAME", lambda t: t.name, no_wrap=True),
    Column("SOURCE", lambda t: t.source, no_wrap=True),
    Column("DESCRIPTION", lambda t: compact(t.description, 80)),
]


def print_tool(cli: Cli, tool: ToolDefinition) -> None:
    """A registered tool, as the chosen output wants it."""
    if not cli.human:
        write_data(cli.output, tool)
        return
    http = tool.http
    print_fields(
        cli.out,
        [
            ("id", tool.id),
            ("name", tool.name),
            ("revision", str(tool.latest_revision)),
            ("description", tool.description),
            ("endpoint", f"{http.method} {http.url}"),
            ("headers", "\n".join(f"{name}: {value}" for name, value in http.headers.items())),
            ("timeout", f"{http.timeout_s:g} s per attempt"),
            ("parameters", compact(tool.parameters, 200)),
            ("created", when(tool.created_at)),
            ("updated", when(tool.updated_at)),
        ],
    )


# --------------------------------------------------------------------------------- commands


@app.command("catalog")
@api_command()
def list_catalog(cli: Cli) -> None:
    """List the tools the workers serve by name (built in, or from tool packages): an agent
    version uses one as tools: [{name: calculator}]."""
    tools = cli.client.tools.catalog()
    if not cli.human:
        write_data(cli.output, Page[CatalogTool](data=tools, next_cursor=None))
        return
    print_table(cli.out, tools, CATALOG_COLUMNS, empty="No catalog tools.")


@app.command("list")
@api_command()
def list_tools(cli: Cli, limit: Limit = 20, cursor: Cursor = None, every: Every = False) -> None:
    """List your registered tools, newest first."""
    page = cli.page(cli.client.tools.list(limit=100 if every else limit), cursor=cursor, every=every)
    cli.show_page(
        page, TOOL_COLUMNS, empty="No registered tools yet (agent-runtime tools create -f tool.yaml)."
    )


@app.command("get")
@api_command()
def get_tool(cli: Cli, tool: ToolRef) -> None:
    """Show a registered tool (by id or name) with its latest revision."""
    print_tool(cli, resolve_tool(cli, tool))


@app.command("create")
@api_command()
def create_tool(cli: Cli, file: FileOption) -> None:
    """Register an HTTP tool from a YAML or JSON file (its revision 1).

    The file is the body of POST /v1/tools; a header may name a secret as {{secrets.NAME}}
    (see `agent-runtime secrets`):

      name: create_ticket
      description: Open a support ticket; returns it.
      parameters:
        type: object
        properties: {title: {type: string}}
        required: [title]
      http:
        method: POST
        url: https://tickets.example.com/tickets
        headers: {Authorization: "Bearer {{secrets.tickets_token}}"}
    """
    document = _read_tool(cli, file)
    created = cli.client.tools.create(**document)
    if cli.human:
        cli.err.print(Text(f"Registered tool {created.name} ({created.id}).", style="green"))
    print_tool(cli, created)


@app.command("update")
@api_command()
def update_tool(cli: Cli, tool: ToolRef, file: FileOption) -> None:
    """Replace a tool's whole definition from a file (as for `create`): it becomes the tool's
    next revision; agent versions that pinned a revision keep theirs."""
    document = _read_tool(cli, file)
    tool_id = resolve_tool(cli, tool).id
    updated = cli.client.tools.update(tool_id, **document)
    if cli.human:
        cli.err.print(
            Text(f"Tool {updated.name} is now at revision {updated.latest_revision}.", style="green")
        )
    print_tool(cli, updated)


@app.command("delete")
@api_command(output=False)
def delete_tool(cli: Cli, tool: ToolRef) -> None:
    """Delete a registered tool (refused while a live agent's latest version uses it)."""
    found = resolve_tool(cli, tool)
    cli.client.tools.delete(found.id)
    cli.err.print(Text(f"Deleted tool {found.name} ({found.id}).", style="green"))


@app.command("revisions")
@api_command()
def list_revisions(
    cli: Cli, tool: ToolRef, limit: Limit = 20, cursor: Cursor = None, every: Every = False
) -> None:
    """List a tool's revisions, newest first (each immutable)."""
    tool_id = resolve_tool(cli, tool).id
    pager = cli.client.tools.revisions(tool_id, limit=100 if every else limit)
    page = cli.page(pager, cursor=cursor, every=every)
    cli.show_page(page, REVISION_COLUMNS, empty="No revisions.")
