"""Object storage for bytes that do not belong in Postgres (artifacts), on any S3 API.

The problem: the API and the workers are asyncio programs, boto3 is blocking, and every S3 server
(AWS, MinIO, SeaweedFS) differs a little. :class:`ObjectStorage` is the one place that talks to
S3: it runs boto3 in a thread pool of its own (so S3 never blocks the event loop nor starves
Starlette's pool), writes every object with the configured server-side encryption (or fails:
encryption is never dropped silently), streams uploads and downloads in bounded memory, and
signs presigned URLs whose signature pins the key, the size, the media type and the encryption.

Keys carry the tenant (:func:`tenant_object_key`): ``tenants/<tenant_id>/<kind>/<id>/<random>``.
"""

from agent_runtime_core.storage._client import ObjectStorage, tenant_object_key
from agent_runtime_core.storage._transfer import ObjectDownload, ObjectUpload
from agent_runtime_core.storage._types import ObjectTooLargeError, PresignedRequest, StoredObject

__all__ = [
    "ObjectDownload",
    "ObjectStorage",
    "ObjectTooLargeError",
    "ObjectUpload",
    "PresignedRequest",
    "StoredObject",
    "tenant_object_key",
]
