"""``agent-runtime approvals`` and ``agent-runtime questions``: what runs wait for a human.

Both list the tenant-wide inbox (pending by default) and decide by request id alone: the run
is found in the inbox (``--run`` names it and saves that look-up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated

import typer
from rich.text import Text

from agent_runtime_cli.remote.agents import agent_names, resolve_agent
from agent_runtime_cli.remote.context import Cli, Cursor, Every, ExitCode, Limit, api_command
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
from agent_runtime_client import Approval, ApprovalInboxItem, Question, QuestionInboxItem

approvals_app = typer.Typer(
    help=(
        "Approvals: tool calls waiting for a human decision (tools with requires_approval).\n\n"
        "Examples:\n\n"
        "  agent-runtime approvals list\n\n"
        "  agent-runtime approvals approve apr_…\n\n"
        '  agent-runtime approvals reject apr_… --reason "not today"'
    ),
    no_args_is_help=True,
)
questions_app = typer.Typer(
    help=(
        "Questions: what agents ask a human with the ask_human tool.\n\n"
        "Examples:\n\n"
        "  agent-runtime questions list\n\n"
        '  agent-runtime questions answer inp_… "By train."'
    ),
    no_args_is_help=True,
)


class ApprovalStatusChoice(StrEnum):
    """``--status`` of ``approvals list``."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ALL = "all"


class QuestionStatusChoice(StrEnum):
    """``--status`` of ``questions list``."""

    PENDING = "pending"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ALL = "all"


RunFilter = Annotated[str | None, typer.Option("--run", help="Only this run's (run_…).")]
AgentFilter = Annotated[str | None, typer.Option("--agent", help="Only this agent's runs' (id or name).")]
RunOfRequest = Annotated[
    str | None, typer.Option("--run", help="The request's run (run_…) (default: found in the inbox).")
]


def _statuses(chosen: Sequence[StrEnum] | None) -> list[str] | None:
    values = [str(choice) for choice in chosen] if chosen else ["pending"]
    return None if "all" in values else values


def approval_columns(names: Mapping[str, str]) -> list[Column[ApprovalInboxItem]]:
    """The approvals table, agents shown by name (``names``: by id)."""
    return [
        Column("ID", lambda a: a.id, no_wrap=True),
        Column("RUN", lambda a: a.run_id, no_wrap=True),
        Column("AGENT", lambda a: names.get(a.agent_id, a.agent_id), no_wrap=True),
        Column("TOOL CALL", lambda a: f"{a.tool}({compact(a.args, 50)})"),
        Column("STATUS", lambda a: status(a.status), no_wrap=True),
        Column("REQUESTED", lambda a: when_short(a.requested_at), no_wrap=True),
    ]


def question_columns(names: Mapping[str, str]) -> list[Column[QuestionInboxItem]]:
    """The questions table, agents shown by name (``names``: by id)."""
    return [
        Column("ID", lambda q: q.id, no_wrap=True),
        Column("RUN", lambda q: q.run_id, no_wrap=True),
        Column("AGENT", lambda q: names.get(q.agent_id, q.agent_id), no_wrap=True),
        Column("QUESTION", lambda q: compact(q.question, 60)),
        Column("STATUS", lambda q: status(q.status), no_wrap=True),
        Column("REQUESTED", lambda q: when_short(q.requested_at), no_wrap=True),
    ]


def _print_request(cli: Cli, request: Approval | Question) -> None:
    if not cli.human:
        write_data(cli.output, request)
        return
    rows: list[tuple[str, str | Text]] = [("id", request.id), ("run", request.run_id)]
    if isinstance(request, Approval):
        rows += [("tool call", f"{request.tool}({compact(request.args, 200)})")]
        rows += [("status", status(request.status)), ("reason", request.reason or "")]
    else:
        rows += [("question", request.question), ("status", status(request.status))]
        rows += [("answer", request.answer or "")]
    rows += [("decided by", request.decided_by or ""), ("decided", when(request.decided_at))]
    print_fields(cli.out, rows)


def _run_of_approval(cli: Cli, approval_id: str, run: str | None) -> str:
    if run:
        return run
    for item in cli.client.approvals.inbox(limit=100):
        if item.id == approval_id:
            return item.run_id
    raise cli.fail(
        f"no pending approval {approval_id} (decided, expired or unknown; "
        "see `agent-runtime approvals list --status all`)",
        ExitCode.API_ERROR,
    )


