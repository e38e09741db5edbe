"""``agent-runtime runs``: start runs and follow them live, list, show, cancel them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.text import Text

from agent_runtime_cli.remote.agents import agent_names, resolve_agent
from agent_runtime_cli.remote.artifacts import check_files, upload_file
from agent_runtime_cli.remote.context import (
    EXIT_CODES_HELP,
    Cli,
    Cursor,
    Every,
    Limit,
    api_command,
    parse_metadata,
)
from agent_runtime_cli.remote.follow import FollowMode, RunFollower, exit_code
from agent_runtime_cli.remote.output import (
    Column,
    compact,
    money,
    print_fields,
    print_table,
    status,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import Page, Run, RunEvent, RunStatus

app = typer.Typer(
    help=(
        "Runs: start an agent on an input and follow it live; list, show, cancel runs.\n\n"
        "Examples:\n\n"
        '  agent-runtime runs start calc "What is 6*7?" --follow\n\n'
        "  agent-runtime runs list --agent calc --status waiting\n\n"
        "  agent-runtime runs tail run_…\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
)

RunRef = Annotated[str, typer.Argument(help="Run id (run_…).", show_default=False)]
NoWait = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="When the run needs an approval or an answer and there is no terminal to ask on (or the "
        "output is json/yaml), print the commands that decide and exit 6 instead of waiting.",
    ),
]


# ---------------------------------------------------------------------------------- display


def _usage(run: Run) -> str:
    usage = run.usage
    return (
        f"{usage.requests} requests · {usage.input_tokens} in / {usage.output_tokens} out tokens · "
        f"cost {money(usage.cost_usd)}"
    )


def run_columns(names: Mapping[str, str]) -> list[Column[Run]]:
    """The runs table, agents shown by name (``names``: by id)."""
    return [
        Column("ID", lambda r: r.id, no_wrap=True),
        Column("AGENT", lambda r: f"{names.get(r.agent_id, r.agent_id)} v{r.agent_version}", no_wrap=True),
        Column("STATUS", lambda r: status(r.status), no_wrap=True),
        Column("INPUT", lambda r: compact(r.input, 40)),
        Column("CREATED", lambda r: when_short(r.created_at), no_wrap=True),
        Column("COST", lambda r: money(r.usage.cost_usd), no_wrap=True),
    ]


def print_run(cli: Cli, run: Run) -> None:
    """A run, as the chosen output wants it."""
    if not cli.human:
        write_data(cli.output, run)
        return
    output = run.output if isinstance(run.output, str) or run.output is None else compact(run.output, 2000)
    print_fields(
        cli.out,
        [
            ("id", run.id),
            ("agent", f"{run.agent_id} (version {run.agent_version})"),
            ("status", status(run.status)),
            ("input", run.input),
            ("output", output or ""),
            ("error", f"{run.error.code}: {run.error.message}" if run.error else ""),
            ("usage", _usage(run)),
            ("thread", run.thread_id or ""),
            ("metadata", compact(run.metadata, 200) if run.metadata else ""),
            ("created", when(run.created_at)),
            ("started", when(run.started_at)),
            ("finished", when(run.finished_at)),
            ("temporal", run.temporal_ui_url or ""),
            ("trace", run.trace_url or ""),
        ],
    )


def describe_event(event: RunEvent) -> str:
    """What an event says, on one line."""
    data = event.data
    if (delta := event.text_delta) is not None:
        return repr(delta)
    if (call := event.tool_call) is not None:
        return f"{call.tool}({compact(call.args, 80)})"
    if (result := event.tool_result) is not None:
        return f"{result.tool}: {compact(result.result if result.ok else result.error, 80)}"
    if (request := event.human_request) is not None:
        if request.question is not None and event.type == "input.requested":
            return f"{request.request_id}: {compact(request.question, 80)}"
        if request.tool is not None and event.type == "approval.requested":
            return f"{request.request_id}: {request.tool}({compact(request.args, 60)})"
        said = request.reason or request.answer
        return f"{request.request_id} {request.status}" + (f": {compact(said, 60)}" if said else "")
    if event.is_terminal:
        error = event.error
        return f"{error.code}: {compact(error.message, 80)}" if error else ""
    if event.type == "model.request.started":
        return f"{data.get('model', '')} step {data.get('step', '')} attempt {data.get('attempt', 1)}"
    if event.type == "model.request.finished":
        requested = cast(list[Any], data.get("tool_calls") or [])
        calls = [str(cast(dict[str, Any], call).get("tool")) for call in requested if isinstance(call, dict)]
        return compact(data.get("text"), 60) or ("calls " + ", ".join(calls) if calls else "")
    return compact(data, 80) if data else ""


EVENT_COLUMNS: list[Column[RunEvent]] = [
    Column("SEQ", lambda e: str(e.seq)),
    Column("TIME", lambda e: when(e.at), no_wrap=True),
    Column("TYPE", lambda e: str(e.type), no_wrap=True),
    Column("DETAILS", describe_event),
]


def _follow(cli: Cli, run: Run, *, quiet: bool, no_wait: bool) -> None:
    """Follow ``run`` to its end and exit with its status's code."""
    if quiet:
        mode = FollowMode.QUIET
    elif cli.output_chosen and not cli.human:
        mode = FollowMode.EVENTS
    else:
        mode = FollowMode.LIVE  # on a terminal or not: a CI log reads like a terminal
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    interactive = terminal and mode != FollowMode.EVENTS and not no_wait
    final = RunFollower(cli, run, mode, interactive=interactive, no_wait=no_wait).follow()
    if mode == FollowMode.QUIET:
        print_run(cli, final)
    raise typer.Exit(exit_code(final))


