"""Where the CLI's API commands connect, and the profiles file that remembers it.

A profile is a named API URL and key (``local``, ``staging``, ``prod``), kept in
``$XDG_CONFIG_HOME/agent-runtime/config.toml`` (``~/.config/agent-runtime/config.toml`` by
default), a file only its owner can read (0600: it holds API keys)::

    current_profile = "local"

    [profiles.local]
    url = "http://127.0.0.1:8000"
    api_key = "ar_…"

Each setting is taken from the first of these that has it:

1. the command's options ``--url`` / ``--api-key``;
2. the profile named by ``--profile`` or ``AGENT_RUNTIME_PROFILE`` (naming one is a choice for
   this command, so it beats the ambient variables below);
3. ``AGENT_RUNTIME_URL`` / ``AGENT_RUNTIME_API_KEY``;
4. the current profile (``agent-runtime profiles use NAME``);
5. the URL ``agent-runtime dev`` serves, ``http://127.0.0.1:8000`` (and no key).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "AGENT_RUNTIME_URL"
API_KEY_ENV = "AGENT_RUNTIME_API_KEY"
PROFILE_ENV = "AGENT_RUNTIME_PROFILE"

PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""Profile names are TOML bare keys: letters, digits, ``_`` and ``-``."""


class ConfigError(Exception):
    """The configuration cannot be used (a malformed file, an unknown profile): a usage error."""


@dataclass(frozen=True)
class Profile:
    """A named API URL and key (either may be left out)."""

    url: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Config:
    """The profiles file's content."""

    profiles: dict[str, Profile] = field(default_factory=dict[str, Profile])
    current_profile: str | None = None


@dataclass(frozen=True)
class Connection:
    """Where to send requests, and with which key."""

    url: str
    api_key: str | None
    profile: str | None
    """The profile that supplied a setting, if one did."""


def config_path() -> Path:
    """The profiles file: under ``$XDG_CONFIG_HOME`` when it is set (an absolute path), else
    under ``~/.config``."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "agent-runtime" / "config.toml"


def check_profile_name(name: str) -> str:
    """``name`` if it can name a profile; otherwise :class:`ConfigError`."""
    if not PROFILE_NAME.match(name):
        raise ConfigError(f"invalid profile name {name!r}: use 1-64 letters, digits, '_' or '-'")
    return name


def load_config(path: Path | None = None) -> Config:
    """The profiles file (an empty configuration when there is none)."""
    path = path or config_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    profiles: dict[str, Profile] = {}
    table = raw.get("profiles", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [profiles] must be a table")
    entries = cast(Mapping[str, Any], table)
    for name, values in entries.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [profiles.{name}] must be a table")
        settings = cast(Mapping[str, Any], values)
        url, api_key = settings.get("url"), settings.get("api_key")
        if not isinstance(url, str | None) or not isinstance(api_key, str | None):
            raise ConfigError(f"{path}: [profiles.{name}] url and api_key must be strings")
        profiles[name] = Profile(url=url, api_key=api_key)
    current = raw.get("current_profile")
    if not isinstance(current, str | None):
        raise ConfigError(f"{path}: current_profile must be a string")
    return Config(profiles=profiles, current_profile=current)


def _toml_string(value: str) -> str:
    # A JSON string without \uXXXX surrogate escapes (ensure_ascii=False) is a TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def dump_config(config: Config) -> str:
    """The profiles file's text."""
    lines = ["# Profiles of the agent-runtime CLI (`agent-runtime profiles --help`). Holds API keys."]
    if config.current_profile is not None:
        lines.append(f"current_profile = {_toml_string(config.current_profile)}")
    for name, profile in config.profiles.items():
        lines += ["", f"[profiles.{check_profile_name(name)}]"]
        if profile.url is not None:
            lines.append(f"url = {_toml_string(profile.url)}")
        if profile.api_key is not None:
            lines.append(f"api_key = {_toml_string(profile.api_key)}")
    return "\n".join(lines) + "\n"


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write the profiles file atomically, readable by its owner only (0600, its folder 0700)."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600: the key is never readable by others, not even for a moment.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(dump_config(config))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def set_profile(name: str, *, url: str | None, api_key: str | None, path: Path | None = None) -> Config:
    """Create profile ``name`` or change the settings given; the first profile becomes current."""
    check_profile_name(name)
    config = load_config(path)
    old = config.profiles.get(name, Profile())
    profile = Profile(url=url if url is not None else old.url, api_key=api_key or old.api_key)
    profiles = {**config.profiles, name: profile}
    current = config.current_profile if config.current_profile in profiles else name
    updated = replace(config, profiles=profiles, current_profile=current)
    save_config(updated, path)
    return updated


def use_profile(name: str, path: Path | None = None) -> Config:
    """Make ``name`` the current profile."""
    config = load_config(path)
    if name not in config.profiles:
        raise ConfigError(_unknown_profile(name, config))
    updated = replace(config, current_profile=name)
    save_config(updated, path)
    return updated


def _unknown_profile(name: str, config: Config) -> str:
    known = ", ".join(sorted(config.profiles)) or "none yet"
    return (
        f"no profile named {name!r} in {config_path()} (profiles: {known}); "
        f"create it with `agent-runtime profiles set {name} --url URL --api-key KEY`"
    )


def resolve_connection(
    *,
    url: str | None,
    api_key: str | None,
    profile: str | None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Connection:
    """Where the command connects (see the module's docstring for the order)."""
    environ = os.environ if environ is None else environ
    config = load_config(path)
    chosen_name = profile or environ.get(PROFILE_ENV) or None
    chosen: Profile | None = None
    if chosen_name is not None:
        if chosen_name not in config.profiles:
            raise ConfigError(_unknown_profile(chosen_name, config))
        chosen = config.profiles[chosen_name]
    current_name = config.current_profile if chosen_name is None else None
    current = config.profiles.get(current_name) if current_name is not None else None

    used: set[str] = set()

    def pick(option: str | None, attribute: str, variable: str) -> str | None:
        if option:
            return option
        if chosen is not None and getattr(chosen, attribute):
            used.add(chosen_name or "")
            return getattr(chosen, attribute)
        if environ.get(variable):
            return environ[variable]
        if current is not None and getattr(current, attribute):
            used.add(current_name or "")
            return getattr(current, attribute)
        return None

    resolved_url = pick(url, "url", URL_ENV) or DEFAULT_URL
    resolved_key = pick(api_key, "api_key", API_KEY_ENV)
    return Connection(url=resolved_url, api_key=resolved_key, profile=next(iter(used), None))


def mask_api_key(api_key: str | None) -> str:
    """An API key as it may be shown: its public prefix (``ar_5f0c…_``), never the secret."""
    if not api_key:
        return ""
    prefix = re.match(r"^(ar_[A-Za-z0-9]+_)", api_key)
    return f"{prefix.group(1)}…" if prefix else "…" + "*" * 4