def _run_of_question(cli: Cli, question_id: str, run: str | None) -> str:
    if run:
        return run
    for item in cli.client.questions.inbox(limit=100):
        if item.id == question_id:
            return item.run_id
    raise cli.fail(
        f"no pending question {question_id} (answered, expired or unknown; "
        "see `agent-runtime questions list --status all`)",
        ExitCode.API_ERROR,
    )


# -------------------------------------------------------------------------------- approvals


@approvals_app.command("list")
@api_command()
def list_approvals(
    cli: Cli,
    run: RunFilter = None,
    agent: AgentFilter = None,
    statuses: Annotated[
        list[ApprovalStatusChoice] | None,
        typer.Option(
            "--status", help="Only approvals in this status (repeatable; all: any) (default: pending)."
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    every: Every = False,
) -> None:
    """List approvals across your runs, newest first: by default those waiting for a decision."""
    agent_id = resolve_agent(cli, agent).id if agent else None
    pager = cli.client.approvals.inbox(
        status=_statuses(statuses), agent_id=agent_id, run_id=run, limit=100 if every else limit
    )
    page = cli.page(pager, cursor=cursor, every=every)
    if not cli.human:
        write_data(cli.output, page)
        return
    print_table(
        cli.out,
        page.data,
        approval_columns(agent_names(cli) if page.data else {}),
        empty="No approvals waiting.",
        next_cursor=page.next_cursor,
    )


@approvals_app.command("approve")
@api_command()
def approve(
    cli: Cli,
    approval: Annotated[str, typer.Argument(help="Approval id (apr_…).", show_default=False)],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded with the decision).")] = None,
    run: RunOfRequest = None,
) -> None:
    """Approve a pending tool call: the tool runs and the run goes on."""
    decided = cli.client.approvals.approve(_run_of_approval(cli, approval, run), approval, reason=reason)
    if cli.human:
        cli.err.print(
            Text(f"Approved {decided.id} ({decided.tool}); run {decided.run_id} goes on.", style="green")
        )
    _print_request(cli, decided)


@approvals_app.command("reject")
@api_command()
def reject(
    cli: Cli,
    approval: Annotated[str, typer.Argument(help="Approval id (apr_…).", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why: the model is told.", show_default=False)],
    run: RunOfRequest = None,
) -> None:
    """Reject a pending tool call: it does not run; the model is told the reason and goes on."""
    decided = cli.client.approvals.reject(_run_of_approval(cli, approval, run), approval, reason=reason)
    if cli.human:
        cli.err.print(
            Text(f"Rejected {decided.id} ({decided.tool}); run {decided.run_id} goes on.", style="red")
        )
    _print_request(cli, decided)


# -------------------------------------------------------------------------------- questions


@questions_app.command("list")
@api_command()
def list_questions(
    cli: Cli,
    run: RunFilter = None,
    agent: AgentFilter = None,
    statuses: Annotated[
        list[QuestionStatusChoice] | None,
        typer.Option(
            "--status", help="Only questions in this status (repeatable; all: any) (default: pending)."
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    every: Every = False,
) -> None:
    """List questions across your runs, newest first: by default those waiting for an answer."""
    agent_id = resolve_agent(cli, agent).id if agent else None
    pager = cli.client.questions.inbox(
        status=_statuses(statuses), agent_id=agent_id, run_id=run, limit=100 if every else limit
    )
    page = cli.page(pager, cursor=cursor, every=every)
    if not cli.human:
        write_data(cli.output, page)
        return
    print_table(
        cli.out,
        page.data,
        question_columns(agent_names(cli) if page.data else {}),
        empty="No questions waiting.",
        next_cursor=page.next_cursor,
    )


@questions_app.command("answer")
@api_command()
def answer_question(
    cli: Cli,
    question: Annotated[str, typer.Argument(help="Question id (inp_…).", show_default=False)],
    answer: Annotated[str, typer.Argument(help="Your answer.", show_default=False)],
    run: RunOfRequest = None,
) -> None:
    """Answer an agent's pending question; its run goes on with the answer."""
    answered = cli.client.questions.answer(_run_of_question(cli, question, run), answer, request_id=question)
    if cli.human:
        cli.err.print(Text(f"Answered {answered.id}; run {answered.run_id} goes on.", style="green"))
    _print_request(cli, answered)
