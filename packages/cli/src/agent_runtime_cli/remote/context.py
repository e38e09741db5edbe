"""What every API command shares: connection options, output format, exit codes, and turning
the API's errors into a message (never a stack trace).

Commands are plain functions taking a :class:`Cli` first; :func:`api_command` adds the shared
options (``--url``, ``--api-key``, ``--profile`` and, for commands that print a resource,
``--output``) to their signature so that typer shows them on every command, where users type
them (``agent-runtime runs list --profile prod``), and maps errors to exit codes.
"""

from __future__ import annotations

import functools
import inspect
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from agent_runtime_cli.remote.config import (
    API_KEY_ENV,
    DEFAULT_URL,
    ConfigError,
    Connection,
    resolve_connection,
)
from agent_runtime_cli.remote.output import (
    Column,
    OutputFormat,
    default_format,
    make_console,
    print_table,
    write_data,
)
from agent_runtime_client import (
    AgentRuntime,
    AgentRuntimeError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    Page,
    Pager,
    RetryPolicy,
)

T = TypeVar("T", bound=BaseModel)


class ExitCode(IntEnum):
    """What the API commands exit with; scripts branch on these."""

    OK = 0
    """The command worked; for a run followed to its end, it succeeded."""
    RUN_FAILED = 1
    USAGE = 2
    """Bad options or arguments, an unreadable file, an unknown profile."""
    API_ERROR = 3
    """The API refused the request (4xx/5xx; its message is printed) or could not be reached."""
    RUN_CANCELLED = 4
    RUN_TIMED_OUT = 5
    NEEDS_HUMAN = 6
    """``--no-wait``: the run waits for an approval or an answer (the command to give it is printed)."""
    INTERRUPTED = 130
    """Ctrl-C: the command stopped; a run it followed goes on."""


EXIT_CODES_HELP = (
    "Exit codes: 0 ok (a followed run succeeded), 1 the run failed, 2 usage error, "
    "3 API error or API unreachable, 4 the run was cancelled, 5 the run timed out, "
    "6 the run waits for a human (--no-wait), 130 interrupted (Ctrl-C)."
)

CONNECTION_PANEL = "Connection"

_URL_OPTION = typer.Option(
    "--url",
    help=f"API base URL (default: a profile's, else $AGENT_RUNTIME_URL, else {DEFAULT_URL}).",
    rich_help_panel=CONNECTION_PANEL,
    show_default=False,
)
_API_KEY_OPTION = typer.Option(
    "--api-key",
    help=f"API key (default: a profile's, else ${API_KEY_ENV}).",
    rich_help_panel=CONNECTION_PANEL,
    show_default=False,
)
_PROFILE_OPTION = typer.Option(
    "--profile",
    help="Use this profile's URL and key (also $AGENT_RUNTIME_PROFILE; see `agent-runtime profiles`).",
    rich_help_panel=CONNECTION_PANEL,
    show_default=False,
)
_OUTPUT_OPTION = typer.Option(
    "--output",
    "-o",
    help="table, json or yaml (default: table on a terminal, else json).",
    case_sensitive=False,
    show_default=False,
)


