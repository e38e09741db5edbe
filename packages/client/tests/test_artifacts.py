"""``client.artifacts`` against the real API and a real S3 server (SeaweedFS): uploads through the
API and through presigned URLs, lists, downloads, download URLs, deletion, a run reading an
uploaded file, and the API's refusals as typed errors."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path

import httpx
import pytest

from agent_runtime_client import (
    AgentRuntime,
    Artifact,
    AsyncAgentRuntime,
    ConflictError,
    NotFoundError,
    RunStatus,
    ToolParams,
    ValidationError,
)
from agent_runtime_client._files import guess_content_type

from .conftest import Stack

pytestmark = pytest.mark.timeout(90)

ARTIFACT_TOOLS: list[ToolParams] = [{"name": "artifact_list"}, {"name": "artifact_read"}]


def _recording_client(seen: list[httpx.Request]) -> httpx.Client:
    """An ``httpx.Client`` that notes every request it sends (for the client's ``http_client``)."""
    return httpx.Client(timeout=30, event_hooks={"request": [seen.append]})


# ---------------------------------------------------------------------------------- uploads


async def test_small_files_upload_from_bytes_a_path_and_a_file_object(
    client: AgentRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "cities.csv"
    path.write_bytes(b"city,population\nLyon,522250\n")
    positioned = io.BytesIO(b"HEADER|the rest is the file")
    positioned.seek(len(b"HEADER|"))

    def scenario() -> tuple[Artifact, Artifact, Artifact, bytes, bytes, bytes]:
        from_bytes = client.artifacts.upload(b"The secret word is ostrich.\n", name="notes.txt")
        from_path = client.artifacts.upload(path)
        from_file = client.artifacts.upload(positioned, name="rest.bin")
        return (
            from_bytes,
            from_path,
            from_file,
            client.artifacts.read(from_bytes.id),
            client.artifacts.read(from_path.id),
            client.artifacts.read(from_file.id),
        )

    from_bytes, from_path, from_file, *contents = await asyncio.to_thread(scenario)

    assert (from_bytes.name, from_bytes.content_type, from_bytes.status) == (
        "notes.txt",
        "text/plain",
        "ready",
    )
    assert from_bytes.sha256 == hashlib.sha256(b"The secret word is ostrich.\n").hexdigest()
    assert (from_path.name, from_path.content_type, from_path.size) == (
        "cities.csv",
        "text/csv",
        path.stat().st_size,
    )
    assert (from_file.content_type, from_file.size) == (
        "application/octet-stream",
        len(b"the rest is the file"),
    )
    assert contents == [b"The secret word is ostrich.\n", path.read_bytes(), b"the rest is the file"]


async def test_a_file_above_the_threshold_goes_to_the_storage_with_a_presigned_put(
    stack: Stack, tmp_path: Path
) -> None:
    data = os.urandom(1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    seen: list[httpx.Request] = []

    def scenario() -> tuple[Artifact, bytes]:
        with (
            _recording_client(seen) as http_client,
            AgentRuntime(stack.url, stack.api_key, http_client=http_client) as client,
        ):
            artifact = client.artifacts.upload(path, presign_threshold=256 * 1024)
            return artifact, client.artifacts.read(artifact.id)

    artifact, content = await asyncio.to_thread(scenario)

    assert (artifact.status, artifact.size) == ("ready", len(data))
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()
    assert content == data
    start, put, complete = seen[:3]
    assert (start.method, start.url.path) == ("POST", "/v1/artifacts/uploads")
    assert put.method == "PUT" and not str(put.url).startswith(stack.url)
    assert "authorization" not in put.headers  # the API's key never goes to the storage
    assert put.headers["content-length"] == str(len(data))
    assert (complete.method, complete.url.path) == ("POST", f"/v1/artifacts/{artifact.id}/complete")
    assert all(request.url.path != "/v1/artifacts" or request.method != "POST" for request in seen)


async def test_a_file_the_api_finds_too_large_falls_back_to_the_presigned_upload(stack: Stack) -> None:
    limit = stack.settings.artifact_max_upload_bytes
    data = b"x" * (limit + 1)
    seen: list[httpx.Request] = []

    def scenario() -> Artifact:
        with (
            _recording_client(seen) as http_client,
            AgentRuntime(stack.url, stack.api_key, http_client=http_client) as client,
        ):
            # A threshold above the API's limit: the API answers 413, the SDK goes presigned.
            return client.artifacts.upload(data, name="huge.bin", presign_threshold=limit * 2)

    artifact = await asyncio.to_thread(scenario)

    assert (artifact.status, artifact.size) == ("ready", len(data))
    assert [(r.method, r.url.path) for r in seen][:2] == [
        ("POST", "/v1/artifacts"),
        ("POST", "/v1/artifacts/uploads"),
    ]


async def test_the_apis_refusals_are_typed_errors_with_the_code_and_field(
    client: AgentRuntime, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")

    def scenario() -> tuple[ValidationError, ValidationError, ValidationError]:
        with pytest.raises(ValidationError) as empty_file:
            client.artifacts.upload(empty)
        with pytest.raises(ValidationError) as page:
            client.artifacts.upload(b"<script>alert(1)</script>", name="page.html")
        with pytest.raises(ValidationError) as presigned:
            client.artifacts.upload(b"<svg/>", name="x.svg", presign_threshold=1)
        return empty_file.value, page.value, presigned.value

    empty_file, page, presigned = await asyncio.to_thread(scenario)

    assert empty_file.code == "empty_file" and empty_file.errors[0].loc == ["body", "file"]
    assert page.code == "content_type_not_allowed" and page.errors[0].loc == ["body", "file"]
    assert "text/html" in page.detail
    assert presigned.code == "content_type_not_allowed" and presigned.errors[0].loc == [
        "body",
        "content_type",
    ]


async def test_a_pipe_is_uploaded_whole_and_names_give_media_types(client: AgentRuntime) -> None:
    data = os.urandom(200_000)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    def scenario() -> tuple[Artifact, Artifact, bytes]:
        with os.fdopen(read_end, "rb") as pipe:  # cannot seek: the SDK copies it first
            piped = client.artifacts.upload(pipe, name="piped.bin", presign_threshold=64 * 1024)
        gzipped = client.artifacts.upload(b"\x1f\x8b not really", name="rows.csv.gz")
        return piped, gzipped, client.artifacts.read(piped.id)

    feeder = asyncio.create_task(asyncio.to_thread(feed))
    piped, gzipped, content = await asyncio.to_thread(scenario)
    await feeder

    assert (piped.size, piped.sha256, content) == (len(data), hashlib.sha256(data).hexdigest(), data)
    assert gzipped.content_type == "application/gzip"  # the compressed format, not what it holds
    assert guess_content_type("report.PDF") == "application/pdf"
    assert guess_content_type("no-extension") == "application/octet-stream"


async def test_bad_arguments_are_refused_before_any_request(client: AgentRuntime, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")

    with pytest.raises(ValueError, match="name is required"):
        client.artifacts.upload(b"no name")
    with pytest.raises(FileNotFoundError):
        client.artifacts.upload(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError):
        client.artifacts.upload(tmp_path)
    with text_file.open() as opened, pytest.raises(TypeError, match="binary mode"):
        client.artifacts.upload(opened)  # pyright: ignore[reportArgumentType]


# ---------------------------------------------------------------------- lists and downloads


async def test_lists_filter_by_thread_and_status_and_follow_cursors(client: AgentRuntime) -> None:
    def scenario() -> tuple[list[Artifact], list[int], list[Artifact], list[Artifact], str]:
        thread = client.threads.create(metadata={"test": "artifacts"})
        made = [
            client.artifacts.upload(f"row {n}".encode(), name=f"{n}.txt", thread_id=thread.id)
            for n in range(3)
        ]
        pending = client.artifacts.start_upload(
            "later.bin", content_type="application/octet-stream", size=10, thread_id=thread.id
        )
        ready = list(client.artifacts.list(thread_id=thread.id, status="ready", limit=2))
        pages = [len(page.data) for page in client.artifacts.list(thread_id=thread.id, limit=2).pages()]
        waiting = list(client.artifacts.list(thread_id=thread.id, status="pending"))
        return made, pages, ready, waiting, pending.artifact.id

    made, pages, ready, waiting, pending_id = await asyncio.to_thread(scenario)

    assert [a.id for a in ready] == [a.id for a in reversed(made)]  # newest first, across pages
    assert all(a.thread_id == made[0].thread_id for a in ready)
    assert pages == [2, 2]  # three ready, one pending
    assert [a.id for a in waiting] == [pending_id] and waiting[0].status == "pending"


async def test_downloads_go_to_a_path_or_a_file_object_and_download_urls_need_no_key(
    client: AgentRuntime, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    target.write_bytes(b"replaced")
    buffer = io.BytesIO()

    def scenario() -> tuple[int, int, bytes]:
        artifact = client.artifacts.upload(data, name="data.bin")
        to_path = client.artifacts.download(artifact.id, target)
        to_file = client.artifacts.download(artifact.id, buffer)
        link = client.artifacts.download_url(artifact.id)
        return to_path, to_file, httpx.get(link.url, timeout=30).content

    to_path, to_file, linked = await asyncio.to_thread(scenario)

    assert to_path == to_file == len(data)
    assert target.read_bytes() == data and buffer.getvalue() == data and linked == data
    assert os.listdir(target.parent) == ["copy.bin"]  # no temporary file left
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not 0600


async def test_a_deleted_artifact_is_not_found_and_a_pending_one_is_not_ready(
    client: AgentRuntime, tmp_path: Path
) -> None:
    def scenario() -> tuple[NotFoundError, NotFoundError, ConflictError, ConflictError]:
        artifact = client.artifacts.upload(b"short-lived", name="gone.txt")
        client.artifacts.delete(artifact.id)
        client.artifacts.delete(artifact.id)  # again: still fine
        with pytest.raises(NotFoundError) as get:
            client.artifacts.get(artifact.id)
        with pytest.raises(NotFoundError) as read:
            client.artifacts.read(artifact.id)
        pending = client.artifacts.start_upload("later.txt", content_type="text/plain", size=5)
        with pytest.raises(ConflictError) as download:
            client.artifacts.download(pending.artifact.id, tmp_path / "later.txt")
        with pytest.raises(ConflictError) as complete:
            client.artifacts.complete(pending.artifact.id)
        return get.value, read.value, download.value, complete.value

    get, read, download, complete = await asyncio.to_thread(scenario)

    assert get.status == 404 and read.status == 404
    assert download.code == "artifact_not_ready"
    assert complete.code == "artifact_not_uploaded"
    assert not (tmp_path / "later.txt").exists()


# ---------------------------------------------------------------------------------- in runs


async def test_a_run_given_an_uploaded_file_reads_it(aclient: AsyncAgentRuntime) -> None:
    notes = await aclient.artifacts.upload(b"The secret word is ostrich.\n", name="notes.txt")
    agent = await aclient.agents.create(
        "sdk-artifact-reader", version={"model": "builtin:scripted", "tools": ARTIFACT_TOOLS}
    )

    handle = await aclient.runs.create(
        agent.id, f"Read the attached file {notes.id}", artifact_ids=[notes.id]
    )
    run = await handle.wait(timeout=60)

    assert run.status == RunStatus.SUCCEEDED, run
    assert run.artifact_ids == [notes.id]
    assert run.output is not None and "ostrich" in run.output
    reads = [
        event.data["result"]
        async for event in handle.events()
        if event.type == "tool.call.finished" and event.data["tool"] == "artifact_read"
    ]
    assert [read["text"] for read in reads] == ["The secret word is ostrich.\n"]


# ------------------------------------------------------------------------------------ async


async def test_async_uploads_both_ways_and_downloads(aclient: AsyncAgentRuntime, tmp_path: Path) -> None:
    data = os.urandom(600_000)
    source = tmp_path / "async.bin"
    source.write_bytes(data)

    small = await aclient.artifacts.upload(b"small and async", name="small.txt")
    large = await aclient.artifacts.upload(source, presign_threshold=100_000)
    written = await aclient.artifacts.download(large.id, tmp_path / "back.bin")
    buffer = io.BytesIO()
    await aclient.artifacts.download(small.id, buffer)
    listed = [a.id async for a in aclient.artifacts.list(status="ready", limit=100)]

    assert large.sha256 == hashlib.sha256(data).hexdigest() and large.status == "ready"
    assert written == len(data) and (tmp_path / "back.bin").read_bytes() == data
    assert buffer.getvalue() == b"small and async"
    assert await aclient.artifacts.read(small.id) == b"small and async"
    assert {small.id, large.id} <= set(listed)
    link = await aclient.artifacts.download_url(small.id)
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(link.url)).content == b"small and async"
