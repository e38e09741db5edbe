"""``/v1/api-keys``: long-lived credentials of your tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from agent_runtime_api.deps import ApiKeyServiceDep, require
from agent_runtime_api.routers.common import AUTH_RESPONSES, IdCursor, Limit, problems
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Page, Text

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"], responses=AUTH_RESPONSES)

KeyId = Annotated[Text, Path(max_length=40, description="API key id (`key_…`).")]
KeyManager = Annotated[Principal, Depends(require(Permission.API_KEYS_MANAGE))]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key", responses=problems())
async def create_api_key(
    body: ApiKeyCreate, service: ApiKeyServiceDep, principal: KeyManager, response: Response
) -> ApiKeyCreated:
    """Create a key for your tenant. The response holds the token (`key`): it is shown only
    once, store it now. Use it as `Authorization: Bearer ar_…` or `X-API-Key: ar_…`.

    The key gets a snapshot of `roles` (narrowed to `scopes` if given) and may never do more
    than you can (403 otherwise)."""
    key, token = await service.create(body, principal)
    response.headers["Location"] = f"/v1/api-keys/{key.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated.from_new_key(key, token)


@router.get("", summary="List API keys")
async def list_api_keys(
    service: ApiKeyServiceDep, _: KeyManager, limit: Limit = 20, cursor: IdCursor = None
) -> Page[ApiKeyPublic]:
    """Keys of your tenant, newest first, revoked ones included (never a secret)."""
    page = await service.list(limit=limit, before=cursor)
    return Page[ApiKeyPublic](
        data=[ApiKeyPublic.from_row(k) for k in page.items], next_cursor=page.next_cursor
    )


@router.get("/{key_id}", summary="Get an API key", responses=problems(404))
async def get_api_key(key_id: KeyId, service: ApiKeyServiceDep, _: KeyManager) -> ApiKeyPublic:
    """One key (never its secret)."""
    return ApiKeyPublic.from_row(await service.get(key_id))


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    responses=problems(404),
)
async def revoke_api_key(key_id: KeyId, service: ApiKeyServiceDep, _: KeyManager) -> None:
    """Revoke a key: requests with it get 401 from now on. Revoking it again is a no-op (204)."""
    await service.revoke(key_id)
