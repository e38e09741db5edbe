#!/usr/bin/env python3
"""Set up Keycloak for Agent Runtime through its admin API (PyPI ``python-keycloak``).

For real deployments, where the compose stack's ``--import-realm`` (which only runs on an empty
Keycloak) is not how you manage identity:

    uv run scripts/keycloak_bootstrap.py realm                 # create the realm if it is missing
    uv run scripts/keycloak_bootstrap.py tenant ten_acme --user alice:admin:alice@acme.example \\
        --user bob:viewer                                     # users of a tenant, with roles
    uv run scripts/keycloak_bootstrap.py user carol --tenant ten_acme --role developer

``realm`` imports ``auth/realm-agent-runtime.json`` without its demo users and with the CLI
client's password grant turned off (``--with-demo-users`` keeps both, for a dev server). A tenant
is not a Keycloak object: it is the ``tenant_id`` attribute of its users, which the realm's
protocol mapper copies into every access token. New users get a random temporary password,
printed once; Keycloak makes them change it at first sign-in.

Credentials come from flags or the environment: ``KEYCLOAK_URL``, and either
``KEYCLOAK_ADMIN`` / ``KEYCLOAK_ADMIN_PASSWORD`` (a master-realm admin) or
``KEYCLOAK_CLIENT_ID`` / ``KEYCLOAK_CLIENT_SECRET`` (a service account with realm-management
roles, better for automation).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keycloak import KeycloakAdmin

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REALM_FILE = REPO_ROOT / "auth" / "realm-agent-runtime.json"
ROLES = ("viewer", "operator", "developer", "admin")
CLI_CLIENT_ID = "agent-runtime-cli"
TENANT_ATTRIBUTE = "tenant_id"
_TENANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class UserSpec:
    """A user to create or update: ``name:role[:email]`` on the command line."""

    username: str
    roles: tuple[str, ...]
    email: str | None = None


def parse_user_spec(value: str) -> UserSpec:
    """Parse ``name:role[:email]`` (argparse type)."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[0]:
        raise argparse.ArgumentTypeError(f"expected name:role[:email], got {value!r}")
    role = parts[1]
    if role not in ROLES:
        raise argparse.ArgumentTypeError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    return UserSpec(username=parts[0], roles=(role,), email=parts[2] if len(parts) == 3 else None)


def tenant_id_arg(value: str) -> str:
    """Validate a tenant id (argparse type); the realm's user profile enforces the same pattern."""
    if not _TENANT_ID.match(value):
        raise argparse.ArgumentTypeError(f"invalid tenant id {value!r}: 1-64 of [A-Za-z0-9_.-]")
    return value


def production_realm(export: dict[str, Any], *, with_demo_users: bool) -> dict[str, Any]:
    """The realm to create from the export: without demo users and the CLI's password grant,
    unless ``with_demo_users`` (a development server)."""
    realm = copy.deepcopy(export)
    if not with_demo_users:
        realm.pop("users", None)
        realm["displayName"] = "Agent Runtime"
        for client in realm.get("clients", []):
            if client.get("clientId") == CLI_CLIENT_ID:
                client["directAccessGrantsEnabled"] = False
    return realm


def user_payload(spec: UserSpec, tenant_id: str) -> dict[str, Any]:
    """The admin-API representation of a new user of ``tenant_id``."""
    payload: dict[str, Any] = {
        "username": spec.username,
        "enabled": True,
        "attributes": {TENANT_ATTRIBUTE: [tenant_id]},
    }
    if spec.email:
        payload["email"] = spec.email
        payload["emailVerified"] = False
    return payload


def connect(args: argparse.Namespace) -> KeycloakAdmin:
    """An admin client acting on ``args.realm`` (authenticated against ``args.admin_realm``)."""
    from keycloak import KeycloakAdmin

    if not args.server_url:
        sys.exit("--server-url (or KEYCLOAK_URL) is required")
    if args.client_secret:
        admin = KeycloakAdmin(
            server_url=args.server_url,
            client_id=args.client_id,
            client_secret_key=args.client_secret,
            realm_name=args.admin_realm,
            user_realm_name=args.admin_realm,
            verify=not args.insecure,
        )
    elif args.admin_user and args.admin_password:
        admin = KeycloakAdmin(
            server_url=args.server_url,
            username=args.admin_user,
            password=args.admin_password,
            realm_name=args.admin_realm,
            user_realm_name=args.admin_realm,
            verify=not args.insecure,
        )
    else:
        sys.exit("give --client-secret, or --admin-user and --admin-password (or their env vars)")
    return admin


