"""The Keycloak realm export (auth/) and its bootstrap script, checked offline.

Keycloak does not run in CI: these tests hold the realm to what the API expects of a token
(roles it knows, the tenant claim, the audience) and check the bootstrap's pure parts.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agent_runtime_core.auth import Role
from agent_runtime_core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
REALM_FILE = ROOT / "auth" / "realm-agent-runtime.json"
BOOTSTRAP = ROOT / "scripts" / "keycloak_bootstrap.py"
API_CLIENT_ID = "agent-runtime-api"
DOCUMENTED_TENANT_CLAIM = "tenant_id"


@pytest.fixture(scope="module")
def realm() -> dict[str, Any]:
    return json.loads(REALM_FILE.read_text())


@pytest.fixture(scope="module")
def bootstrap() -> ModuleType:
    spec = importlib.util.spec_from_file_location("keycloak_bootstrap", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def client(realm: dict[str, Any], client_id: str) -> dict[str, Any]:
    [found] = [c for c in realm["clients"] if c["clientId"] == client_id]
    return found


def mapper(realm: dict[str, Any], kind: str) -> dict[str, Any]:
    [found] = [
        m for m in client(realm, "agent-runtime-cli")["protocolMappers"] if m["protocolMapper"] == kind
    ]
    return found


def test_realm_roles_are_exactly_the_roles_the_api_knows(realm: dict[str, Any]) -> None:
    assert realm["realm"] == "agent-runtime"
    assert {r["name"] for r in realm["roles"]["realm"]} == {role.value for role in Role}


def test_tenant_mapper_puts_the_user_attribute_in_the_claim_the_api_reads(realm: dict[str, Any]) -> None:
    config = mapper(realm, "oidc-usermodel-attribute-mapper")["config"]
    assert config["user.attribute"] == "tenant_id"
    assert config["claim.name"] == DOCUMENTED_TENANT_CLAIM
    assert config["access.token.claim"] == "true"
    # When the API's settings name the claim, the realm must use the default.
    claim_fields = [f for name, f in Settings.model_fields.items() if name.endswith("tenant_claim")]
    for field in claim_fields:
        assert field.default == config["claim.name"]
    # Users may not edit their own tenant (that would move them into another tenant).
    profile_config = realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
    profile = json.loads(profile_config["kc.user.profile.config"][0])
    [tenant_attribute] = [a for a in profile["attributes"] if a["name"] == "tenant_id"]
    assert tenant_attribute["permissions"]["edit"] == ["admin"]


def test_access_tokens_carry_the_api_client_as_audience(realm: dict[str, Any]) -> None:
    config = mapper(realm, "oidc-audience-mapper")["config"]
    assert config["included.client.audience"] == API_CLIENT_ID
    assert config["access.token.claim"] == "true"
    api = client(realm, API_CLIENT_ID)
    assert api["bearerOnly"] is True
    assert not api["publicClient"]
    cli = client(realm, "agent-runtime-cli")
    assert cli["publicClient"] is True
    assert cli["attributes"]["pkce.code.challenge.method"] == "S256"
    assert cli["attributes"]["oauth2.device.authorization.grant.enabled"] == "true"


def test_console_client_signs_in_with_pkce_at_the_consoles_address(realm: dict[str, Any]) -> None:
    """The web console's public client: the redirect URI the console sends (<origin>/console/),
    PKCE S256, no password grant, and tokens the API accepts (audience and tenant claim)."""
    console = client(realm, "agent-runtime-console")
    assert console["publicClient"] is True
    assert console["standardFlowEnabled"] is True
    assert console["implicitFlowEnabled"] is False
    assert console["directAccessGrantsEnabled"] is False
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"
    assert "http://localhost:8000/console/" in console["redirectUris"]
    mappers = {m["protocolMapper"]: m["config"] for m in console["protocolMappers"]}
    assert mappers["oidc-audience-mapper"]["included.client.audience"] == API_CLIENT_ID
    assert mappers["oidc-usermodel-attribute-mapper"]["claim.name"] == DOCUMENTED_TENANT_CLAIM
    # The console keeps the refresh token in the browser: each is good for one renewal only.
    assert realm["revokeRefreshToken"] is True and realm["refreshTokenMaxReuse"] == 0


def test_demo_tenant_has_one_user_per_role_with_dev_only_passwords(realm: dict[str, Any]) -> None:
    users = realm["users"]
    assert sorted(role for u in users for role in u["realmRoles"]) == sorted(r.value for r in Role)
    for user in users:
        assert user["attributes"]["tenant_id"] == ["ten_demo"]
        [credential] = user["credentials"]
        assert credential["value"].startswith("dev-only-")


def test_bootstrap_help_parses(bootstrap: ModuleType) -> None:
    result = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "--help"], capture_output=True, text=True, check=False, timeout=30
    )
    assert result.returncode == 0, result.stderr
    for command in ("realm", "tenant", "user"):
        assert command in result.stdout
    args = bootstrap.build_parser().parse_args(
        [
            "--server-url",
            "http://kc:8080",
            "tenant",
            "ten_acme",
            "--user",
            "alice:admin:a@acme.example",
            "--user",
            "bob:viewer",
        ]
    )
    assert args.users == [
        bootstrap.UserSpec("alice", ("admin",), "a@acme.example"),
        bootstrap.UserSpec("bob", ("viewer",)),
    ]
    for bad in (["tenant", "ten acme", "--user", "a:admin"], ["tenant", "ten_a", "--user", "a:root"]):
        with pytest.raises(SystemExit):
            bootstrap.build_parser().parse_args(bad)


def test_bootstrap_realm_for_real_deployments_drops_demo_users_and_password_grant(
    bootstrap: ModuleType, realm: dict[str, Any]
) -> None:
    production = bootstrap.production_realm(realm, with_demo_users=False)
    assert "users" not in production
    assert client(production, "agent-runtime-cli")["directAccessGrantsEnabled"] is False
    assert production["roles"] == realm["roles"]
    assert realm["users"]  # the export itself is untouched
    dev = bootstrap.production_realm(realm, with_demo_users=True)
    assert dev == realm
    payload = bootstrap.user_payload(bootstrap.UserSpec("carol", ("developer",)), "ten_acme")
    assert payload["attributes"] == {"tenant_id": ["ten_acme"]}
