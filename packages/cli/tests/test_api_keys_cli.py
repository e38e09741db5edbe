"""`agent-runtime api-keys` and the dev stack's admin key, against the session's Postgres."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_runtime_api.auth import authenticate_api_key
from agent_runtime_cli.api_keys import ensure_dev_api_key
from agent_runtime_cli.main import app
from agent_runtime_core.auth import Permission
from agent_runtime_core.db import Database
from agent_runtime_core.errors import UnauthorizedError


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_runtime_core.settings import get_settings

    monkeypatch.setenv("AGENT_RUNTIME_DATABASE_URL", database_url)
    get_settings.cache_clear()


@pytest.mark.usefixtures("env")
async def test_create_prints_a_working_key_and_revoke_stops_it(database: Database, tenant_id: str) -> None:
    runner = CliRunner()
    # The commands run their own event loop: invoke them off this test's loop.
    created = await asyncio.to_thread(
        runner.invoke,
        app,
        [
            "api-keys",
            "create",
            "--tenant",
            tenant_id,
            "--role",
            "operator",
            "--name",
            "ci",
            "--scope",
            "runs:read",
        ],
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    principal = await authenticate_api_key(database, token, last_used_interval_s=60)
    assert principal.tenant_id == tenant_id and principal.roles == {"operator"}
    assert principal.permissions == {Permission.RUNS_READ}

    assert principal.api_key_id is not None
    revoked = await asyncio.to_thread(
        runner.invoke, app, ["api-keys", "revoke", principal.api_key_id, "--tenant", tenant_id]
    )
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(UnauthorizedError, match="revoked"):
        await authenticate_api_key(database, token, last_used_interval_s=60)
    unknown = await asyncio.to_thread(
        runner.invoke, app, ["api-keys", "revoke", "key_nope", "--tenant", tenant_id]
    )
    assert unknown.exit_code == 1


@pytest.mark.usefixtures("env")
def test_create_refuses_unknown_roles_and_bad_tenants() -> None:
    runner = CliRunner()
    assert (
        runner.invoke(app, ["api-keys", "create", "--tenant", "t", "--role", "root", "--name", "x"]).exit_code
        == 2
    )
    bad = runner.invoke(app, ["api-keys", "create", "--tenant", "a b", "--role", "admin", "--name", "x"])
    assert bad.exit_code == 2


async def test_dev_key_is_reused_while_it_works_and_replaced_otherwise(
    database_url: str, database: Database, tenant_id: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "api-key"
    first = await asyncio.to_thread(ensure_dev_api_key, database_url, key_file, tenant_id)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert await asyncio.to_thread(ensure_dev_api_key, database_url, key_file, tenant_id) == first
    principal = await authenticate_api_key(database, first, last_used_interval_s=60)
    assert principal.tenant_id == tenant_id and "admin" in principal.roles

    key_file.write_text("ar_0123456789abcdef_" + "x" * 43)  # a key this database never issued
    second = await asyncio.to_thread(ensure_dev_api_key, database_url, key_file, tenant_id)
    assert second != first and key_file.read_text().strip() == second
    with pytest.raises(UnauthorizedError, match="revoked"):  # the older dev key does not linger
        await authenticate_api_key(database, first, last_used_interval_s=60)
