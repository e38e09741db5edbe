"""``/v1/artifacts``: files of your tenant (bytes in object storage), optionally of a run or thread."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from agent_runtime_api.body_limit import body_limit_from_setting
from agent_runtime_api.deps import ArtifactServiceDep, require
from agent_runtime_api.multipart import single_file
from agent_runtime_api.routers.common import AUTH_RESPONSES, IdCursor, Limit, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.models import ArtifactStatus
from agent_runtime_core.schemas import (
    ArtifactDownloadUrl,
    ArtifactPublic,
    ArtifactUploadCreate,
    ArtifactUploadPublic,
    Page,
    Text,
)

router = APIRouter(prefix="/v1/artifacts", tags=["artifacts"], responses=AUTH_RESPONSES)

ArtifactReader = Annotated[Principal, Depends(require(Permission.ARTIFACTS_READ))]
ArtifactWriter = Annotated[Principal, Depends(require(Permission.ARTIFACTS_WRITE))]

ArtifactId = Annotated[Text, Path(max_length=40, description="Artifact id (`art_…`).")]
RunIdQuery = Annotated[Text | None, Query(max_length=40, description="Only the artifacts of this run.")]
ThreadIdQuery = Annotated[Text | None, Query(max_length=40, description="Only the artifacts of this thread.")]

MULTIPART_OVERHEAD: Final = 64 * 1024
"""Bytes a multipart body may hold besides the file (boundaries, part headers)."""

_UPLOAD_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file; its part's filename and Content-Type are the "
                            "artifact's name and media type.",
                        }
                    },
                }
            }
        },
    }
}
_STORAGE = (503,)
_CONTENT_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    # Never rendered as a page of the API's origin, even if a browser is pointed at it.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-cache",
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a file",
    responses={**problems(404, 413, 415, *_STORAGE), 201: {"description": "The stored artifact."}},
    openapi_extra={
        **_UPLOAD_BODY,
        **body_limit_from_setting("artifact_max_upload_bytes", overhead=MULTIPART_OVERHEAD),
    },
)
async def upload_artifact(
    request: Request,
    service: ArtifactServiceDep,
    principal: ArtifactWriter,
    response: Response,
    run_id: RunIdQuery = None,
    thread_id: ThreadIdQuery = None,
) -> ArtifactPublic:
    """Upload a small file as `multipart/form-data` with one field, `file`
    (`curl -F file=@report.pdf`). It is streamed to the object storage with server-side
    encryption and its SHA-256 computed on the way; the answer is the `ready` artifact.

    `run_id` / `thread_id` (query) tie it to a run or thread of yours (404 if there is none).
    Files above `AGENT_RUNTIME_ARTIFACT_MAX_UPLOAD_BYTES` (25 MiB by default) get 413: upload
    those with `POST /v1/artifacts/uploads`. The file name must be a plain name (no `/`, `\\`,
    `..` or control characters) and the media type one the deployment allows
    (`AGENT_RUNTIME_ARTIFACT_CONTENT_TYPES`); an empty file is refused: 422 naming `file`."""
    upload = await single_file(request, "file")
    artifact = await service.upload(
        filename=upload.filename,
        content_type=upload.content_type,
        chunks=upload.chunks,
        run_id=run_id,
        thread_id=thread_id,
        created_by=principal.subject,
    )
    response.headers["Location"] = f"/v1/artifacts/{artifact.id}"
    return artifact


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    summary="Start a presigned upload",
    responses=problems(404, *_STORAGE),
)
async def start_upload(
    body: ArtifactUploadCreate, service: ArtifactServiceDep, principal: ArtifactWriter, response: Response
) -> ArtifactUploadPublic:
    """For large files: a `pending` artifact and a presigned `PUT` straight to the object storage.
    Send the bytes with exactly the returned `headers` before `expires_at` (the signature pins the
    key, the size, the media type, the encryption and, when you give `sha256`, the content), then
    call `POST /v1/artifacts/{id}/complete`."""
    started = await service.start_upload(body, created_by=principal.subject)
    response.headers["Location"] = f"/v1/artifacts/{started.artifact.id}"
    return started


@router.post(
    "/{artifact_id}/complete",
    summary="Complete a presigned upload",
    responses=problems(404, 409, *_STORAGE),
)
async def complete_upload(
    artifact_id: ArtifactId, service: ArtifactServiceDep, _: ArtifactWriter
) -> ArtifactPublic:
    """Check the uploaded object (its size, encryption and SHA-256 against what was declared)
    and mark the artifact `ready`. 409 `artifact_not_uploaded` before the upload,
    `artifact_upload_expired` after its URL expired unused, `artifact_size_mismatch` /
    `artifact_checksum_mismatch` when the bytes differ (they are deleted: upload again),
    `artifact_upload_in_progress` for an upload through `POST /v1/artifacts` still under way
    (it has no presigned URL). Completing a `ready` artifact returns it."""
    return await service.complete(artifact_id)


@router.get("", summary="List artifacts", responses=problems(*_STORAGE))
async def list_artifacts(
    service: ArtifactServiceDep,
    _: ArtifactReader,
    run_id: RunIdQuery = None,
    thread_id: ThreadIdQuery = None,
    artifact_status: Annotated[
        ArtifactStatus | None, Query(alias="status", description="Only `ready` or only `pending` ones.")
    ] = None,
    limit: Limit = 20,
    cursor: IdCursor = None,
) -> Page[ArtifactPublic]:
    """Your tenant's artifacts, newest first; `run_id` / `thread_id` keep a run's or thread's."""
    page = await service.list(
        limit=limit, before=cursor, run_id=run_id, thread_id=thread_id, status=artifact_status
    )
    return Page[ArtifactPublic](data=page.items, next_cursor=page.next_cursor)


