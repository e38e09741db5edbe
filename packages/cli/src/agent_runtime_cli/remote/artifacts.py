"""``agent-runtime artifacts``: files of your tenant that runs read (``runs start --file``) and write."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from agent_runtime_cli.remote.context import Cli, Cursor, Every, Limit, api_command
from agent_runtime_cli.remote.output import (
    Column,
    print_fields,
    status,
    when,
    when_short,
    write_data,
)
from agent_runtime_client import Artifact

app = typer.Typer(
    help=(
        "Artifacts: files runs read and write (bytes in the deployment's object storage).\n\n"
        "Examples:\n\n"
        "  agent-runtime artifacts upload report.pdf\n\n"
        '  agent-runtime runs start summarizer "Summarise the report" --file report.pdf --follow\n\n'
        "  agent-runtime artifacts list --run run_…\n\n"
        "  agent-runtime artifacts download art_… -o summary.md"
    ),
    no_args_is_help=True,
)

ArtifactRef = Annotated[str, typer.Argument(help="Artifact id (art_…).", show_default=False)]
RunOption = Annotated[str | None, typer.Option("--run", help="Only those of this run (run_…).")]
ThreadOption = Annotated[str | None, typer.Option("--thread", help="Only those of this thread (thr_…).")]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """``size`` bytes for people: ``512 B``, ``1.5 MiB``."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


ARTIFACT_COLUMNS: list[Column[Artifact]] = [
    Column("ID", lambda a: a.id, no_wrap=True),
    Column("NAME", lambda a: a.name),
    Column("TYPE", lambda a: a.content_type, no_wrap=True),
    Column("SIZE", lambda a: human_size(a.size), no_wrap=True),
    Column("STATUS", lambda a: status(a.status), no_wrap=True),
    Column("RUN / THREAD", lambda a: a.run_id or a.thread_id or "", no_wrap=True),
    Column("CREATED", lambda a: when_short(a.created_at), no_wrap=True),
]


def print_artifact(cli: Cli, artifact: Artifact) -> None:
    """An artifact, as the chosen output wants it."""
    if not cli.human:
        write_data(cli.output, artifact)
        return
    print_fields(
        cli.out,
        [
            ("id", artifact.id),
            ("name", artifact.name),
            ("type", artifact.content_type),
            ("size", f"{human_size(artifact.size)} ({artifact.size} bytes)"),
            ("sha256", artifact.sha256 or ""),
            ("status", status(artifact.status)),
            ("run", artifact.run_id or ""),
            ("thread", artifact.thread_id or ""),
            ("created by", artifact.created_by),
            ("created", when(artifact.created_at)),
        ],
    )


def check_files(cli: Cli, paths: list[Path], option: str) -> None:
    """Fail (exit 2) before any upload unless every path is a readable file."""
    for path in paths:
        if not path.exists():
            raise cli.fail(f"{option} {path}: no such file")
        if not path.is_file():
            raise cli.fail(f"{option} {path}: not a file")


def upload_file(
    cli: Cli,
    path: Path,
    *,
    name: str | None = None,
    content_type: str | None = None,
    run_id: str | None = None,
    thread_id: str | None = None,
) -> Artifact:
    """Upload ``path`` (a message on stderr for people); an unreadable file fails with exit 2."""
    try:
        artifact = cli.client.artifacts.upload(
            path, name=name, content_type=content_type, run_id=run_id, thread_id=thread_id
        )
    except OSError as error:
        raise cli.fail(f"cannot read {path}: {error.strerror or error}") from None
    if cli.human:
        cli.err.print(Text(f"Uploaded {path} as {artifact.id} ({human_size(artifact.size)}).", style="green"))
    return artifact


# --------------------------------------------------------------------------------- commands


@app.command("upload")
@api_command()
def upload_artifact(
    cli: Cli,
    path: Annotated[Path, typer.Argument(help="The file to upload.", show_default=False)],
    name: Annotated[
        str | None, typer.Option("--name", help="The artifact's name (default: the file's).")
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Its media type (default: guessed from the name)."),
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Tie it to this run (run_…).")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Tie it to this thread (thr_…).")] = None,
) -> None:
    """Upload a file; large ones go straight to the object storage. Print the artifact.

    Examples:

      agent-runtime artifacts upload report.pdf

      agent-runtime artifacts upload export.bin --name data.parquet --content-type application/octet-stream
    """
    check_files(cli, [path], "upload")
    artifact = upload_file(cli, path, name=name, content_type=content_type, run_id=run, thread_id=thread)
    print_artifact(cli, artifact)


@app.command("list")
@api_command()
def list_artifacts(
    cli: Cli,
    run: RunOption = None,
    thread: ThreadOption = None,
    artifact_status: Annotated[
        str | None, typer.Option("--status", help="Only `ready` or only `pending` ones.")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    every: Every = False,
) -> None:
    """List artifacts, newest first."""
    pager = cli.client.artifacts.list(
        run_id=run, thread_id=thread, status=artifact_status, limit=100 if every else limit
    )
    page = cli.page(pager, cursor=cursor, every=every)
    cli.show_page(page, ARTIFACT_COLUMNS, empty="No artifacts.")


@app.command("get")
@api_command()
def get_artifact(cli: Cli, artifact: ArtifactRef) -> None:
    """Show an artifact's metadata: name, type, size, SHA-256, status, run or thread."""
    print_artifact(cli, cli.client.artifacts.get(artifact))


@app.command("download")
@api_command(output=False)
def download_artifact(
    cli: Cli,
    artifact: ArtifactRef,
    destination: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it: a file, a directory, or - for stdout (default: its name, here).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Download an artifact's bytes to a file (never replacing one unless --force).

    Examples:

      agent-runtime artifacts download art_…

      agent-runtime artifacts download art_… -o - | head
    """
    if destination == "-":
        cli.client.artifacts.download(artifact, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    metadata = cli.client.artifacts.get(artifact)
    target = Path(destination) if destination is not None else Path(Path(metadata.name).name)
    if target.is_dir():
        target = target / Path(metadata.name).name
    if target.exists() and not force:
        raise cli.fail(f"{target} exists: add --force to replace it, or choose another path with -o")
    try:
        written = cli.client.artifacts.download(artifact, target)
    except OSError as error:
        raise cli.fail(f"cannot write {target}: {error.strerror or error}") from None
    cli.err.print(Text(f"Downloaded {artifact} to {target} ({human_size(written)}).", style="green"))


@app.command("delete")
@api_command(output=False)
def delete_artifact(cli: Cli, artifact: ArtifactRef) -> None:
    """Delete an artifact and its bytes."""
    cli.client.artifacts.delete(artifact)
    cli.err.print(Text(f"Deleted artifact {artifact}.", style="green"))