@dataclass
class Cli:
    """One invocation of an API command: where it connects, how it prints, its client."""

    url: str | None = None
    api_key: str | None = None
    profile: str | None = None
    output: OutputFormat = OutputFormat.TABLE
    output_chosen: bool = False
    """Whether ``--output`` was given (a followed run shows the live view unless it was)."""
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))
    _connection: Connection | None = None
    _client: AgentRuntime | None = None

    @property
    def connection(self) -> Connection:
        """Where requests go (resolved once; see ``agent_runtime_cli.remote.config``)."""
        if self._connection is None:
            self._connection = resolve_connection(url=self.url, api_key=self.api_key, profile=self.profile)
        return self._connection

    @property
    def client(self) -> AgentRuntime:
        """The SDK client (a CLI retries less than a service: 3 attempts, waits up to 10 s)."""
        if self._client is None:
            connection = self.connection
            self._client = AgentRuntime(
                connection.url,
                connection.api_key,
                retry=RetryPolicy(max_attempts=3, max_delay_s=10),
            )
        return self._client

    @property
    def human(self) -> bool:
        """Whether the output is for people (a table) rather than programs."""
        return self.output == OutputFormat.TABLE

    def command(self, *words: str) -> str:
        """An ``agent-runtime`` command line to show the user, with this one's ``--url`` and
        ``--profile`` (never its key) so that it reaches the same API."""
        parts = ["agent-runtime", *words]
        if self.profile:
            parts += ["--profile", self.profile]
        if self.url:
            parts += ["--url", self.url]
        return " ".join(part if part.startswith("--") else shlex.quote(part) for part in parts)

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()

    def fail(self, message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
        """Print ``error: message``; return the exit to raise."""
        self.err.print(Text.assemble(("error: ", "bold red"), message))
        return typer.Exit(code)

    def page(self, pager: Pager[T], *, cursor: str | None, every: bool) -> Page[T]:
        """One page of a list (after ``cursor``), or with ``every`` all its items in one page."""
        if every:
            return Page[T](data=list(pager), next_cursor=None)
        return pager.page(cursor)

    def show_page(self, page: Page[T], columns: Sequence[Column[T]], *, empty: str) -> None:
        """A page as the chosen output wants it: the API's page (JSON, YAML), or a table (``empty``
        when it has no item) that says how to get the next page."""
        if not self.human:
            write_data(self.output, page)
            return
        print_table(self.out, page.data, columns, empty=empty, next_cursor=page.next_cursor)


def print_api_error(cli: Cli, error: APIError) -> None:
    """The API's problem as the user should see it: status, code, detail, each invalid field."""
    err = cli.err
    # With invalid fields, the detail repeats the first: the title heads the list instead.
    headline = error.title if error.errors else error.detail
    err.print(
        Text.assemble(("error: ", "bold red"), f"{headline} ", (f"({error.status} {error.code})", "dim"))
    )
    for field_error in error.errors:
        location = ".".join(str(part) for part in field_error.loc)
        err.print(Text.assemble("  ", (location, "bold"), f": {field_error.msg}"))
    if isinstance(error, AuthenticationError):
        err.print(
            Text(
                f"  Set an API key with --api-key, ${API_KEY_ENV} or a profile "
                "(agent-runtime profiles set NAME --url URL --api-key KEY).",
                style="dim",
            )
        )
    if error.request_id:
        err.print(Text(f"  request id: {error.request_id}", style="dim"))


def _connection_hint(cli: Cli, error: APIConnectionError) -> None:
    url = cli.connection.url
    cli.err.print(Text.assemble(("error: ", "bold red"), f"cannot reach the API at {url}: {error.message}"))
    cli.err.print(
        Text(
            f"  Is it running? `agent-runtime dev` serves {DEFAULT_URL}; choose another API with "
            "--url, $AGENT_RUNTIME_URL or a profile.",
            style="dim",
        )
    )


def _shared_parameters(output: bool) -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("url", keyword, default=None, annotation=Annotated[str | None, _URL_OPTION]),
        inspect.Parameter(
            "api_key", keyword, default=None, annotation=Annotated[str | None, _API_KEY_OPTION]
        ),
        inspect.Parameter(
            "profile", keyword, default=None, annotation=Annotated[str | None, _PROFILE_OPTION]
        ),
    ]
    if output:
        parameters.insert(
            0,
            inspect.Parameter(
                "output", keyword, default=None, annotation=Annotated[OutputFormat | None, _OUTPUT_OPTION]
            ),
        )
    return parameters


def api_command(*, output: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Make ``func(cli, ...)`` a command with the shared options; map errors to exit codes.

    Args:
        output: Whether the command prints a resource (it then takes ``--output``).
    """

    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(func, eval_str=True)
        own = list(signature.parameters.values())[1:]  # the first is the Cli
        shared = _shared_parameters(output)
        # Options are keyword-only: put positional ones first, as Python requires.
        parameters = [p for p in own if p.kind != inspect.Parameter.KEYWORD_ONLY]
        parameters += [p for p in own if p.kind == inspect.Parameter.KEYWORD_ONLY] + shared

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> None:
            chosen: OutputFormat | None = kwargs.pop("output", None)
            cli = Cli(
                url=kwargs.pop("url"),
                api_key=kwargs.pop("api_key"),
                profile=kwargs.pop("profile"),
                output=chosen or default_format(),
                output_chosen=chosen is not None,
            )
            try:
                func(cli, *args, **kwargs)
            except ConfigError as error:
                raise cli.fail(str(error)) from None
            except APIError as error:
                print_api_error(cli, error)
                raise typer.Exit(ExitCode.API_ERROR) from None
            except APIConnectionError as error:
                _connection_hint(cli, error)
                raise typer.Exit(ExitCode.API_ERROR) from None
            except AgentRuntimeError as error:
                raise cli.fail(error.message, ExitCode.API_ERROR) from None
            except KeyboardInterrupt:
                cli.err.print(Text("interrupted", style="dim"))
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            finally:
                cli.close()

        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
        return command

    return decorate


# ------------------------------------------------------------------------- shared arguments

Limit = Annotated[
    int, typer.Option("--limit", min=1, max=100, help="Items to show (one page of the API's list).")
]
Cursor = Annotated[
    str | None, typer.Option("--cursor", help="Show the page after this cursor (printed under a table).")
]
Every = Annotated[bool, typer.Option("--all", help="Show every item, following the pages.")]


def parse_metadata(pairs: list[str] | None) -> dict[str, Any] | None:
    """``--metadata key=value`` options as a dict (values are strings)."""
    if not pairs:
        return None
    metadata: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--metadata")
        metadata[key] = value
    return metadata
