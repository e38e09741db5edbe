"""The artifact tools' I/O: the tenant's artifacts (rows in Postgres under row-level security as
the run's tenant, bytes in the object storage).

Activity half; the tools themselves are defined in
:mod:`agent_runtime_worker.agents.artifacts_toolset`. What a run may read: its input artifacts
(the run row's ``input_artifact_ids``), the artifacts it wrote and those written on its thread;
anything else (another run's file, another tenant's id, a deleted file) is a tool error the model
reads, worded alike so that it learns nothing about files it may not see.

A write is idempotent across activity retries: the artifact's id is derived from the run and the
tool call (and the activity's first scheduling time, so ids still sort by creation). Its row is
written first, ``pending`` and naming the object's key, then the bytes, then the row turns
``ready``: a retry finds the row, and returns it or finishes the write to the same key; an attempt
never retried leaves a ``pending`` row, which the retention sweep removes with its object (as it
does for API uploads). No object is ever stored that no row names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any, Final

from pydantic_ai import ModelRetry
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from ulid import ULID

from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.lifecycle import DedupeKey, EventType
from agent_runtime_core.models import Artifact, ArtifactStatus, Run
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ArtifactRepository, RunRepository
from agent_runtime_core.repositories.artifacts import WRITE_DEADLINE
from agent_runtime_core.schemas.artifact import (
    artifact_name_problem,
    content_type_allowed,
    normalize_content_type,
)
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage, tenant_object_key
from agent_runtime_worker.agents.artifacts_toolset import MAX_READ_CHARS
from agent_runtime_worker.events import RunEventWriter

MAX_LISTED: Final = 100
"""``artifact_list`` shows at most this many outputs."""
MAX_READ_BYTES: Final = 20 * 1024 * 1024
"""A file larger than this is not read (its text would not fit a run anyway)."""

RESULT_PREVIEW_CHARS: Final = 2_000
"""A tool result stored as an artifact shows the model this many characters."""

_TEXT_TYPES: Final = ("text/",)
_JSON_TYPES: Final = ("application/json", "application/ld+json")
_PDF_TYPE: Final = "application/pdf"


def output_artifact_id(run_id: str, tool_call_id: str, first_scheduled: datetime) -> str:
    """``art_<ulid>`` the same on every attempt of one tool call: the ULID's time is the call's
    first scheduling, its randomness a hash of the run and the call."""
    digest = hashlib.sha256(f"{run_id}:{tool_call_id}".encode()).digest()
    milliseconds = int(first_scheduled.timestamp() * 1000)
    return "art_" + str(ULID.from_bytes(milliseconds.to_bytes(6, "big") + digest[:10])).lower()


def _unreadable(artifact_id: str) -> ModelRetry:
    return ModelRetry(
        f"There is no file '{artifact_id}' this run may read. Call artifact_list to see the files "
        "it was given and the ones it wrote."
    )


def extract_text(data: bytes, content_type: str, name: str) -> str:
    """The text of a file: UTF-8 (bad bytes replaced), JSON pretty-printed, CSV as is, PDFs
    through pypdf (page by page). Raises ``ModelRetry`` for other kinds."""
    essence = content_type.split(";")[0].strip().lower()
    lowered = name.lower()
    if essence == _PDF_TYPE or lowered.endswith(".pdf"):
        return _pdf_text(data)
    if essence in _JSON_TYPES or essence.endswith("+json") or lowered.endswith(".json"):
        text = data.decode("utf-8", errors="replace")
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    if essence == "text/csv" or lowered.endswith(".csv"):
        text = data.decode("utf-8", errors="replace")
        # Normalised rows (quotes and line ends made uniform) the model can scan.
        rows = csv.reader(io.StringIO(text))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        try:
            writer.writerows(rows)
        except csv.Error:
            return text
        return out.getvalue()
    if essence.startswith(_TEXT_TYPES) or lowered.endswith((".txt", ".md", ".markdown")):
        return data.decode("utf-8", errors="replace")
    raise ModelRetry(
        f"The file '{name}' ({content_type}) is not text: only text, Markdown, JSON, CSV and PDF "
        "files can be read."
    )


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise ModelRetry(f"The PDF could not be read: {error}") from None
    return "\n\n".join(text.strip() for text in pages).strip()


def _listed(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "name": artifact.name,
        "content_type": artifact.content_type,
        "size": artifact.size,
    }


class DatabaseArtifacts:
    """:class:`~agent_runtime_worker.agents.artifacts_toolset.ArtifactBackend` over the artifacts
    table and the object storage."""

    def __init__(
        self, database: Database, storage: ObjectStorage | None, events: RunEventWriter, settings: Settings
    ) -> None:
        """Read and write the tenant's artifacts; record ``artifact.created`` through ``events``."""
        self.database = database
        self._storage = storage
        self.events = events
        self.settings = settings

    @property
    def storage(self) -> ObjectStorage:
        """The object storage (a tool error without one)."""
        if self._storage is None:
            raise ModelRetry("Files are not available on this deployment (no object storage is configured).")
        return self._storage

    @staticmethod
    async def _run(session: AsyncSession, tenant_id: str, run_id: str) -> Run:
        run = await RunRepository(session, tenant_id).get(run_id)
        if run is None:  # pragma: no cover - the run's row exists before its workflow starts
            raise ModelRetry("This run's record cannot be found; files are not available.")
        return run

    async def list(self, tenant_id: str, run_id: str) -> dict[str, Any]:
        """The run's input artifacts (in the order given) and its outputs so far (oldest first)."""
        async with session_scope(self.database, tenant_id) as session:
            run = await self._run(session, tenant_id, run_id)
            repository = ArtifactRepository(session, tenant_id)
            inputs = [
                artifact
                for artifact_id in run.input_artifact_ids or []
                if (artifact := await repository.get(artifact_id)) is not None
            ]
            outputs = await repository.list(limit=MAX_LISTED, run_id=run_id, status=ArtifactStatus.READY)
            return {
                "inputs": [_listed(artifact) for artifact in inputs],
                "outputs": [_listed(artifact) for artifact in reversed(outputs)],
            }

    async def read(
        self, tenant_id: str, run_id: str, artifact_id: str, *, offset: int, max_chars: int
    ) -> dict[str, Any]:
        """``max_chars`` characters of the artifact's text from ``offset``, and where to go on."""
        storage = self.storage
        async with session_scope(self.database, tenant_id) as session:
            run = await self._run(session, tenant_id, run_id)
            artifact = await ArtifactRepository(session, tenant_id).get(artifact_id)
            readable = artifact is not None and (
                artifact_id in (run.input_artifact_ids or [])
                or artifact.run_id == run_id
                or (run.thread_id is not None and artifact.thread_id == run.thread_id)
            )
            if artifact is None or not readable or artifact.status != ArtifactStatus.READY:
                raise _unreadable(artifact_id)
            name, content_type, size, key = (
                artifact.name,
                artifact.content_type,
                artifact.size,
                artifact.object_key,
            )
        if size > MAX_READ_BYTES:
            raise ModelRetry(
                f"The file '{name}' is too large to read ({size} bytes; at most {MAX_READ_BYTES})."
            )
        download = await storage.download(key)
        if download is None:
            raise _unreadable(artifact_id)
        try:
            data = b"".join([chunk async for chunk in download.chunks()])
        finally:
            await download.close()
        text = extract_text(data, content_type, name)
        limit = min(max_chars, MAX_READ_CHARS)
        page = text[offset : offset + limit]
        end = offset + len(page)
        return {
            "id": artifact_id,
            "name": name,
            "content_type": content_type,
            "total_chars": len(text),
            "offset": offset,
            "text": page,
            "next_offset": end if end < len(text) else None,
        }

    async def write(
        self,
        tenant_id: str,
        run_id: str,
        tool_call_id: str,
        *,
        name: str,
        content: str,
        content_type: str,
    ) -> dict[str, Any]:
        """Store ``content`` as an output artifact of the run, once per tool call."""
        storage = self.storage
        if (problem := artifact_name_problem(name)) is not None:
            raise ModelRetry(f"That file name cannot be used: {problem}.")
        media_type = normalize_content_type(content_type)
        if media_type is None:
            raise ModelRetry(f"'{content_type}' is not a media type (type/subtype, e.g. text/plain).")
        if not content_type_allowed(media_type, list(self.settings.artifact_content_types)):
            raise ModelRetry(f"Files of type '{media_type}' are not allowed here; use text/plain.")
        data = content.encode()
        if not data:
            raise ModelRetry("The file is empty; write some content.")
        if len(data) > self.settings.artifact_max_upload_bytes:
            raise ModelRetry(
                f"The file is too large (at most {self.settings.artifact_max_upload_bytes} bytes)."
            )
        first_scheduled = (
            activity.info().scheduled_time if activity.in_activity() else datetime(2026, 1, 1, tzinfo=UTC)
        )
        artifact_id = output_artifact_id(run_id, tool_call_id, first_scheduled)
        # 1. The row first, `pending`, naming the key: an attempt that dies from here on leaves a
        #    row the retention sweep finds (and a retry finds, and finishes), never a lost object.
        async with session_scope(self.database, tenant_id) as session:
            run = await self._run(session, tenant_id, run_id)
            artifact = await ArtifactRepository(session, tenant_id).add_if_absent(
                Artifact(
                    id=artifact_id,
                    tenant_id=tenant_id,
                    name=name,
                    content_type=media_type,
                    size=0,
                    status=ArtifactStatus.PENDING,
                    run_id=run_id,
                    thread_id=run.thread_id,
                    created_by=f"run:{run_id}",
                    object_key=tenant_object_key(tenant_id, "artifacts", artifact_id),
                    upload_expires_at=utcnow() + WRITE_DEADLINE,
                )
            )
        if artifact is None:  # the file was deleted (through the API) since an earlier attempt
            raise ModelRetry("That file was deleted while it was being written; write it again.")
        if artifact.status == ArtifactStatus.READY:  # an earlier attempt of this call wrote it
            return await self._created(tenant_id, run_id, tool_call_id, artifact)
        # 2. The bytes, to the row's key (attempts of one call write the same bytes there).
        key = artifact.object_key
        upload = await storage.upload(key, content_type=artifact.content_type, max_bytes=len(data))
        try:
            await upload.write(data)
            stored = await upload.finish()
        except BaseException:
            await upload.abort()
            raise
        # 3. Ready.
        async with session_scope(self.database, tenant_id) as session:
            repository = ArtifactRepository(session, tenant_id)
            current = await repository.get(artifact_id, for_update=True)
            if current is not None and current.status == ArtifactStatus.PENDING:
                current = await repository.mark_ready(current, size=stored.size, sha256=stored.sha256)
        if current is None:  # deleted meanwhile: its object goes too
            await storage.delete(key)
            raise ModelRetry("That file was deleted while it was being written; write it again.")
        return await self._created(tenant_id, run_id, tool_call_id, current)

    async def store_tool_result(
        self, tenant_id: str, run_id: str, tool_call_id: str, tool: str, text: str, *, is_json: bool
    ) -> dict[str, Any] | None:
        """Store a large tool result as an output artifact of the run (once per call) and return
        what the model gets instead: a preview and the artifact's id. ``None``: not stored (no
        object storage, or the storage refused it), so the caller truncates as usual."""
        if self._storage is None:
            return None
        extension, media_type = (".json", "application/json") if is_json else (".txt", "text/plain")
        if is_json:  # as artifact_read shows it, so the preview's offsets hold there too
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        safe_call = "".join(c if c.isalnum() or c in "-_" else "_" for c in tool_call_id)[:60]
        try:
            stored = await self.write(
                tenant_id,
                run_id,
                f"{tool_call_id}:result",
                name=f"{tool}-result-{safe_call}{extension}",
                content=text,
                content_type=media_type,
            )
        except ModelRetry:  # too large even for an artifact, a type not allowed here, ...
            return None
        return {
            "result_stored_as_artifact": stored["id"],
            "name": stored["name"],
            "size": stored["size"],
            "preview": text[:RESULT_PREVIEW_CHARS],
            "note": (
                f"The result was too large to show ({len(text)} characters); its first "
                f"{RESULT_PREVIEW_CHARS} are above. Read the rest with artifact_read "
                f"(artifact_id={stored['id']}, offset={RESULT_PREVIEW_CHARS})."
            ),
        }

    async def _created(
        self, tenant_id: str, run_id: str, tool_call_id: str, artifact: Artifact
    ) -> dict[str, Any]:
        listed = _listed(artifact)
        await self.events.record(
            tenant_id,
            run_id,
            EventType.ARTIFACT_CREATED,
            {
                "artifact_id": artifact.id,
                **{k: v for k, v in listed.items() if k != "id"},
                "tool_call_id": tool_call_id,
            },
            dedupe_key=DedupeKey.artifact_created(artifact.id),
        )
        return {"written": True, **listed}
