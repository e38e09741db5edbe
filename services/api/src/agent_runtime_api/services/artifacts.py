"""Artifacts: files of a tenant, bytes in object storage, metadata in Postgres.

Two ways in. Small files come through the API (``upload``): streamed to the storage as they
arrive, hashed on the way, and recorded ``ready`` once stored. Large files go straight to the
storage (``start_upload`` hands out a presigned PUT pinned to one key, size, media type and
encryption; ``complete`` checks the object and marks the artifact ``ready``).

No transaction stays open while bytes move: the service gets a unit of work and opens short
transactions around the storage calls. The row comes first, ``pending`` and naming its key, then
the bytes, then the row turns ``ready``: a failed upload drops its row and object, and a process
that dies half-way leaves a ``pending`` row (as does a presigned upload never completed), which
the retention sweep removes with its object. No object is stored that no row names
(docs/decisions.md, "Artifacts").
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from agent_runtime_api.services.pages import Window, window
from agent_runtime_core.db import UnitOfWork
from agent_runtime_core.errors import (
    ConflictError,
    DomainError,
    InvalidRequestError,
    NotFoundError,
    StorageNotConfiguredError,
)
from agent_runtime_core.ids import new_artifact_id
from agent_runtime_core.models import Artifact, ArtifactStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ArtifactRepository, RunRepository, ThreadRepository
from agent_runtime_core.repositories.artifacts import WRITE_DEADLINE
from agent_runtime_core.schemas import (
    ArtifactDownloadUrl,
    ArtifactPublic,
    ArtifactUploadCreate,
    ArtifactUploadPublic,
    PresignedRequestPublic,
)
from agent_runtime_core.schemas.artifact import (
    artifact_name_problem,
    content_disposition,
    content_type_allowed,
    normalize_content_type,
)
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectDownload, ObjectStorage, ObjectTooLargeError, tenant_object_key

logger = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ArtifactRules:
    """What the deployment accepts (from the settings)."""

    max_upload_bytes: int
    max_presigned_bytes: int
    content_types: list[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> ArtifactRules:
        """The rules the settings give."""
        return cls(
            max_upload_bytes=settings.artifact_max_upload_bytes,
            max_presigned_bytes=settings.artifact_max_presigned_bytes,
            content_types=list(settings.artifact_content_types),
        )


@dataclass(frozen=True)
class ArtifactContent:
    """An artifact's metadata and its bytes, ready to stream."""

    artifact: ArtifactPublic
    download: ObjectDownload
    content_disposition: str


def _too_large(limit: int) -> DomainError:
    return DomainError(
        detail=(
            f"The file is larger than {limit} bytes, the most this API accepts in a request; "
            "upload it with a presigned URL (POST /v1/artifacts/uploads)."
        ),
        status=413,
        code="payload_too_large",
        title="Payload too large",
    )