# --------------------------------------------------------------------------------- commands


@app.command("start", epilog=EXIT_CODES_HELP)
@api_command()
def start_run(
    cli: Cli,
    agent: Annotated[str, typer.Argument(help="Agent id (agt_…) or name.", show_default=False)],
    input: Annotated[str, typer.Argument(help="What to ask the agent.", show_default=False)],
    thread: Annotated[
        str | None, typer.Option("--thread", help="Run on this thread (thr_…): it sees the earlier turns.")
    ] = None,
    metadata: Annotated[
        list[str] | None, typer.Option("--metadata", help="key=value to attach to the run (repeatable).")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Run this version (default: the latest).")
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            help="Upload this file and give it to the run (repeatable); its tools "
            "artifact_list/artifact_read read it.",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Show the run live until it ends (text, tool calls, approvals asked here); "
            "exit with its status's code. With -o json: the events as JSON Lines.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            "-w",
            help="Wait quietly until the run ends, then print it; exit with its status's code.",
        ),
    ] = False,
    no_wait: NoWait = False,
) -> None:
    """Start a run of an agent (by id or name) on INPUT.

    Without --follow or --wait, print the run as created and exit 0 at once.

    Examples:

      agent-runtime runs start calc "What is 6*7?" --follow

      agent-runtime runs start calc "What is 6*7?" --wait -o json | jq -r .output

      agent-runtime runs start chat "Hello" --thread thr_… --metadata user=u_42

      agent-runtime runs start summarizer "Summarise the report" --file report.pdf --follow
    """
    if no_wait and not (follow or wait):
        raise cli.fail("--no-wait applies to --follow or --wait")
    check_files(cli, files or [], "--file")
    agent_id = resolve_agent(cli, agent).id
    artifact_ids = [upload_file(cli, path).id for path in files or []]
    handle = cli.client.runs.create(
        agent_id,
        input,
        agent_version=version,
        thread_id=thread,
        metadata=parse_metadata(metadata),
        artifact_ids=artifact_ids or None,
    )
    run = handle.run
    if not (follow or wait):
        print_run(cli, run)
        return
    if follow and not (cli.output_chosen and not cli.human):
        cli.out.print(Text(f"{run.id} · agent {agent} v{run.agent_version}", style="dim"))
    _follow(cli, run, quiet=not follow, no_wait=no_wait)


@app.command(
    "tail",
    help="Show a run live, from its first event until it ends (as `runs start --follow` does); "
    "answer its approvals and questions here.\n\n" + EXIT_CODES_HELP,
)
@api_command()
def tail_run(cli: Cli, run: RunRef, no_wait: NoWait = False) -> None:
    current = cli.client.runs.get(run)
    if not (cli.output_chosen and not cli.human):
        cli.out.print(
            Text(f"{current.id} · {current.status} · input: {compact(current.input, 60)}", style="dim")
        )
    _follow(cli, current, quiet=False, no_wait=no_wait)


@app.command("list")
@api_command()
def list_runs(
    cli: Cli,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's runs (id or name).")] = None,
    statuses: Annotated[
        list[RunStatus] | None, typer.Option("--status", help="Only runs in this status (repeatable).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only runs created at or after this time (local time).")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option("--until", help="Only runs created before this time (local time).")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    every: Every = False,
) -> None:
    """List runs, newest first.

    Examples:

      agent-runtime runs list --agent calc --status waiting --status running

      agent-runtime runs list --since 2026-12-01 --all -o json
    """
    agent_id = resolve_agent(cli, agent).id if agent else None
    pager = cli.client.runs.list(
        agent_id=agent_id,
        status=[s.value for s in statuses] if statuses else None,
        since=since.astimezone() if since else None,
        until=until.astimezone() if until else None,
        limit=100 if every else limit,
    )
    page = cli.page(pager, cursor=cursor, every=every)
    if not cli.human:
        write_data(cli.output, page)
        return
    names = agent_names(cli) if page.data else {}
    print_table(cli.out, page.data, run_columns(names), empty="No runs.", next_cursor=page.next_cursor)


@app.command("get")
@api_command()
def get_run(cli: Cli, run: RunRef) -> None:
    """Show a run: status, input, output, error, usage and cost."""
    print_run(cli, cli.client.runs.get(run))


@app.command("cancel")
@api_command()
def cancel_run(cli: Cli, run: RunRef) -> None:
    """Cancel a run: it ends `cancelled` once its current step notices."""
    cancelled = cli.client.runs.cancel(run)
    if cli.human:
        cli.err.print(Text(f"Cancelling {cancelled.id}.", style="magenta"))
    print_run(cli, cancelled)


@app.command("events")
@api_command()
def list_events(
    cli: Cli,
    run: RunRef,
    after: Annotated[int | None, typer.Option("--after", min=0, help="Only events after this seq.")] = None,
) -> None:
    """List a run's recorded events in order, without waiting for more (see `runs tail`)."""
    events = list(cli.client.runs.events(run, after=after, limit=100))
    if not cli.human:
        write_data(cli.output, Page[RunEvent](data=events, next_cursor=None))
        return
    print_table(cli.out, events, EVENT_COLUMNS, empty="No events.")