@router.get("/{artifact_id}", summary="Get an artifact's metadata", responses=problems(404))
async def get_artifact(
    artifact_id: ArtifactId, service: ArtifactServiceDep, _: ArtifactReader
) -> ArtifactPublic:
    """Name, media type, size, SHA-256, status, run or thread, creator and times."""
    return await service.get(artifact_id)


@router.get(
    "/{artifact_id}/content",
    summary="Download an artifact",
    response_class=StreamingResponse,
    responses={
        **problems(404, 409, *_STORAGE),
        200: {"description": "The bytes, as an attachment.", "content": {"application/octet-stream": {}}},
        304: {"description": "`If-None-Match` names the current ETag."},
    },
)
async def download_artifact(
    artifact_id: ArtifactId, request: Request, service: ArtifactServiceDep, _: ArtifactReader
) -> Response:
    """The bytes, streamed, with `Content-Type`, `Content-Length`, `Content-Disposition:
    attachment` (with the name) and `ETag` (the SHA-256; `If-None-Match` gets 304). 409
    `artifact_not_ready` while it is `pending` (a presigned upload not completed, or an upload
    still under way)."""
    content = await service.content(artifact_id)
    artifact = content.artifact
    etag = f'"{artifact.sha256}"'
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        await content.download.close()
        return Response(status_code=304, headers={"ETag": etag, **_CONTENT_HEADERS})
    return StreamingResponse(
        content.download.chunks(),
        media_type=artifact.content_type,
        headers={
            "Content-Length": str(content.download.object.size),
            "Content-Disposition": content.content_disposition,
            "ETag": etag,
            **_CONTENT_HEADERS,
        },
    )


@router.get(
    "/{artifact_id}/download-url",
    summary="Get a short-lived download URL",
    responses=problems(404, 409, *_STORAGE),
)
async def artifact_download_url(
    artifact_id: ArtifactId, service: ArtifactServiceDep, _: ArtifactReader
) -> ArtifactDownloadUrl:
    """A presigned `GET` straight from the object storage, valid until `expires_at`
    (`AGENT_RUNTIME_S3_PRESIGN_TTL_S`), that needs no credentials: hand it to a browser or a tool.
    It reads this artifact only (another key in it fails the signature)."""
    return await service.download_url(artifact_id)


@router.delete(
    "/{artifact_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an artifact",
    responses=problems(404, *_STORAGE),
)
async def delete_artifact(artifact_id: ArtifactId, service: ArtifactServiceDep, _: ArtifactWriter) -> None:
    """Delete the artifact and its bytes. Deleting it again succeeds too; afterwards every other
    call on it is a 404."""
    await service.delete(artifact_id)