def ensure_realm(admin: KeycloakAdmin, realm_file: Path, *, with_demo_users: bool) -> bool:
    """Create the realm from ``realm_file`` unless it exists. Returns whether it was created."""
    export = json.loads(realm_file.read_text())
    name = export["realm"]
    if any(realm.get("realm") == name for realm in admin.get_realms()):
        return False
    admin.create_realm(production_realm(export, with_demo_users=with_demo_users), skip_exists=True)
    return True


def ensure_user(admin: KeycloakAdmin, spec: UserSpec, tenant_id: str) -> str | None:
    """Create the user (with a random temporary password, returned) or, if it exists, check it
    belongs to ``tenant_id``; then grant its roles. Existing users keep their password (``None``)."""
    user_id = admin.get_user_id(spec.username)
    password: str | None = None
    if user_id is None:
        user_id = admin.create_user(user_payload(spec, tenant_id), exist_ok=False)
        password = secrets.token_urlsafe(12)
        admin.set_user_password(user_id, password, temporary=True)
    else:
        existing = admin.get_user(user_id).get("attributes", {}).get(TENANT_ATTRIBUTE, [])
        if existing and existing != [tenant_id]:
            # Moving a user between tenants would hand them the other tenant's data: refuse.
            sys.exit(f"user {spec.username!r} belongs to tenant {existing[0]!r}, not {tenant_id!r}")
        if not existing:
            user = admin.get_user(user_id)
            attributes = {**user.get("attributes", {}), TENANT_ATTRIBUTE: [tenant_id]}
            admin.update_user(user_id, {**user, "attributes": attributes})
    admin.assign_realm_roles(user_id, [admin.get_realm_role(role) for role in spec.roles])
    return password


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="keycloak_bootstrap.py",
        description="Create Agent Runtime's Keycloak realm, tenants and users through the admin API.",
    )
    parser.add_argument("--server-url", default=env("KEYCLOAK_URL"), help="Keycloak base URL [KEYCLOAK_URL]")
    parser.add_argument("--admin-realm", default="master", help="realm the admin signs in to (master)")
    parser.add_argument("--admin-user", default=env("KEYCLOAK_ADMIN"), help="[KEYCLOAK_ADMIN]")
    parser.add_argument(
        "--admin-password", default=env("KEYCLOAK_ADMIN_PASSWORD"), help="[KEYCLOAK_ADMIN_PASSWORD]"
    )
    parser.add_argument(
        "--client-id", default=env("KEYCLOAK_CLIENT_ID", "admin-cli"), help="[KEYCLOAK_CLIENT_ID]"
    )
    parser.add_argument(
        "--client-secret",
        default=env("KEYCLOAK_CLIENT_SECRET"),
        help="service-account secret, instead of an admin user [KEYCLOAK_CLIENT_SECRET]",
    )
    parser.add_argument("--realm", default="agent-runtime", help="the Agent Runtime realm (agent-runtime)")
    parser.add_argument("--insecure", action="store_true", help="skip TLS verification (dev only)")
    commands = parser.add_subparsers(dest="command", required=True)

    realm = commands.add_parser("realm", help="create the realm from the export if it is missing")
    realm.add_argument("--realm-file", type=Path, default=DEFAULT_REALM_FILE)
    realm.add_argument(
        "--with-demo-users",
        action="store_true",
        help="keep the demo tenant's users and the CLI password grant (development only)",
    )

    tenant = commands.add_parser("tenant", help="create a tenant's users (the tenant is their attribute)")
    tenant.add_argument("tenant_id", type=tenant_id_arg)
    tenant.add_argument(
        "--user",
        dest="users",
        action="append",
        type=parse_user_spec,
        required=True,
        metavar="NAME:ROLE[:EMAIL]",
        help=f"a user and its role ({', '.join(ROLES)}); repeat for more",
    )

    user = commands.add_parser("user", help="create a user of a tenant, or grant an existing one roles")
    user.add_argument("username")
    user.add_argument("--tenant", required=True, type=tenant_id_arg)
    user.add_argument("--role", dest="roles", action="append", choices=ROLES, required=True)
    user.add_argument("--email")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command."""
    args = build_parser().parse_args(argv)
    admin = connect(args)
    if args.command == "realm":
        created = ensure_realm(admin, args.realm_file, with_demo_users=args.with_demo_users)
        print(f"realm {args.realm}: {'created' if created else 'exists, left unchanged'}")
        return 0
    admin.change_current_realm(args.realm)
    if args.command == "tenant":
        specs: list[UserSpec] = args.users
        tenant: str = args.tenant_id
    else:
        specs = [UserSpec(username=args.username, roles=tuple(args.roles), email=args.email)]
        tenant = args.tenant
    for spec in specs:
        password = ensure_user(admin, spec, tenant)
        roles = ",".join(spec.roles)
        if password:
            print(f"{spec.username}: created in {tenant} as {roles}; temporary password: {password}")
        else:
            print(f"{spec.username}: exists in {tenant}; roles granted: {roles}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
