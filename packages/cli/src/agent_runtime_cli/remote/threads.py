"""``agent-runtime threads``: conversations whose runs see the earlier turns."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from agent_runtime_cli.remote.context import Cli, Cursor, Every, Limit, api_command, parse_metadata
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    print_fields,
    print_table,
    status,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import Page, Thread, ThreadMessage

app = typer.Typer(
    help=(
        "Threads: conversations; a run started with --thread sees the thread's earlier turns.\n\n"
        "Examples:\n\n"
        "  agent-runtime threads create --metadata user=u_42\n\n"
        '  agent-runtime runs start chat "Hello, my name is Ada." --thread thr_… --follow\n\n'
        "  agent-runtime threads messages thr_…"
    ),
    no_args_is_help=True,
)

ThreadRef = Annotated[str, typer.Argument(help="Thread id (thr_…).", show_default=False)]
Metadata = Annotated[list[str] | None, typer.Option("--metadata", help="key=value (repeatable).")]

THREAD_COLUMNS: list[Column[Thread]] = [
    Column("ID", lambda t: t.id, no_wrap=True),
    Column("STATUS", lambda t: status(t.status), no_wrap=True),
    Column("ACTIVE RUN", lambda t: t.active_run_id or "", no_wrap=True),
    Column("METADATA", lambda t: compact(t.metadata, 50) if t.metadata else ""),
    Column("UPDATED", lambda t: when_short(t.updated_at), no_wrap=True),
]


def _part_text(part: dict[str, Any]) -> str:
    kind = part.get("part_kind")
    if kind == "tool-call":
        return f"→ {part.get('tool_name')}({compact(part.get('args'), 60)})"
    if kind == "tool-return":
        return f"← {part.get('tool_name')}: {compact(part.get('content'), 60)}"
    content = part.get("content")
    return compact(content, 200) if content is not None else compact(part, 80)


MESSAGE_COLUMNS: list[Column[ThreadMessage]] = [
    Column("SEQ", lambda m: str(m.seq)),
    Column("RUN", lambda m: m.run_id, no_wrap=True),
    Column("ROLE", lambda m: m.role, no_wrap=True),
    Column("CONTENT", lambda m: "\n".join(_part_text(part) for part in m.parts)),
]


def _print_thread(cli: Cli, thread: Thread) -> None:
    if not cli.human:
        write_data(cli.output, thread)
        return
    print_fields(
        cli.out,
        [
            ("id", thread.id),
            ("status", status(thread.status)),
            ("active run", thread.active_run_id or ""),
            ("queued runs", ", ".join(thread.queued_run_ids)),
            ("metadata", compact(thread.metadata, 200) if thread.metadata else ""),
            ("summary", compact(thread.summary.text, 200) if thread.summary else ""),
            ("created", when(thread.created_at)),
            ("updated", when(thread.updated_at)),
        ],
    )


@app.command("create")
@api_command()
def create_thread(cli: Cli, metadata: Metadata = None) -> None:
    """Start a conversation; run its turns with `runs start AGENT INPUT --thread THREAD`."""
    thread = cli.client.threads.create(metadata=parse_metadata(metadata))
    if cli.human:
        cli.err.print(Text(f"Created thread {thread.id}.", style="green"))
    _print_thread(cli, thread)


@app.command("list")
@api_command()
def list_threads(
    cli: Cli,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="Only threads whose metadata has key=value (repeatable)."),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    every: Every = False,
) -> None:
    """List threads, newest first."""
    pager = cli.client.threads.list(metadata=parse_metadata(metadata), limit=100 if every else limit)
    page = cli.page(pager, cursor=cursor, every=every)
    cli.show_page(page, THREAD_COLUMNS, empty="No threads.")


@app.command("get")
@api_command()
def get_thread(cli: Cli, thread: ThreadRef) -> None:
    """Show a thread: its state (idle, busy, interrupted), runs and metadata."""
    _print_thread(cli, cli.client.threads.get(thread))


@app.command("messages")
@api_command()
def thread_messages(cli: Cli, thread: ThreadRef) -> None:
    """Show a thread's conversation, message by message."""
    messages = list(cli.client.threads.messages(thread))
    if not cli.human:
        write_data(cli.output, Page[ThreadMessage](data=messages, next_cursor=None))
        return
    print_table(cli.out, messages, MESSAGE_COLUMNS, empty="No messages yet.")


@app.command("delete")
@api_command(output=False)
def delete_thread(cli: Cli, thread: ThreadRef) -> None:
    """Delete a thread (refused while a run has the turn)."""
    cli.client.threads.delete(thread)
    cli.err.print(Text(f"Deleted thread {thread}.", style="green"))
