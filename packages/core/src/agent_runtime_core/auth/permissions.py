"""Roles and the permissions they grant (RBAC).

A permission is ``<resource>:<action>``; API-key scopes use the same strings, so a key can be
narrowed to any subset of what its creator may do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Permission(StrEnum):
    """One thing a caller may do. The value is also the API-key scope string."""

    AGENTS_READ = "agents:read"
    AGENTS_WRITE = "agents:write"
    TOOLS_READ = "tools:read"
    TOOLS_WRITE = "tools:write"
    SECRETS_MANAGE = "secrets:manage"
    RUNS_READ = "runs:read"
    RUNS_CREATE = "runs:create"
    RUNS_CANCEL = "runs:cancel"
    APPROVALS_DECIDE = "approvals:decide"
    USAGE_READ = "usage:read"
    API_KEYS_MANAGE = "api_keys:manage"
    AUDIT_READ = "audit:read"
    BUDGETS_MANAGE = "budgets:manage"
    PROVIDERS_MANAGE = "providers:manage"
    TENANTS_MANAGE = "tenants:manage"
    STORE_READ = "store:read"
    STORE_WRITE = "store:write"
    ARTIFACTS_READ = "artifacts:read"
    ARTIFACTS_WRITE = "artifacts:write"
    PAYLOADS_DECODE = "payloads:decode"


class Role(StrEnum):
    """Roles a token's claims or an API key carry."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    DEVELOPER = "developer"
    ADMIN = "admin"


ALL_PERMISSIONS: Final = frozenset(Permission)

_VIEWER: Final = frozenset(
    {
        Permission.AGENTS_READ,
        Permission.TOOLS_READ,
        Permission.RUNS_READ,
        Permission.USAGE_READ,
        Permission.STORE_READ,
        Permission.ARTIFACTS_READ,
    }
)
_OPERATOR: Final = _VIEWER | {
    Permission.RUNS_CREATE,
    Permission.RUNS_CANCEL,
    Permission.APPROVALS_DECIDE,
    Permission.STORE_WRITE,
    Permission.ARTIFACTS_WRITE,
}
_DEVELOPER: Final = _OPERATOR | {Permission.AGENTS_WRITE, Permission.TOOLS_WRITE, Permission.SECRETS_MANAGE}

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _OPERATOR,
    Role.DEVELOPER: _DEVELOPER,
    Role.ADMIN: ALL_PERMISSIONS,
}
"""viewer reads (the long-term memory store and artifacts too); operator also starts, cancels and
decides runs and writes the store and artifacts (what agents remember and the files runs use are
run-time data, like runs); developer also manages agents,
tools and tool secrets (secrets are write-only: nobody reads a value back);
admin also manages API keys, budgets and providers and reads the audit log. ``providers:manage``,
``tenants:manage`` and ``payloads:decode`` (the Temporal codec endpoint: it decrypts any tenant's
payloads, which carry no tenant) concern the whole deployment: they count only in the operators'
tenant (see ``agent_runtime_api.deps.require_platform_operator``)."""


def permissions_for_roles(roles: frozenset[str] | set[str]) -> frozenset[Permission]:
    """The union of the permissions of ``roles``; unknown role names grant nothing."""
    granted: set[Permission] = set()
    for name in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(name)]
        except ValueError:
            continue
    return frozenset(granted)
