"""The dev stack's key-encryption key for tenants' secrets: made once, kept in the data dir.

`agent-runtime dev` must store tool secrets out of the box, and encrypted like production does,
so it generates a local key the first time and passes it to the API and the worker. The file is
kept (mode 600) because secrets stored with it cannot be read without it; a deployment that
configures its own keys (``AGENT_RUNTIME_SECRETS_KEYS`` or a KMS key, in the environment or
``.env``) keeps them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

from agent_runtime_core.crypto import decode_local_key, generate_key_encryption_key
from agent_runtime_core.settings import Settings

DEV_SECRETS_KEY_FILE: Final = "secrets-key.json"
DEV_SECRETS_KEY_ID: Final = "dev-1"


class DevSecretsKeyError(Exception):
    """The stored dev key cannot be used (never replaced silently: secrets depend on it)."""


def ensure_dev_secrets_key(data_dir: Path, settings: Settings | None = None) -> dict[str, str]:
    """Environment variables that give the API and worker the dev key, or ``{}`` when
    ``settings`` (default: this process's environment) already configure secrets encryption.

    The key is generated into ``data_dir/secrets-key.json`` on first use and read from there
    afterwards.
    """
    settings = settings if settings is not None else Settings()
    if settings.secrets_keys or settings.secrets_kms_key_id:
        return {}
    path = data_dir / DEV_SECRETS_KEY_FILE
    if path.exists():
        key_id, key = _read(path)
    else:
        key_id, key = DEV_SECRETS_KEY_ID, generate_key_encryption_key()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"key_id": key_id, "key": key}, handle)
            handle.write("\n")
    return {
        "AGENT_RUNTIME_SECRETS_KEYS": json.dumps({key_id: key}),
        "AGENT_RUNTIME_SECRETS_ACTIVE_KEY_ID": key_id,
    }


def _read(path: Path) -> tuple[str, str]:
    try:
        stored = json.loads(path.read_text())
        key_id, key = str(stored["key_id"]), str(stored["key"])
        decode_local_key(key)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DevSecretsKeyError(
            f"{path} is not a usable secrets key ({type(exc).__name__}); secrets stored with it "
            "cannot be read without it. Restore the file, or delete it (and the dev data's "
            "secrets with it) to start over."
        ) from None
    return key_id, key
