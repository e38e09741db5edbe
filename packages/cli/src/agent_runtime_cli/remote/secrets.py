"""``agent-runtime secrets``: write-only values your HTTP tools use as ``{{secrets.NAME}}``.

A value is never a command-line argument (it would stay in the shell's history and show in
``ps``): ``set`` reads it from a hidden prompt on a terminal, or from standard input in a pipe.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.text import Text

from agent_runtime_cli.remote.context import EXIT_CODES_HELP, Cli, Cursor, Every, Limit, api_command
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    print_fields,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import ConflictError, Secret

app = typer.Typer(
    help=(
        "Secrets: write-only values (API tokens, passwords) your HTTP tools use as "
        "{{secrets.NAME}} in a header; no command or API call ever shows a value.\n\n"
        "Examples:\n\n"
        "  agent-runtime secrets set tickets_token            (type it, hidden)\n\n"
        '  printf %s "$TOKEN" | agent-runtime secrets set tickets_token\n\n'
        "  agent-runtime secrets list\n\n"
        "  agent-runtime secrets delete tickets_token"
    ),
    no_args_is_help=True,
)

SecretName = Annotated[
    str,
    typer.Argument(
        help="Secret name: a letter, then up to 63 letters, digits or _ (tools write {{secrets.NAME}}).",
        show_default=False,
    ),
]

SECRET_COLUMNS: list[Column[Secret]] = [
    Column("NAME", lambda s: s.name, no_wrap=True),
    Column("DESCRIPTION", lambda s: compact(s.description, 60)),
    Column("ID", lambda s: s.id, no_wrap=True),
    Column("UPDATED", lambda s: when_short(s.updated_at), no_wrap=True),
]


def _print_secret(cli: Cli, secret: Secret) -> None:
    if not cli.human:
        write_data(cli.output, secret)
        return
    print_fields(
        cli.out,
        [
            ("name", secret.name),
            ("id", secret.id),
            ("description", secret.description),
            ("created", when(secret.created_at)),
            ("updated", when(secret.updated_at)),
        ],
    )


def read_value(cli: Cli, name: str) -> str:
    """The secret's value: typed at a hidden prompt on a terminal, else standard input (one
    trailing line break dropped, as ``echo`` adds one)."""
    if sys.stdin.isatty():
        try:
            value = getpass.getpass(f"Value of {name} (hidden; Enter to finish): ")
        except EOFError:
            value = ""
        if not value:
            raise cli.fail("no value typed; nothing was stored")
        cli.err.print(Text(f"Read {len(value)} characters.", style="dim"))
        return value
    value = sys.stdin.read()
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    if not value:
        raise cli.fail(
            "no value on standard input. Pipe it in "
            f'(printf %s "$VALUE" | agent-runtime secrets set {name}) or run the command in a '
            "terminal to type it at a hidden prompt; a value is never an argument."
        )
    return value


# --------------------------------------------------------------------------------- commands


@app.command("list")
@api_command()
def list_secrets(cli: Cli, limit: Limit = 20, cursor: Cursor = None, every: Every = False) -> None:
    """List your secrets' names and descriptions, newest first (never their values)."""
    page = cli.page(cli.client.secrets.list(limit=100 if every else limit), cursor=cursor, every=every)
    cli.show_page(page, SECRET_COLUMNS, empty="No secrets yet (agent-runtime secrets set NAME).")


@app.command("set", epilog=EXIT_CODES_HELP)
@api_command()
def set_secret(
    cli: Cli,
    name: SecretName,
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", help="What the secret is for (not secret; kept if not given)."),
    ] = None,
) -> None:
    """Create a secret, or give an existing one a new value.

    The value is read from a hidden prompt on a terminal, or from standard input when it is
    piped (one trailing line break is dropped); it is never a command-line argument, which
    would stay in your shell's history and show in `ps`.

    Examples:

      agent-runtime secrets set tickets_token -d "Tickets API"

      printf %s "$TOKEN" | agent-runtime secrets set tickets_token

      agent-runtime secrets set tickets_token < token.txt
    """
    value = read_value(cli, name)
    try:
        secret = cli.client.secrets.create(name, value, description=description)
        done = "Created"
    except ConflictError as error:
        if error.code != "secret_name_taken":
            raise
        secret = cli.client.secrets.update(name, value, description=description)
        done = "Replaced the value of"
    if cli.human:
        cli.err.print(Text(f"{done} secret {secret.name}.", style="green"))
    _print_secret(cli, secret)


@app.command("delete")
@api_command(output=False)
def delete_secret(cli: Cli, name: SecretName) -> None:
    """Delete a secret: HTTP tools no longer get it (calls naming it fail)."""
    cli.client.secrets.delete(name)
    cli.err.print(Text(f"Deleted secret {name}.", style="green"))
