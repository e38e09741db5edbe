"""The authenticated caller of one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agent_runtime_core.auth.permissions import Permission, permissions_for_roles

AuthMethod = Literal["oidc", "api_key", "dev", "test"]


@dataclass(frozen=True)
class Principal:
    """Who is calling, for which tenant, and what they may do.

    ``permissions`` is what the roles grant, narrowed by an API key's scopes when the caller used
    one.
    """

    tenant_id: str
    subject: str
    roles: frozenset[str] = frozenset({"admin"})
    auth_method: AuthMethod = "test"
    api_key_id: str | None = None
    scopes: frozenset[str] | None = None
    """An API key's scopes (``None``: not narrowed)."""
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        granted = permissions_for_roles(self.roles)
        if self.scopes is not None:
            granted = frozenset(p for p in granted if p.value in self.scopes)
        object.__setattr__(self, "permissions", granted)

    def can(self, permission: Permission) -> bool:
        """Whether this caller holds ``permission``."""
        return permission in self.permissions
