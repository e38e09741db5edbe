"""Queries on artifacts (metadata; the bytes are in object storage)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from agent_runtime_core.models import Artifact, ArtifactStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.base import TenantRepository

__all__ = ["WRITE_DEADLINE", "ArtifactRepository"]

WRITE_DEADLINE: Final = timedelta(hours=1)
"""How long the platform's own write of an artifact (an upload through the API, a file a run
writes) may take before its ``pending`` row counts as abandoned: its ``upload_expires_at``. The
retention sweep removes an abandoned row, and its object if any, ``retention_pending_upload_hours``
after that."""


class ArtifactRepository(TenantRepository[Artifact]):
    """Artifacts of one tenant (deleted ones are invisible unless asked for)."""

    model = Artifact

    async def get(
        self, artifact_id: str, *, for_update: bool = False, include_deleted: bool = False
    ) -> Artifact | None:
        """Artifact ``artifact_id`` of this tenant, or ``None``."""
        return await self.get_for_tenant(artifact_id, for_update=for_update, include_deleted=include_deleted)

    async def list(
        self,
        *,
        limit: int,
        before_id: str | None = None,
        run_id: str | None = None,
        thread_id: str | None = None,
        status: ArtifactStatus | None = None,
    ) -> Sequence[Artifact]:
        """Up to ``limit`` artifacts, newest first, of ``run_id`` / ``thread_id`` / ``status`` when given."""
        statement = self.scoped()
        if run_id is not None:
            statement = statement.where(Artifact.run_id == run_id)
        if thread_id is not None:
            statement = statement.where(Artifact.thread_id == thread_id)
        if status is not None:
            statement = statement.where(Artifact.status == status)
        return await self.page(statement, limit=limit, cursor_id=before_id)

    async def add_if_absent(self, row: Artifact) -> Artifact | None:
        """Insert ``row`` unless an artifact with its id already exists, and lock the stored row
        (an earlier writer's, when there was one); ``None`` if that one was deleted since.
        Concurrent writers of one id (attempts of one activity) all get the same row, so the same
        object key."""
        if row.tenant_id != self.tenant_id:
            raise ValueError("an Artifact must belong to the repository's tenant")
        values = row.model_dump()
        statement = insert(Artifact).values(values).on_conflict_do_nothing(index_elements=[col(Artifact.id)])
        connection = await self.session.connection()
        await connection.execute(statement)
        stored = await self.get(row.id, for_update=True, include_deleted=True)
        return None if stored is None or stored.deleted_at is not None else stored

    async def delete_pending(self, artifact_id: str) -> bool:
        """Remove the row of a write that failed (only while ``pending``); whether one was removed."""
        connection = await self.session.connection()
        result = await connection.execute(
            delete(Artifact).where(
                col(Artifact.tenant_id) == self.tenant_id,
                col(Artifact.id) == artifact_id,
                col(Artifact.status) == ArtifactStatus.PENDING,
            )
        )
        return result.rowcount > 0

    async def mark_ready(self, artifact: Artifact, *, size: int, sha256: str | None) -> Artifact:
        """Record that the artifact's bytes are stored and checked."""
        artifact.status = ArtifactStatus.READY
        artifact.size = size
        artifact.sha256 = sha256
        artifact.upload_expires_at = None
        artifact.updated_at = utcnow()
        self.session.add(artifact)
        await self.session.flush()
        return artifact
