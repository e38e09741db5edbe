"""``agent-runtime store``: the tenant's long-term memory, JSON objects by namespace and key
(the store the agents' memory tools use).

A namespace is written with its labels joined by dots (``prefs.alice``), as the API's query
strings write it (a label never contains a dot); a key is any text, passed as its own argument
(quote it for the shell; put ``--`` before one that starts with ``-``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.text import Text

from agent_runtime_cli.remote.agents import read_document
from agent_runtime_cli.remote.context import Cli, api_command
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    print_fields,
    print_table,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import StoreItem, StoreSearchItem

app = typer.Typer(
    help=(
        "The store: long-term memory, JSON objects by namespace and key. A namespace is written "
        "with dots between its labels (prefs.alice).\n\n"
        "Examples:\n\n"
        '  agent-runtime store put prefs.alice colour --value \'{"favourite": "teal"}\'\n\n'
        "  agent-runtime store get prefs.alice colour\n\n"
        '  agent-runtime store search prefs --filter \'{"favourite": "teal"}\'\n\n'
        "  agent-runtime store namespaces\n\n"
        "  agent-runtime store delete prefs.alice colour"
    ),
    no_args_is_help=True,
)

Namespace = Annotated[
    str,
    typer.Argument(help="Namespace: labels joined by dots (prefs.alice).", show_default=False),
]
Key = Annotated[
    str,
    typer.Argument(help="The item's key (any text; after -- if it starts with -).", show_default=False),
]


def parse_namespace(cli: Cli, text: str, *, what: str = "NAMESPACE", allow_empty: bool = False) -> list[str]:
    """``prefs.alice`` as its labels, ``["prefs", "alice"]``."""
    if not text:
        if allow_empty:
            return []
        raise cli.fail(f"{what} is empty: write the labels joined by dots (prefs.alice)")
    labels = text.split(".")
    if any(not label for label in labels):
        raise cli.fail(
            f"{what} {text!r} has an empty label: write the labels joined by single dots (prefs.alice); "
            "a label cannot contain a dot"
        )
    return labels


def dotted(namespace: list[str]) -> str:
    """A namespace as users write it."""
    return ".".join(namespace)


def parse_json_object(cli: Cli, text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object (a usage error, naming ``what``, otherwise)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise cli.fail(f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise cli.fail(f"{what} must be a JSON object ({{...}}), not {type(value).__name__}")
    return cast(dict[str, Any], value)


ITEM_COLUMNS: list[Column[StoreSearchItem]] = [
    Column("NAMESPACE", lambda i: dotted(i.namespace), no_wrap=True),
    Column("KEY", lambda i: i.key, max_width=40),
    Column("VALUE", lambda i: compact(i.value, 80)),
    Column("UPDATED", lambda i: when_short(i.updated_at), no_wrap=True),
]
SCORE_COLUMN: Column[StoreSearchItem] = Column(
    "SCORE", lambda i: "" if i.score is None else f"{i.score:.3f}", no_wrap=True
)


def _print_item(cli: Cli, item: StoreItem) -> None:
    if not cli.human:
        write_data(cli.output, item)
        return
    print_fields(
        cli.out,
        [
            ("namespace", dotted(item.namespace)),
            ("key", item.key),
            ("created", when(item.created_at)),
            ("updated", when(item.updated_at)),
            ("expires", when(item.expires_at)),
        ],
    )
    cli.out.print(json.dumps(item.value, indent=2, ensure_ascii=False), markup=False)


# --------------------------------------------------------------------------------- commands


@app.command("get")
@api_command()
def get_item(cli: Cli, namespace: Namespace, key: Key) -> None:
    """Show an item: its value (a JSON object) and times."""
    _print_item(cli, cli.client.store.get(parse_namespace(cli, namespace), key))


@app.command("put")
@api_command()
def put_item(
    cli: Cli,
    namespace: Namespace,
    key: Key,
    value: Annotated[
        str | None, typer.Option("--value", help="The value: a JSON object.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="Read the value from a JSON or YAML file ('-': standard input).",
            show_default=False,
            allow_dash=True,
        ),
    ] = None,
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl", min=1, help="Seconds until the item expires (default: never).", show_default=False
        ),
    ] = None,
) -> None:
    """Create or replace an item. Its value is a JSON object, given with --value, read from a
    file (-f), or piped on standard input.

    Examples:

      agent-runtime store put prefs.alice colour --value '{"favourite": "teal"}'

      agent-runtime store put prefs.alice profile -f profile.yaml --ttl 86400

      jq -n '{city: "Paris"}' | agent-runtime store put prefs.alice home
    """
    if value is not None and file is not None:
        raise cli.fail("give the value with --value or --file, not both")
    labels = parse_namespace(cli, namespace)
    if value is not None:
        document = parse_json_object(cli, value, "--value")
    elif file is not None:
        document = read_document(cli, file)
    elif not sys.stdin.isatty():
        document = parse_json_object(cli, sys.stdin.read(), "standard input")
    else:
        raise cli.fail("no value: give --value '{\"…\": …}', --file value.json, or pipe the JSON object in")
    item = cli.client.store.put(labels, key, document, ttl_s=ttl)
    if cli.human:
        cli.err.print(Text(f"Stored {dotted(item.namespace)} / {item.key}.", style="green"))
    _print_item(cli, item)


@app.command("delete")
@api_command(output=False)
def delete_item(cli: Cli, namespace: Namespace, key: Key) -> None:
    """Delete an item."""
    labels = parse_namespace(cli, namespace)
    cli.client.store.delete(labels, key)
    cli.err.print(Text(f"Deleted {dotted(labels)} / {key}.", style="green"))


@app.command("search")
@api_command()
def search_items(
    cli: Cli,
    prefix: Annotated[
        str,
        typer.Argument(
            help="Only items whose namespace starts with these labels (prefs, or prefs.alice; "
            "default: every item).",
            show_default=False,
        ),
    ] = "",
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help='Only items whose value contains this JSON object (e.g. \'{"kind": "preference"}\').',
            show_default=False,
        ),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            "-q",
            help="Rank by similarity to this text (with an embedding model; else: values containing it).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Items to show.")] = 10,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many items first.")] = 0,
) -> None:
    """Search items, most recently updated first (most similar first with --query and an
    embedding model). -o json prints the API's answer, {"items": [...]}.

    Examples:

      agent-runtime store search prefs --filter '{"favourite": "teal"}'

      agent-runtime store search memories --query "what colour does the user like"
    """
    labels = parse_namespace(cli, prefix, what="PREFIX", allow_empty=True)
    wanted = parse_json_object(cli, filter, "--filter") if filter is not None else None
    items = cli.client.store.search(labels, filter=wanted, query=query or None, limit=limit, offset=offset)
    if not cli.human:
        write_data(cli.output, {"items": items})
        return
    columns = ITEM_COLUMNS + ([SCORE_COLUMN] if any(i.score is not None for i in items) else [])
    print_table(cli.out, items, columns, empty="No items found.")
    if len(items) == limit:
        cli.out.print(Text(f"More: add --offset {offset + limit}.", style="dim"))


@app.command("namespaces")
@api_command()
def list_namespaces(
    cli: Cli,
    prefix: Annotated[
        str,
        typer.Argument(
            help="Only namespaces starting with these labels (* matches any one label).", show_default=False
        ),
    ] = "",
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", min=1, max=10, help="Cut longer namespaces to this many labels."),
    ] = None,
) -> None:
    """List the namespaces that hold items, sorted. -o json prints {"namespaces": [[...], ...]}."""
    labels = parse_namespace(cli, prefix, what="PREFIX", allow_empty=True)
    found = cli.client.store.list_namespaces(prefix=labels or None, max_depth=max_depth, limit=1000)
    if not cli.human:
        write_data(cli.output, {"namespaces": found})
        return
    if not found:
        cli.out.print(Text("No namespaces.", style="dim"))
    for namespace in found:
        cli.out.print(dotted(namespace), markup=False)
