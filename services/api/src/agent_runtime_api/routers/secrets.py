"""``/v1/secrets`` (write-only tool secrets) and ``/v1/tools/signing-keys`` (the keys that sign
your HTTP tools' requests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from agent_runtime_api.audit import add_audit_details
from agent_runtime_api.deps import SecretServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, IdCursor, Limit, problems
from agent_runtime_api.services.secrets import encode_signing_secret
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import (
    Page,
    SecretCreate,
    SecretPublic,
    SecretUpdate,
    SigningKeyCreated,
    SigningKeyPublic,
    SigningKeyRotate,
    Text,
)
from agent_runtime_core.schemas.secret import SECRET_NAME_PATTERN

router = APIRouter(prefix="/v1/secrets", tags=["secrets"], responses=AUTH_RESPONSES)
signing_keys_router = APIRouter(prefix="/v1/tools/signing-keys", tags=["secrets"], responses=AUTH_RESPONSES)

SecretName = Annotated[
    Text, Path(max_length=64, pattern=SECRET_NAME_PATTERN, description="Secret name (`GITHUB_TOKEN`).")
]
SecretManager = Annotated[Principal, Depends(require(Permission.SECRETS_MANAGE))]
ToolReader = Annotated[Principal, Depends(require(Permission.TOOLS_READ))]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a secret",
    responses=problems(409, 503),
)
async def create_secret(
    body: SecretCreate, service: SecretServiceDep, _: SecretManager, response: Response
) -> SecretPublic:
    """Store a secret (an API token, a password) for your HTTP tools to use by name.

    The value is encrypted at rest (envelope encryption: a fresh data key per value, wrapped by
    the deployment's key-encryption key or KMS) and is **write-only**: no response, log line,
    event or audit entry ever contains it; only the worker decrypts it, inside the tool call
    that needs it. Names are unique among your live secrets: 409 `secret_name_taken` otherwise
    (replace a value with `PUT`). 503 `secrets_not_configured` if the deployment has no
    encryption key: nothing is ever stored in clear."""
    secret = await service.create(body)
    response.headers["Location"] = f"/v1/secrets/{secret.name}"
    return SecretPublic.from_row(secret)


@router.get("", summary="List secrets")
async def list_secrets(
    service: SecretServiceDep, _: ToolReader, limit: Limit = 20, cursor: IdCursor = None
) -> Page[SecretPublic]:
    """Your live secrets, newest first: names and descriptions, never values."""
    page = await service.list(limit=limit, before=cursor)
    return Page[SecretPublic](
        data=[SecretPublic.from_row(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.get("/{name}", summary="Get a secret's metadata", responses=problems(404))
async def get_secret(name: SecretName, service: SecretServiceDep, _: ToolReader) -> SecretPublic:
    """One secret's name, description and times; its value is never returned."""
    return SecretPublic.from_row(await service.get(name))


@router.put("/{name}", summary="Replace a secret's value", responses=problems(404, 503))
async def replace_secret(
    name: SecretName, body: SecretUpdate, service: SecretServiceDep, _: SecretManager
) -> SecretPublic:
    """Give an existing secret a new value (encrypted anew), and a new description if given.
    Tool calls that start after this use the new value. 404 if there is no live secret of that
    name (create it with `POST /v1/secrets`)."""
    return SecretPublic.from_row(await service.replace(name, body))


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a secret", responses=problems(404)
)
async def delete_secret(name: SecretName, service: SecretServiceDep, _: SecretManager) -> None:
    """Delete a secret: tools no longer get it, and its name is free for a new secret."""
    await service.delete(name)


@signing_keys_router.get("", summary="List signing keys")
async def list_signing_keys(
    service: SecretServiceDep, _: SecretManager, limit: Limit = 20, cursor: IdCursor = None
) -> Page[SigningKeyPublic]:
    """Your signing keys, newest first, retired ones too (never a secret).

    HTTP tools sign each request with HMAC-SHA256 over the timestamp and the body, with the
    current key and with every retired key whose `expires_at` has not passed yet, so your
    receivers can verify that a request came from this platform."""
    page = await service.list_signing_keys(limit=limit, before=cursor)
    return Page[SigningKeyPublic](
        data=[SigningKeyPublic.from_row(k) for k in page.items], next_cursor=page.next_cursor
    )


@signing_keys_router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Rotate the signing key", responses=problems(503)
)
async def rotate_signing_key(
    service: SecretServiceDep,
    _: SecretManager,
    request: Request,
    response: Response,
    body: SigningKeyRotate | None = None,
) -> SigningKeyCreated:
    """Make a new current signing key (your first one, or a replacement).

    The response holds the key's `secret`: it is shown only once, configure it on your receivers
    now. The previous current key keeps signing until `previous_key_expires_at` (now +
    `overlap_s`), so receivers accepting either secret switch without rejecting requests.
    Concurrent rotations are serialized: there is never more than one current key."""
    overlap_s = (body or SigningKeyRotate()).overlap_s
    rotation = await service.rotate_signing_key(overlap_s)
    add_audit_details(
        request,
        signing_key_id=rotation.key.id,
        previous_signing_key_id=rotation.previous.id if rotation.previous is not None else None,
        overlap_s=overlap_s,
    )
    response.headers["Cache-Control"] = "no-store"
    previous = rotation.previous
    return SigningKeyCreated(
        id=rotation.key.id,
        secret=encode_signing_secret(rotation.secret),
        created_at=rotation.key.created_at,
        previous_key_expires_at=previous.expires_at if previous is not None else None,
    )
