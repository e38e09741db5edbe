"""API keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent_runtime_core.auth.permissions import Permission, Role
from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import ApiKey


class ApiKeyCreate(StrictInput):
    """A new API key. It may never do more than its creator."""

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:\-]*$",
        description="What the key is for; letters, digits, space, `_ . : -`.",
        examples=["ci-deploy"],
    )
    roles: list[Role] = Field(
        min_length=1,
        max_length=4,
        description="Roles of the key (snapshot): viewer, operator, developer, admin.",
        examples=[["operator"]],
    )
    scopes: list[Permission] | None = Field(
        default=None,
        max_length=len(Permission),
        description="Narrow the key to these permissions (of what its roles grant). Null: not narrowed.",
        examples=[["runs:read", "runs:create"]],
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the key stops working (with a timezone). Null: never."
    )


class ApiKeyPublic(BaseModel):
    """An API key as listed: never its secret or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["key_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    name: str
    prefix: str = Field(description="Public part of the token (`ar_<prefix>_…`), to recognise it.")
    roles: list[str]
    scopes: list[str] | None
    created_by: str = Field(description="Subject of whoever created the key.")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")

    @classmethod
    def from_row(cls, key: ApiKey) -> ApiKeyPublic:
        """An API key as lists show it: never its secret or hash."""
        return ApiKeyPublic.model_validate(key, from_attributes=True)


class ApiKeyCreated(ApiKeyPublic):
    """A new API key with its token. The token is shown only in this response: store it now."""

    key: str = Field(
        description="The token: send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
        examples=["ar_5f0c2a9e1b7d4c3a_…"],
    )

    @classmethod
    def from_new_key(cls, key: ApiKey, token: str) -> ApiKeyCreated:
        """A new API key with its token (the only time the token is shown)."""
        return cls(**ApiKeyPublic.from_row(key).model_dump(), key=token)