class ArtifactService:
    """Rules for the artifacts of one tenant (another tenant's artifact is a 404)."""

    def __init__(
        self,
        unit_of_work: UnitOfWork,
        storage: ObjectStorage | None,
        rules: ArtifactRules,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.tenant_id = unit_of_work.tenant_id
        self._storage = storage
        self.rules = rules

    @property
    def storage(self) -> ObjectStorage:
        """The object storage (503 ``storage_not_configured`` without one)."""
        if self._storage is None:
            raise StorageNotConfiguredError()
        return self._storage

    # --------------------------------------------------------------------------- checks

    def _name(self, name: str, loc: list[str | int]) -> str:
        problem = artifact_name_problem(name)
        if problem is not None:
            raise InvalidRequestError(problem, loc=loc, code="invalid_file_name")
        return name

    def _content_type(self, value: str | None, loc: list[str | int]) -> str:
        content_type = normalize_content_type(value) if value else DEFAULT_CONTENT_TYPE
        if content_type is None:
            raise InvalidRequestError(
                f"'{value}' is not a media type (type/subtype)", loc=loc, code="invalid_content_type"
            )
        if not content_type_allowed(content_type, self.rules.content_types):
            allowed = ", ".join(self.rules.content_types)
            raise InvalidRequestError(
                f"the media type '{content_type}' is not allowed here (allowed: {allowed})",
                loc=loc,
                code="content_type_not_allowed",
            )
        return content_type

    async def _check_owners(self, session: AsyncSession, run_id: str | None, thread_id: str | None) -> None:
        """404 unless the run and the thread named exist for this tenant."""
        if run_id is not None and await RunRepository(session, self.tenant_id).get(run_id) is None:
            raise NotFoundError("Run", run_id)
        if thread_id is not None and await ThreadRepository(session, self.tenant_id).get(thread_id) is None:
            raise NotFoundError("Thread", thread_id)

    async def _get(self, session: AsyncSession, artifact_id: str, *, for_update: bool = False) -> Artifact:
        artifact = await ArtifactRepository(session, self.tenant_id).get(artifact_id, for_update=for_update)
        if artifact is None:
            raise NotFoundError("Artifact", artifact_id)
        return artifact

    @staticmethod
    def _ready(artifact: Artifact) -> None:
        if artifact.status != ArtifactStatus.READY:
            raise ConflictError(
                f"Artifact '{artifact.id}' is still pending: "
                + (
                    "its upload has not finished yet."
                    if artifact.size == 0
                    else f"upload its bytes with the presigned URL, then POST "
                    f"/v1/artifacts/{artifact.id}/complete."
                ),
                code="artifact_not_ready",
            )

    # ------------------------------------------------------------------------- creating

    async def upload(
        self,
        *,
        filename: str,
        content_type: str | None,
        chunks: AsyncIterator[bytes],
        run_id: str | None,
        thread_id: str | None,
        created_by: str,
    ) -> ArtifactPublic:
        """Store a file sent through the API (streamed to the storage, SHA-256 on the way)."""
        storage = self.storage
        name = self._name(filename, ["body", "file"])
        media_type = self._content_type(content_type, ["body", "file"])
        artifact_id = new_artifact_id()
        key = tenant_object_key(self.tenant_id, "artifacts", artifact_id)
        # 1. The row first, `pending` (size 0: no presigned URL), so that a process dying while
        #    the bytes move leaves a row the retention sweep removes with its object, never an
        #    object that no row names.
        async with self.unit_of_work.begin() as session:
            await self._check_owners(session, run_id, thread_id)
            await ArtifactRepository(session, self.tenant_id).add(
                Artifact(
                    id=artifact_id,
                    tenant_id=self.tenant_id,
                    name=name,
                    content_type=media_type,
                    size=0,
                    status=ArtifactStatus.PENDING,
                    run_id=run_id,
                    thread_id=thread_id,
                    created_by=created_by[:200],
                    object_key=key,
                    upload_expires_at=utcnow() + WRITE_DEADLINE,
                )
            )
        # 2. The bytes.
        upload = await storage.upload(key, content_type=media_type, max_bytes=self.rules.max_upload_bytes)
        try:
            async for chunk in chunks:
                await upload.write(chunk)
            if upload.size == 0:
                raise InvalidRequestError("the file is empty", loc=["body", "file"], code="empty_file")
            stored = await upload.finish()
        except ObjectTooLargeError:
            await upload.abort()
            await self._forget(artifact_id)
            raise _too_large(self.rules.max_upload_bytes) from None
        except BaseException:
            await upload.abort()
            await self._forget(artifact_id)
            raise
        # 3. Ready.
        try:
            async with self.unit_of_work.begin() as session:
                repository = ArtifactRepository(session, self.tenant_id)
                artifact = await repository.get(artifact_id, for_update=True)
                if artifact is None:  # deleted while it was uploading
                    raise NotFoundError("Artifact", artifact_id)
                artifact = await repository.mark_ready(artifact, size=stored.size, sha256=stored.sha256)
                return ArtifactPublic.from_row(artifact)
        except BaseException:
            # Only once its row is gone does the object go: had the commit taken effect after
            # all, the row is ready and keeps it. Left both ways, both are the sweep's.
            if await self._forget(artifact_id):
                await storage.delete(key)
            raise

    async def _forget(self, artifact_id: str) -> bool:
        """Drop the `pending` row of an upload that failed; whether it was dropped. Best effort:
        a row left behind is the retention sweep's, with its object."""
        try:
            async with self.unit_of_work.begin() as session:
                return await ArtifactRepository(session, self.tenant_id).delete_pending(artifact_id)
        except Exception:
            logger.warning("could not drop the pending row of artifact %s", artifact_id, exc_info=True)
            return False

    async def start_upload(self, body: ArtifactUploadCreate, *, created_by: str) -> ArtifactUploadPublic:
        """A pending artifact and a presigned PUT for exactly the bytes it declares."""
        storage = self.storage
        name = self._name(body.name, ["body", "name"])
        media_type = self._content_type(body.content_type, ["body", "content_type"])
        if body.size > self.rules.max_presigned_bytes:
            raise InvalidRequestError(
                f"size must be at most {self.rules.max_presigned_bytes} bytes",
                loc=["body", "size"],
                code="artifact_too_large",
            )
        artifact_id = new_artifact_id()
        key = tenant_object_key(self.tenant_id, "artifacts", artifact_id)
        request = await storage.presign_put(
            key, content_type=media_type, content_length=body.size, sha256=body.sha256
        )
        async with self.unit_of_work.begin() as session:
            await self._check_owners(session, body.run_id, body.thread_id)
            artifact = await ArtifactRepository(session, self.tenant_id).add(
                Artifact(
                    id=artifact_id,
                    tenant_id=self.tenant_id,
                    name=name,
                    content_type=media_type,
                    size=body.size,
                    sha256=body.sha256,
                    status=ArtifactStatus.PENDING,
                    run_id=body.run_id,
                    thread_id=body.thread_id,
                    created_by=created_by[:200],
                    object_key=key,
                    upload_expires_at=request.expires_at,
                )
            )
            public = ArtifactPublic.from_row(artifact)
        return ArtifactUploadPublic(
            artifact=public,
            upload=PresignedRequestPublic(
                method=request.method, url=request.url, headers=request.headers, expires_at=request.expires_at
            ),
        )

    async def complete(self, artifact_id: str) -> ArtifactPublic:
        """Check the uploaded object (size, encryption, SHA-256) and mark the artifact ready.

        Completing a ready artifact returns it unchanged. An object that does not match what was
        declared is deleted (the same URL may upload it again while it is valid).
        """
        storage = self.storage
        async with self.unit_of_work.begin() as session:
            artifact = await self._get(session, artifact_id)
            if artifact.status == ArtifactStatus.READY:
                return ArtifactPublic.from_row(artifact)
            if artifact.size == 0:  # being uploaded through the API, not with a presigned URL
                raise ConflictError(
                    f"Artifact '{artifact_id}' is being uploaded through the API, not with a "
                    "presigned URL: it becomes ready when that upload finishes.",
                    code="artifact_upload_in_progress",
                )
            key, declared_size, declared_sha256 = artifact.object_key, artifact.size, artifact.sha256
            expires_at = artifact.upload_expires_at
        stored = await storage.head(key)
        if stored is None:
            expired = expires_at is not None and expires_at < utcnow()
            raise ConflictError(
                f"Nothing was uploaded for artifact '{artifact_id}'"
                + (" and its upload URL has expired; start a new upload." if expired else " yet."),
                code="artifact_upload_expired" if expired else "artifact_not_uploaded",
            )
        expected_encryption = storage.encryption_header
        problem: tuple[str, str] | None = None
        if stored.size != declared_size:
            problem = (
                f"{stored.size} bytes were uploaded, {declared_size} declared",
                "artifact_size_mismatch",
            )
        elif expected_encryption is not None and stored.server_side_encryption != expected_encryption:
            problem = ("the object is not encrypted as this deployment requires", "artifact_not_encrypted")
        sha256 = None
        if problem is None:
            sha256 = stored.sha256 or await storage.sha256_of(key)
            if sha256 is None:  # deleted in between
                raise ConflictError(
                    f"Nothing was uploaded for artifact '{artifact_id}' yet.", "artifact_not_uploaded"
                )
            if declared_sha256 is not None and sha256 != declared_sha256:
                problem = ("the content does not match the declared sha256", "artifact_checksum_mismatch")
        if problem is not None:
            await storage.delete(key)
            raise ConflictError(f"Artifact '{artifact_id}' was not completed: {problem[0]}.", code=problem[1])
        assert sha256 is not None
        async with self.unit_of_work.begin() as session:
            artifact = await self._get(session, artifact_id, for_update=True)
            if artifact.status != ArtifactStatus.READY:
                artifact = await ArtifactRepository(session, self.tenant_id).mark_ready(
                    artifact, size=stored.size, sha256=sha256
                )
            return ArtifactPublic.from_row(artifact)

    # -------------------------------------------------------------------------- reading

    async def get(self, artifact_id: str) -> ArtifactPublic:
        """One artifact's metadata, or 404."""
        async with self.unit_of_work.begin() as session:
            return ArtifactPublic.from_row(await self._get(session, artifact_id))

    async def list(
        self,
        *,
        limit: int,
        before: str | None,
        run_id: str | None,
        thread_id: str | None,
        status: ArtifactStatus | None,
    ) -> Window[ArtifactPublic]:
        """A page of artifacts, newest first."""
        async with self.unit_of_work.begin() as session:
            rows = await ArtifactRepository(session, self.tenant_id).list(
                limit=limit + 1, before_id=before, run_id=run_id, thread_id=thread_id, status=status
            )
            page = window(rows, limit, key=lambda row: row.id)
            return Window(
                items=[ArtifactPublic.from_row(row) for row in page.items], next_cursor=page.next_cursor
            )

    async def content(self, artifact_id: str) -> ArtifactContent:
        """The artifact and its bytes (409 while pending; 404 when its object is gone)."""
        storage = self.storage
        async with self.unit_of_work.begin() as session:
            artifact = await self._get(session, artifact_id)
            self._ready(artifact)
            public = ArtifactPublic.from_row(artifact)
            key = artifact.object_key
        download = await storage.download(key)
        if download is None:
            logger.error("artifact %s of tenant %s has no object at %s", artifact_id, self.tenant_id, key)
            raise NotFoundError("Artifact content", artifact_id)
        return ArtifactContent(
            artifact=public, download=download, content_disposition=content_disposition(public.name)
        )

    async def download_url(self, artifact_id: str) -> ArtifactDownloadUrl:
        """A presigned GET of the artifact (as an attachment with its name and media type)."""
        storage = self.storage
        async with self.unit_of_work.begin() as session:
            artifact = await self._get(session, artifact_id)
            self._ready(artifact)
        request = await storage.presign_get(
            artifact.object_key,
            content_disposition=content_disposition(artifact.name),
            content_type=artifact.content_type,
        )
        return ArtifactDownloadUrl(url=request.url, expires_at=request.expires_at)

    # ------------------------------------------------------------------------- deleting

    async def delete(self, artifact_id: str) -> None:
        """Soft-delete the artifact and delete its object. Deleting it again deletes the object
        again (whatever a failure left) and succeeds; an id this tenant never had is a 404."""
        storage = self.storage
        async with self.unit_of_work.begin() as session:
            repository = ArtifactRepository(session, self.tenant_id)
            artifact = await repository.get(artifact_id, for_update=True, include_deleted=True)
            if artifact is None:
                raise NotFoundError("Artifact", artifact_id)
            if artifact.deleted_at is None:
                await repository.soft_delete(artifact)
            # Inside the transaction: if the storage fails, the row is not marked deleted either.
            await storage.delete(artifact.object_key)
