"""Artifacts: files of a tenant, and the rules their names and media types follow.

A name comes from a client (a multipart filename, a JSON field) and goes back out in a
``Content-Disposition`` header and, later, onto disks of people who download it. So it is
refused, not repaired, when it could mean a path (``/``, ``\\``, ``.``, ``..``), could break a
header or a terminal (control characters, bidirectional overrides), or is empty. A media type
must be ``type/subtype`` (with at most a ``charset``) and match the deployment's allow-list.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, Field

from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import Artifact, ArtifactStatus

MAX_NAME_BYTES: Final = 255
"""Longest name (UTF-8 bytes): what most file systems hold."""
_TOKEN: Final = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE: Final = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
_CHARSET: Final = re.compile(r"^[a-z0-9][a-z0-9_.:+-]{0,39}$")
_BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


def artifact_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name an artifact, or ``None``."""
    if not name.strip():
        return "the file name is empty"
    if name != name.strip():
        return "the file name starts or ends with white space"
    if "/" in name or "\\" in name:
        return "the file name contains a path separator ('/' or '\\'); send the base name only"
    if name in (".", ".."):
        return "the file name is a path ('.' or '..')"
    for character in name:
        category = unicodedata.category(character)
        if category in ("Cc", "Cs", "Zl", "Zp") or character in _BIDI_CONTROLS:
            return f"the file name contains a control character (U+{ord(character):04X})"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"the file name is longer than {MAX_NAME_BYTES} bytes"
    return None


def normalize_content_type(value: str) -> str | None:
    """``value`` as ``type/subtype`` (lowercase) with its ``charset`` if any, or ``None`` when it
    is no media type (other parameters are dropped: nothing reads them)."""
    essence, _, parameters = value.partition(";")
    essence = essence.strip().lower()
    if not _MEDIA_TYPE.match(essence):
        return None
    for parameter in parameters.split(";"):
        key, _, raw = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip('"').lower()
            if not _CHARSET.match(charset):
                return None
            return f"{essence}; charset={charset}"
    return essence


def content_type_allowed(content_type: str, patterns: list[str]) -> bool:
    """Whether the media type (normalized) matches one of ``patterns`` (``type/subtype``,
    ``type/*``, ``*/*``)."""
    essence = content_type.partition(";")[0]
    kind = essence.partition("/")[0]
    return any(pattern in (essence, f"{kind}/*", "*/*") for pattern in patterns)


def content_disposition(name: str) -> str:
    """``attachment`` with ``name`` for every client: an ASCII fallback (``filename=``) and the
    exact name (``filename*=``, RFC 6266/8187). ``name`` passed `artifact_name_problem`."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _lowercase_sha256(value: str) -> str:
    value = value.lower()
    if not _SHA256.match(value):
        raise ValueError("must be the hex SHA-256 of the content (64 hex digits)")
    return value


Sha256 = Annotated[str, AfterValidator(_lowercase_sha256)]


class ArtifactPublic(BaseModel):
    """An artifact's metadata (its bytes: `GET /v1/artifacts/{id}/content` or a download URL)."""

    id: str = Field(examples=["art_01jd3x8a0b1c2d3e4f5g6h7j8k"])
    name: str = Field(description="File name (no path).", examples=["report.pdf"])
    content_type: str = Field(examples=["application/pdf"])
    size: int = Field(description="Bytes (declared while `pending`, stored once `ready`).")
    sha256: str | None = Field(
        description="Hex SHA-256 of the content (declared while `pending`, or null; checked once `ready`)."
    )
    status: str = Field(
        description=(
            "`ready`: stored and checked; `pending`: a presigned upload waits for completion, or "
            "(with `size` 0) an upload through the API or a run's write is under way."
        ),
        examples=["ready"],
    )
    run_id: str | None = Field(description="The run it belongs to, if any.")
    thread_id: str | None = Field(description="The thread it belongs to, if any.")
    created_by: str = Field(description="Who created it (the principal's subject).")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, artifact: Artifact) -> ArtifactPublic:
        """The artifact as the API shows it (never its storage key)."""
        status: ArtifactStatus = artifact.status
        return cls(
            id=artifact.id,
            name=artifact.name,
            content_type=artifact.content_type,
            size=artifact.size,
            sha256=artifact.sha256,
            status=status.value,
            run_id=artifact.run_id,
            thread_id=artifact.thread_id,
            created_by=artifact.created_by,
            created_at=artifact.created_at,
            updated_at=artifact.updated_at,
        )


class ArtifactUploadCreate(StrictInput):
    """Announce a file to upload straight to the storage with a presigned URL."""

    name: str = Field(min_length=1, max_length=MAX_NAME_BYTES, examples=["dataset.parquet"])
    content_type: str = Field(min_length=3, max_length=255, examples=["application/octet-stream"])
    size: int = Field(ge=1, description="Exact size in bytes; the URL accepts no other.", examples=[52428800])
    sha256: Sha256 | None = Field(
        default=None,
        description="Hex SHA-256 of the content: the storage refuses other bytes, and completion checks it.",
    )
    run_id: str | None = Field(default=None, max_length=40, description="Tie it to this run.")
    thread_id: str | None = Field(default=None, max_length=40, description="Tie it to this thread.")


class PresignedRequestPublic(BaseModel):
    """A request to send straight to the object storage, as is, before it expires."""

    method: str = Field(examples=["PUT"])
    url: str
    headers: dict[str, str] = Field(
        description="Send exactly these headers: they are signed (a different size, type or "
        "checksum is refused by the storage)."
    )
    expires_at: datetime


class ArtifactUploadPublic(BaseModel):
    """A pending artifact and the presigned request that uploads its bytes; then call
    `POST /v1/artifacts/{id}/complete`."""

    artifact: ArtifactPublic
    upload: PresignedRequestPublic


class ArtifactDownloadUrl(BaseModel):
    """A short-lived URL that downloads the artifact from the storage, without credentials."""

    url: str
    expires_at: datetime
