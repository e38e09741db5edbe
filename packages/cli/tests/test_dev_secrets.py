"""The dev stack's secrets key: generated once into the data dir, reused, never replaced."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from agent_runtime_cli.dev_secrets import DevSecretsKeyError, ensure_dev_secrets_key
from agent_runtime_core.crypto import cipher_from_settings, generate_key_encryption_key
from agent_runtime_core.settings import Settings

UNCONFIGURED = Settings(secrets_keys={}, secrets_kms_key_id=None)


async def test_key_is_generated_once_and_works_for_the_processes_it_is_given_to(tmp_path: Path) -> None:
    env = ensure_dev_secrets_key(tmp_path, UNCONFIGURED)
    key_file = tmp_path / "secrets-key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ensure_dev_secrets_key(tmp_path, UNCONFIGURED) == env  # reused on the next start

    # What the API and worker read from that environment encrypts and decrypts.
    settings = Settings.model_validate(
        {
            "secrets_keys": json.loads(env["AGENT_RUNTIME_SECRETS_KEYS"]),
            "secrets_active_key_id": env["AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID"],
        }
    )
    cipher = cipher_from_settings(settings)
    assert cipher is not None
    context = {"tenant_id": "ten_default", "name": "TOKEN"}
    assert await cipher.decrypt(await cipher.encrypt(b"value", context), context) == b"value"


def test_configured_keys_are_kept(tmp_path: Path) -> None:
    own = Settings.model_validate(
        {"secrets_keys": {"prod": generate_key_encryption_key()}, "secrets_active_key_id": "prod"}
    )
    assert ensure_dev_secrets_key(tmp_path, own) == {}
    assert ensure_dev_secrets_key(tmp_path, Settings(secrets_kms_key_id="alias/x")) == {}
    assert not (tmp_path / "secrets-key.json").exists()


@pytest.mark.parametrize("content", ["not json", "{}", '{"key_id": "dev-1", "key": "short"}'])
def test_an_unusable_key_file_is_an_error_not_replaced(tmp_path: Path, content: str) -> None:
    key_file = tmp_path / "secrets-key.json"
    key_file.write_text(content)
    with pytest.raises(DevSecretsKeyError, match="secrets stored with it cannot be read"):
        ensure_dev_secrets_key(tmp_path, UNCONFIGURED)
    assert key_file.read_text() == content
