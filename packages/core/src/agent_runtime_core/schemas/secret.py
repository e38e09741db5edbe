"""Tool secrets (write-only values) and signing keys (the secret shown once, at rotation)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Final

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from agent_runtime_core.schemas.common import StrictInput

if TYPE_CHECKING:
    from agent_runtime_core.models import ToolSecret, ToolSigningKey

SECRET_NAME_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
"""A letter, then up to 63 letters, digits or underscores (an environment-variable-like name)."""
MAX_SECRET_VALUE_CHARS: Final = 16_384
MAX_SIGNING_KEY_OVERLAP_S: Final = 7 * 24 * 3600
DEFAULT_SIGNING_KEY_OVERLAP_S: Final = 24 * 3600

_VALUE_DESCRIPTION = (
    "The secret (an API token, a password): 1 to 16384 characters, no NUL character. Write-only: "
    "it is encrypted at rest and no response, log line or audit entry ever contains it."
)
_VALUE_SCHEMA: Final[dict[str, JsonValue]] = {"minLength": 1, "maxLength": MAX_SECRET_VALUE_CHARS}


def _check_value(value: SecretStr) -> SecretStr:
    # Checked here (not with Field constraints) so error messages never echo the value.
    plain = value.get_secret_value()
    if not 1 <= len(plain) <= MAX_SECRET_VALUE_CHARS:
        raise PydanticCustomError(
            "secret_length", "must be 1 to {max} characters", {"max": MAX_SECRET_VALUE_CHARS}
        )
    if "\x00" in plain:
        raise PydanticCustomError("nul_character", "must not contain the NUL character (\\u0000)")
    return value


class SecretCreate(StrictInput):
    """A new secret of your tenant."""

    name: str = Field(
        pattern=SECRET_NAME_PATTERN,
        description=(
            "How HTTP tools refer to the secret; unique among your live secrets. A letter, then up "
            "to 63 letters, digits or `_`."
        ),
        examples=["GITHUB_TOKEN"],
    )
    value: SecretStr = Field(description=_VALUE_DESCRIPTION, json_schema_extra=_VALUE_SCHEMA)
    description: str = Field(default="", max_length=2000, description="What the secret is for (not secret).")

    @field_validator("value")
    @classmethod
    def _valid_value(cls, value: SecretStr) -> SecretStr:
        return _check_value(value)


class SecretUpdate(StrictInput):
    """A new value for an existing secret (and optionally a new description)."""

    value: SecretStr = Field(description=_VALUE_DESCRIPTION, json_schema_extra=_VALUE_SCHEMA)
    description: str | None = Field(
        default=None, max_length=2000, description="New description; omitted or null: unchanged."
    )

    @field_validator("value")
    @classmethod
    def _valid_value(cls, value: SecretStr) -> SecretStr:
        return _check_value(value)


class SecretPublic(BaseModel):
    """A secret's metadata. Its value is never returned."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["sec_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    name: str = Field(examples=["GITHUB_TOKEN"])
    description: str
    created_at: datetime
    updated_at: datetime = Field(description="Last change of the value or description.")

    @classmethod
    def from_row(cls, secret: ToolSecret) -> SecretPublic:
        """A secret's metadata (never its value)."""
        return cls.model_validate(secret, from_attributes=True)


class SigningKeyRotate(StrictInput):
    """Make a new signing key; the current one stays valid for ``overlap_s`` more seconds."""

    overlap_s: int = Field(
        default=DEFAULT_SIGNING_KEY_OVERLAP_S,
        ge=0,
        le=MAX_SIGNING_KEY_OVERLAP_S,
        description=(
            "How long the previous key keeps signing alongside the new one (0 to 604800 s = 7 days; "
            "default one day). Requests carry a signature per valid key, so receivers can switch "
            "to the new secret within this window without rejecting anything. 0: the previous key "
            "stops at once."
        ),
    )


class SigningKeyPublic(BaseModel):
    """A signing key as listed: never its secret."""

    id: str = Field(examples=["sig_01jd3x7k2m9q8r4t6v5w0y1z2a"])
    created_at: datetime
    expires_at: datetime | None = Field(
        description="When a rotation retired it, the end of its overlap; null for the current key."
    )
    current: bool = Field(description="Whether this is the key new signatures are made with first.")

    @classmethod
    def from_row(cls, key: ToolSigningKey) -> SigningKeyPublic:
        """A signing key (never its secret)."""
        return cls(
            id=key.id, created_at=key.created_at, expires_at=key.expires_at, current=key.expires_at is None
        )


class SigningKeyCreated(BaseModel):
    """The new current signing key with its secret. The secret is shown only in this response:
    configure it on your receivers now."""

    id: str = Field(
        description="The key id; signed requests name it so receivers know which secret to check.",
        examples=["sig_01jd3x7k2m9q8r4t6v5w0y1z2a"],
    )
    secret: str = Field(
        description=(
            "The HMAC-SHA256 key, as text (43 characters: 32 random bytes, base64url). Use the text "
            "itself (its UTF-8 bytes) as the key when you verify signatures; do not decode it."
        ),
        examples=["q8X0c5mZ2g4b7L1pQ9rT3vW6yA8dF0hJ2kN4sU6xZ1c"],
    )
    created_at: datetime
    previous_key_expires_at: datetime | None = Field(
        description="Until when the key this one replaced still signs; null if it is your first key."
    )
