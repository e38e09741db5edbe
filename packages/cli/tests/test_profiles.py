"""Where API commands connect: options, profiles (a 0600 TOML file under $XDG_CONFIG_HOME) and
environment variables, in that order of precedence; and the `profiles` commands."""

from __future__ import annotations

import asyncio
import json
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agent_runtime_cli.remote.config import (
    DEFAULT_URL,
    ConfigError,
    Profile,
    config_path,
    load_config,
    mask_api_key,
    resolve_connection,
    set_profile,
    use_profile,
)
from packages.client.tests.conftest import Stack

from .terminal import run

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent-runtime" / "config.toml"
    set_profile("local", url="http://local:8000", api_key="ar_local_secret", path=path)
    set_profile("prod", url="https://prod.example.com", api_key="ar_prod_secret", path=path)
    return path


def test_the_first_profile_becomes_current_and_the_file_is_private(config_file: Path) -> None:
    config = load_config(config_file)
    assert config.current_profile == "local"
    assert config.profiles["prod"] == Profile(url="https://prod.example.com", api_key="ar_prod_secret")
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_file.parent.stat().st_mode) == 0o700
    assert tomllib.loads(config_file.read_text())["profiles"]["local"]["api_key"] == "ar_local_secret"


def test_setting_one_value_keeps_the_other_and_use_switches_the_current_profile(config_file: Path) -> None:
    set_profile("prod", url="https://new.example.com", api_key=None, path=config_file)
    use_profile("prod", path=config_file)
    config = load_config(config_file)
    assert config.profiles["prod"] == Profile(url="https://new.example.com", api_key="ar_prod_secret")
    assert config.current_profile == "prod"
    with pytest.raises(ConfigError, match="no profile named 'qa'"):
        use_profile("qa", path=config_file)
    with pytest.raises(ConfigError, match="invalid profile name"):
        set_profile("a b", url="x", api_key=None, path=config_file)


@pytest.mark.parametrize(
    ("options", "environ", "expected"),
    [
        ({}, {}, ("http://local:8000", "ar_local_secret", "local")),  # the current profile
        (
            {},
            {"AGENT_RUNTIME_URL": "http://env", "AGENT_RUNTIME_API_KEY": "ar_env"},
            ("http://env", "ar_env", None),
        ),
        (
            {"profile": "prod"},
            {"AGENT_RUNTIME_URL": "http://env"},
            ("https://prod.example.com", "ar_prod_secret", "prod"),
        ),
        ({}, {"AGENT_RUNTIME_PROFILE": "prod"}, ("https://prod.example.com", "ar_prod_secret", "prod")),
        ({"url": "http://opt", "profile": "prod"}, {}, ("http://opt", "ar_prod_secret", "prod")),
        (
            {"api_key": "ar_opt"},
            {"AGENT_RUNTIME_API_KEY": "ar_env"},
            ("http://local:8000", "ar_opt", "local"),
        ),
    ],
    ids=[
        "current",
        "env-beats-current",
        "named-beats-env",
        "env-profile",
        "option-beats-profile",
        "key-option",
    ],
)
def test_options_then_a_named_profile_then_the_environment_then_the_current_profile(
    config_file: Path, options: dict[str, str], environ: dict[str, str], expected: tuple[str, str, str | None]
) -> None:
    arguments = {"url": None, "api_key": None, "profile": None} | options
    connection = resolve_connection(**arguments, environ=environ, path=config_file)
    assert (connection.url, connection.api_key, connection.profile) == expected


def test_without_configuration_the_dev_stacks_url_is_used(tmp_path: Path) -> None:
    connection = resolve_connection(
        url=None, api_key=None, profile=None, environ={}, path=tmp_path / "none.toml"
    )
    assert (connection.url, connection.api_key) == (DEFAULT_URL, None)
    with pytest.raises(ConfigError, match="no profile named 'prod'"):
        resolve_connection(url=None, api_key=None, profile="prod", environ={}, path=tmp_path / "none.toml")


def test_a_malformed_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.local]\nurl = 5\n")
    with pytest.raises(ConfigError, match="url and api_key must be strings"):
        load_config(path)
    path.write_text("not toml = = =")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(path)


def test_config_path_honours_xdg_config_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "agent-runtime" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # ignored, as the spec says
    assert config_path() == Path.home() / ".config" / "agent-runtime" / "config.toml"


def test_keys_are_shown_by_their_public_prefix_only() -> None:
    assert mask_api_key("ar_5f0c2a9e1b7d4c3a_s3cr3t") == "ar_5f0c2a9e1b7d4c3a_…"
    assert "s3cr3t" not in mask_api_key("s3cr3t")


async def test_commands_use_the_profiles_the_profiles_commands_write(
    stack: Stack, cli_env: dict[str, str], cli_agents: dict[str, str]
) -> None:
    env = {k: v for k, v in cli_env.items() if k not in ("AGENT_RUNTIME_URL", "AGENT_RUNTIME_API_KEY")}
    config = Path(env["XDG_CONFIG_HOME"]) / "agent-runtime" / "config.toml"

    def scenario() -> dict[str, Any]:
        return {
            "empty": run(["profiles", "list", "-o", "json"], env),
            "set_dead": run(
                ["profiles", "set", "dead", "--url", "http://127.0.0.1:9", "--api-key", "ar_x_y"], env
            ),
            "set_live": run(
                ["profiles", "set", "live", "--url", stack.url, "--api-key", "-"],
                env,
                stdin=stack.api_key + "\n",
            ),
            "current_dead": run(["agents", "list", "-o", "json"], env),
            "named": run(["agents", "get", "calc", "--profile", "live", "-o", "json"], env),
            "env_named": run(
                ["agents", "get", "calc", "-o", "json"], env | {"AGENT_RUNTIME_PROFILE": "live"}
            ),
            "use": run(["profiles", "use", "live"], env),
            "current_live": run(["agents", "get", "calc", "-o", "json"], env),
            "list": run(["profiles", "list", "-o", "json"], env),
            "unknown": run(["agents", "list", "--profile", "qa"], env),
            "nothing": run(["profiles", "set", "empty"], env),
        }

    done = await asyncio.to_thread(scenario)

    codes = {name: result.returncode for name, result in done.items()}
    assert codes == {
        "empty": 0,
        "set_dead": 0,
        "set_live": 0,
        "current_dead": 3,  # the first profile became current, and it points nowhere
        "named": 0,
        "env_named": 0,
        "use": 0,
        "current_live": 0,
        "list": 0,
        "unknown": 2,
        "nothing": 2,
    }, {name: result.stderr for name, result in done.items()}
    assert json.loads(done["empty"].stdout) == {"current_profile": None, "profiles": []}
    assert "cannot reach the API at http://127.0.0.1:9" in done["current_dead"].stderr
    for name in ("named", "env_named", "current_live"):
        assert json.loads(done[name].stdout)["id"] == cli_agents["calc"]
    listed = json.loads(done["list"].stdout)
    assert listed["current_profile"] == "live"
    assert [(p["name"], p["current"], p["url"]) for p in listed["profiles"]] == [
        ("dead", False, "http://127.0.0.1:9"),
        ("live", True, stack.url),
    ]
    assert stack.api_key not in done["list"].stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert tomllib.loads(config.read_text())["profiles"]["live"]["api_key"] == stack.api_key
    assert "no profile named 'qa'" in done["unknown"].stderr
