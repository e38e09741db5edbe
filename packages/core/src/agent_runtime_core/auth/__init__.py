"""Who may do what: principals, roles and permissions (shared by the API and the worker)."""

from agent_runtime_core.auth.permissions import (
    ALL_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    permissions_for_roles,
)
from agent_runtime_core.auth.principal import AuthMethod, Principal

__all__ = [
    "ALL_PERMISSIONS",
    "ROLE_PERMISSIONS",
    "AuthMethod",
    "Permission",
    "Principal",
    "Role",
    "permissions_for_roles",
]
