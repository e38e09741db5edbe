"""``agent-runtime profiles``: named API URLs and keys, so commands need no --url/--api-key."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.text import Text

from agent_runtime_cli.remote.config import (
    ConfigError,
    config_path,
    load_config,
    mask_api_key,
    set_profile,
    use_profile,
)
from agent_runtime_cli.remote.context import ExitCode
from agent_runtime_cli.remote.output import (
    Column,
    OutputFormat,
    default_format,
    make_console,
    print_table,
    write_data,
)

app = typer.Typer(
    help=(
        "Profiles: named API URLs and keys, kept in $XDG_CONFIG_HOME/agent-runtime/config.toml "
        "(~/.config/agent-runtime/config.toml; readable by you only).\n\n"
        "A command uses --profile NAME (or $AGENT_RUNTIME_PROFILE), else the current profile; "
        "--url/--api-key override a profile, and $AGENT_RUNTIME_URL/$AGENT_RUNTIME_API_KEY "
        "override the current one.\n\n"
        "Examples:\n\n"
        "  agent-runtime profiles set local --url http://127.0.0.1:8000 --api-key $(cat .dev/api-key)\n\n"
        "  agent-runtime profiles set prod --url https://runtime.example.com --api-key - < prod.key\n\n"
        "  agent-runtime profiles use prod\n\n"
        "  agent-runtime runs list --profile local"
    ),
    no_args_is_help=True,
)

ProfileName = Annotated[str, typer.Argument(help="Profile name.", show_default=False)]

_err = make_console(stderr=True)


class _Row(BaseModel):
    name: str
    current: bool
    url: str | None
    api_key: str


def _fail(error: ConfigError) -> typer.Exit:
    _err.print(Text.assemble(("error: ", "bold red"), str(error)))
    return typer.Exit(ExitCode.USAGE)


@app.command("list")
def list_profiles(
    output: Annotated[
        OutputFormat | None,
        typer.Option("--output", "-o", help="table, json or yaml (default: table on a terminal, else json)."),
    ] = None,
) -> None:
    """List the profiles (keys shown by their public prefix only)."""
    try:
        config = load_config()
    except ConfigError as error:
        raise _fail(error) from None
    rows = [
        {
            "name": name,
            "current": name == config.current_profile,
            "url": profile.url,
            "api_key": mask_api_key(profile.api_key),
        }
        for name, profile in config.profiles.items()
    ]
    fmt = output or default_format()
    if fmt != OutputFormat.TABLE:
        write_data(fmt, {"current_profile": config.current_profile, "profiles": rows})
        return
    columns: list[Column[_Row]] = [
        Column("", lambda r: "*" if r.current else ""),
        Column("NAME", lambda r: r.name),
        Column("URL", lambda r: r.url or ""),
        Column("API KEY", lambda r: r.api_key),
    ]
    items = [_Row.model_validate(row) for row in rows]
    print_table(
        make_console(),
        items,
        columns,
        empty=f"No profiles yet ({config_path()}); add one with "
        "`agent-runtime profiles set NAME --url URL --api-key KEY`.",
    )


@app.command("set")
def set_profile_command(
    name: ProfileName,
    url: Annotated[str | None, typer.Option("--url", help="The API's base URL.")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The API key ('-': read it from standard input).")
    ] = None,
) -> None:
    """Create a profile or change its URL or key (the first profile becomes the current one)."""
    if url is None and api_key is None:
        _err.print(Text.assemble(("error: ", "bold red"), "give --url, --api-key or both"))
        raise typer.Exit(ExitCode.USAGE)
    if api_key == "-":
        api_key = sys.stdin.readline().strip()
        if not api_key:
            _err.print(Text.assemble(("error: ", "bold red"), "no API key on standard input"))
            raise typer.Exit(ExitCode.USAGE)
    try:
        config = set_profile(name, url=url, api_key=api_key)
    except ConfigError as error:
        raise _fail(error) from None
    current = " (current)" if config.current_profile == name else ""
    _err.print(Text(f"Saved profile {name}{current} in {config_path()}.", style="green"))


@app.command("use")
def use_profile_command(name: ProfileName) -> None:
    """Make a profile the current one: commands use it unless told otherwise."""
    try:
        use_profile(name)
    except ConfigError as error:
        raise _fail(error) from None
    _err.print(Text(f"Now using profile {name}.", style="green"))
