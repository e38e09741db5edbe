"""How API commands print what they read: a table for people, JSON or YAML for programs.

``--output json`` prints exactly what the API returned (a list as the API's page,
``{"data": [...], "next_cursor": ...}``), so scripts can rely on the API reference for its
shape; ``yaml`` is the same data in YAML. ``table`` picks the columns a person wants and is not
meant to be parsed. Without ``--output``, a terminal gets a table and a pipe gets JSON.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

import yaml
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

T = TypeVar("T", bound=BaseModel)

STATUS_STYLES = {
    "succeeded": "green",
    "approved": "green",
    "answered": "green",
    "idle": "green",
    "failed": "red",
    "rejected": "red",
    "error": "red",
    "timed_out": "red",
    "expired": "red",
    "cancelled": "magenta",
    "waiting": "yellow",
    "pending": "yellow",
    "interrupted": "yellow",
    "running": "cyan",
    "busy": "cyan",
    "processing": "cyan",
    "queued": "blue",
}


class OutputFormat(StrEnum):
    """What read commands print (``--output``)."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def default_format(stream: Any = None) -> OutputFormat:
    """A table on a terminal, JSON in a pipe or a file."""
    stream = sys.stdout if stream is None else stream
    return OutputFormat.TABLE if stream.isatty() else OutputFormat.JSON


def jsonable(value: Any) -> Any:
    """``value`` as the API's JSON (models dumped as the API sent them, unknown members kept)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in cast(Iterable[Any], value)]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in cast(dict[Any, Any], value).items()}
    return value


def write_data(fmt: OutputFormat, data: Any) -> None:
    """Print ``data`` as JSON or YAML on stdout."""
    plain = jsonable(data)
    if fmt == OutputFormat.YAML:
        sys.stdout.write(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(plain, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_json_line(data: Any) -> None:
    """Print ``data`` as one line of JSON (a stream of events is JSON Lines)."""
    sys.stdout.write(json.dumps(jsonable(data), ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- cell formatting


def when(value: datetime | None) -> str:
    """A timestamp in local time, to the second."""
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def when_short(value: datetime | None) -> str:
    """A timestamp in local time, short: the time of day if it is today's."""
    if value is None:
        return ""
    local = value.astimezone()
    return local.strftime(
        "%H:%M:%S" if local.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M"
    )


def status(value: object) -> Text:
    """A status, coloured by what it means."""
    text = str(value)
    return Text(text, style=STATUS_STYLES.get(text, ""))


def compact(value: Any, width: int = 60) -> str:
    """A value on one line (JSON for structures), cut to ``width`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(jsonable(value), ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def money(value: Any) -> str:
    """A cost in USD (``unknown`` while the model's price is)."""
    return "unknown" if value is None else f"${value}"


# ------------------------------------------------------------------------------------ tables


@dataclass(frozen=True)
class Column(Generic[T]):
    """A table column: its header and how to show one item in it."""

    header: str
    cell: Callable[[T], str | Text]
    no_wrap: bool = False
    max_width: int | None = None


def _text(cell: str | Text) -> Text:
    # A str cell is shown as it is: rich would read "[x]" in a name or a description as markup.
    return Text(cell) if isinstance(cell, str) else cell


def _width(cell: str | Text) -> int:
    return _text(cell).cell_len


def make_console(*, stderr: bool = False) -> Console:
    """A console that does not wrap messages (commands in them must stay whole) and, outside a
    terminal, lays tables out on 200 columns rather than 80 (unless ``COLUMNS`` says)."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200
    return console


def print_table(
    console: Console,
    items: Sequence[T],
    columns: Sequence[Column[T]],
    *,
    empty: str,
    next_cursor: str | None = None,
    more_hint: str = "",
) -> None:
    """Items as a table (``empty`` when there is none), and how to get the next page."""
    if not items:
        console.print(Text(empty, style="dim"))
    else:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
        rows = [[_text(column.cell(item)) for column in columns] for item in items]
        for index, column in enumerate(columns):
            # A no_wrap column (ids, times) is never cut: ids are for copying.
            widest = max(_width(row[index]) for row in rows)
            table.add_column(
                column.header,
                no_wrap=column.no_wrap,
                max_width=column.max_width,
                min_width=max(len(column.header), widest) if column.no_wrap else len(column.header),
            )
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if next_cursor:
        console.print(Text(f"More: add --cursor {next_cursor}{more_hint} (or --all).", style="dim"))


def print_fields(console: Console, rows: Sequence[tuple[str, str | Text]]) -> None:
    """One object as ``name  value`` lines (empty values left out)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in rows:
        if (value.plain if isinstance(value, Text) else value) != "":
            table.add_row(name, _text(value))
    console.print(table)
