"""Queries on artifacts (metadata; the bytes are in object storage)."""

from __future__ import annotations

from collections.abc import Sequence

from agent_runtime_core.models import Artifact, ArtifactStatus
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories.base import TenantRepository

__all__ = ["ArtifactRepository"]


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

    async def mark_ready(self, artifact: Artifact, *, size: int, sha256: str) -> Artifact:
        """Record that the artifact's bytes are stored and checked."""
        artifact.status = ArtifactStatus.READY
        artifact.size = size
        artifact.sha256 = sha256
        artifact.upload_expires_at = None
        artifact.updated_at = utcnow()
        self.session.add(artifact)
        await self.session.flush()
        return artifact
