"""Prefixed, time-sortable identifiers (``agt_…``, ``run_…``): never guessable sequences."""

from __future__ import annotations

from typing import Final

from ulid import ULID

PREFIXES: Final = {
    "agent": "agt",
    "run": "run",
    "audit": "aud",
    "tenant": "ten",
    "api_key": "key",
    "tool": "tool",
    "secret": "sec",
    "signing_key": "sig",
    "thread": "thr",
    "artifact": "art",
}


def new_id(prefix: str) -> str:
    """Return ``<prefix>_<ulid>``: lexicographic order is creation order (to the millisecond)."""
    return f"{prefix}_{str(ULID()).lower()}"


def new_agent_id() -> str:
    """Return a new agent id (``agt_…``)."""
    return new_id(PREFIXES["agent"])


def new_run_id() -> str:
    """Return a new run id (``run_…``)."""
    return new_id(PREFIXES["run"])


def new_audit_id() -> str:
    """Return a new audit log entry id (``aud_…``)."""
    return new_id(PREFIXES["audit"])


def new_api_key_id() -> str:
    """Return a new API key id (``key_…``)."""
    return new_id(PREFIXES["api_key"])


def new_secret_id() -> str:
    """Return a new tool secret id (``sec_…``)."""
    return new_id(PREFIXES["secret"])


def new_signing_key_id() -> str:
    """Return a new signing key id (``sig_…``)."""
    return new_id(PREFIXES["signing_key"])


def new_tool_id() -> str:
    """Return a new registered tool id (``tool_…``)."""
    return new_id(PREFIXES["tool"])


def new_thread_id() -> str:
    """Return a new thread id (``thr_…``)."""
    return new_id(PREFIXES["thread"])


def new_artifact_id() -> str:
    """Return a new artifact id (``art_…``)."""
    return new_id(PREFIXES["artifact"])
