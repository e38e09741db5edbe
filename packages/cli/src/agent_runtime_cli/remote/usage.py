"""``agent-runtime usage``: the tenant's model requests, tokens and cost, and its limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from agent_runtime_cli.remote.agents import agent_names
from agent_runtime_cli.remote.context import EXIT_CODES_HELP, Cli, api_command
from agent_runtime_cli.remote.output import money, print_fields, when, write_data
from agent_runtime_client import Budget, EffectiveLimit, UsageReport, UsageTotals

DEFAULT_DAYS = 7
"""What ``usage`` shows without ``--from``: today and the 6 days before it (UTC)."""


class _UsageGroup(TyperGroup):
    """``usage [OPTIONS]`` is ``usage show [OPTIONS]``; ``usage limits`` is its own command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_UsageGroup,
    help=(
        "Usage and cost: your tenant's model requests and tokens by day, agent or model "
        "(`usage` is `usage show`), and the limits that apply to it.\n\n"
        "Examples:\n\n"
        "  agent-runtime usage\n\n"
        "  agent-runtime usage --from 2026-12-01 --to 2026-12-31 --group-by model\n\n"
        "  agent-runtime usage --group-by agent -o json | jq .totals.cost_usd\n\n"
        "  agent-runtime usage limits"
    ),
)


class GroupBy(StrEnum):
    """What ``usage --group-by`` puts on each row."""

    DAY = "day"
    AGENT = "agent"
    MODEL = "model"


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def window(start: date | None, end: date | None, *, today: date) -> tuple[datetime, datetime]:
    """``[since, until)`` for the UTC days ``start`` to ``end``, both included (default: the
    last :data:`DEFAULT_DAYS` days to today; ``start`` alone: up to today)."""
    last = end or today
    first = start or (last - timedelta(days=DEFAULT_DAYS - 1))
    return _day_start(first), _day_start(last + timedelta(days=1))


def _group_cells(row: UsageTotals, groups: Sequence[str], names: dict[str, str]) -> list[str]:
    cells: list[str] = []
    for group in groups:
        if group == GroupBy.DAY:
            cells.append("" if row.day is None else row.day.isoformat())
        elif group == GroupBy.AGENT:
            agent_id = row.agent_id or ""
            name = names.get(agent_id)
            cells.append(f"{name} ({agent_id})" if name else agent_id)
        else:
            cells.append(row.model or "")
    return cells


def _number_cells(row: UsageTotals) -> list[str]:
    return [
        f"{row.requests:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        money(row.cost_usd),
        f"{row.unpriced_requests:,}" if row.unpriced_requests else "",
    ]


def print_report(cli: Cli, report: UsageReport, names: dict[str, str]) -> None:
    """The report as a table: a row per group, then the totals."""
    groups = list(report.group_by)
    cli.out.print(
        Text(
            f"Usage from {report.since.astimezone(UTC):%Y-%m-%d %H:%M} "
            f"to {report.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            + (f", by {', '.join(groups)}" if groups else ""),
            style="dim",
        )
    )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
    for group in groups:
        table.add_column(group.upper(), no_wrap=True)
    for header in ("REQUESTS", "INPUT TOKENS", "OUTPUT TOKENS", "COST", "UNPRICED"):
        table.add_column(header, justify="right", no_wrap=True)
    for index, row in enumerate(report.groups):
        last = index == len(report.groups) - 1
        cells = [Text(cell) for cell in _group_cells(row, groups, names)]  # names are not markup
        table.add_row(*cells, *_number_cells(row), end_section=last)
    label = ["total", *("" for _ in groups[1:])] if groups else []
    table.add_row(*label, *_number_cells(report.totals), style="bold")
    cli.out.print(table)
    if not report.groups and groups:
        cli.out.print(Text("No model requests in this window.", style="dim"))
    if report.totals.unpriced_requests:
        cli.out.print(
            Text(
                "UNPRICED requests are not in the cost: their model has no known price "
                "(an admin can set one: PUT /v1/model-prices/PROVIDER/MODEL).",
                style="dim",
            )
        )
    if report.budget is not None:
        _print_budget(cli, report.budget)


def _print_budget(cli: Cli, budget: Budget) -> None:
    for limit in budget.status:
        used = f"{limit.used} of {limit.limit}" + (" (used up)" if limit.exhausted else "")
        cli.out.print(
            Text.assemble(
                ("budget ", "dim"),
                (limit.name, "bold"),
                f": {used}, resets {when(limit.resets_at)}",
                style="red" if limit.exhausted else "",
            )
        )


# --------------------------------------------------------------------------------- commands


@app.command("show", epilog=EXIT_CODES_HELP)
@api_command()
def show_usage(
    cli: Cli,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help=f"First day (UTC, YYYY-MM-DD; default: {DEFAULT_DAYS - 1} days before --to).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            formats=["%Y-%m-%d"],
            help="Last day, included (UTC, YYYY-MM-DD; default: today).",
            show_default=False,
        ),
    ] = None,
    group_by: Annotated[
        list[GroupBy] | None,
        typer.Option(
            "--group-by",
            "-g",
            case_sensitive=False,
            help="A row per day, agent or model (repeatable to combine: -g day -g model; default: day).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show your tenant's model requests, tokens and cost over a window of UTC days, grouped,
    with the totals (and your budgets, if you have any).

    Cost counts priced requests only; UNPRICED counts requests whose model has no known price.
    -o json prints the API's report (GET /v1/usage).

    Examples:

      agent-runtime usage

      agent-runtime usage --from 2026-12-01 --to 2026-12-31 --group-by agent --group-by model
    """
    today = datetime.now(UTC).date()
    first = start.date() if start else None
    last = end.date() if end else None
    if first is not None and last is not None and first > last:
        raise cli.fail(f"--from {first} is after --to {last}")
    since, until = window(first, last, today=today)
    groups = [group.value for group in group_by] if group_by else [GroupBy.DAY.value]
    report = cli.client.usage.report(since=since, until=until, group_by=list(dict.fromkeys(groups)))
    if not cli.human:
        write_data(cli.output, report)
        return
    names = agent_names(cli) if GroupBy.AGENT in report.group_by and report.groups else {}
    print_report(cli, report, names)


def _limit(limit: EffectiveLimit) -> str:
    return f"{limit.value:,} ({'your own' if limit.source == 'tenant' else 'the default'})"


@app.command("limits")
@api_command()
def show_limits(cli: Cli) -> None:
    """Show the rate limits and the cap on active runs that apply to your tenant (GET /v1/limits).

    Over a rate limit the API answers 429 rate_limited; at the cap, starting a run answers 429
    active_run_limit. Only the platform's operators change them.
    """
    limits = cli.client.limits.get()
    if not cli.human:
        write_data(cli.output, limits)
        return
    print_fields(
        cli.out,
        [
            ("tenant", limits.tenant_id),
            ("requests per minute", _limit(limits.rate_limit_per_minute)),
            ("burst", _limit(limits.rate_limit_burst)),
            ("active runs", _limit(limits.max_active_runs)),
            ("rate limits", "enforced" if limits.rate_limits_enforced else "not enforced in this deployment"),
            ("updated", when(limits.updated_at)),
        ],
    )
