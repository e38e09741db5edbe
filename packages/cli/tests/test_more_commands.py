"""`agent-runtime usage|secrets|tools|store` against a live API, run as users run them: with
pipes (JSON on stdout, messages on stderr, exit codes) or in a pseudo-terminal (tables, the
hidden prompt of `secrets set`)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_runtime_client import AgentRuntime
from agent_runtime_core.crypto import cipher_from_settings
from agent_runtime_core.db import session_scope
from agent_runtime_core.repositories import ToolSecretRepository
from packages.client.tests.conftest import Stack

from .terminal import Terminal, run

pytestmark = pytest.mark.timeout(90)


def unique(prefix: str) -> str:
    """A name no other test (of this session's shared tenant) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def stored_secrets(stack: Stack, *names: str) -> dict[str, str]:
    """What a worker would get for ``names``: the values as the API stored them."""
    cipher = cipher_from_settings(stack.settings)
    async with session_scope(stack.database, stack.tenant_id) as session:
        return await ToolSecretRepository(session, stack.tenant_id, cipher).secret_values(names)


def assert_clean_error(done: Any, code: int, *texts: str) -> None:
    """``done`` exited ``code`` with each of ``texts`` on stderr and no stack trace."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    for text in texts:
        assert text in done.stderr, (text, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


# ------------------------------------------------------------------------------------ usage


async def test_usage_counts_a_run_by_agent_and_day_with_totals(
    cli_env: dict[str, str], stack: Stack, write_file: Callable[[str, str], Path]
) -> None:
    name = unique("usage-calc")
    agent_file = write_file(
        "agent.yaml", f"name: {name}\nmodel: builtin:scripted\ntools: [{{name: calculator}}]\n"
    )

    def scenario() -> dict[str, Any]:
        created = run(["agents", "create", "-f", str(agent_file), "-o", "json"], cli_env)
        assert created.returncode == 0, created.stderr
        try:
            return measure(json.loads(created.stdout)["id"])
        finally:  # other tests list the tenant's agents: leave only theirs
            with AgentRuntime(stack.url, stack.api_key) as client:
                client.agents.delete(json.loads(created.stdout)["id"])

    def measure(agent_id: str) -> dict[str, Any]:
        before = run(["usage", "-o", "json"], cli_env)
        finished = run(["runs", "start", name, "What is 6*7?", "--wait", "-o", "json"], cli_env)
        assert finished.returncode == 0, finished.stderr
        by_day = run(["usage", "-o", "json"], cli_env)
        by_agent = run(["usage", "show", "--group-by", "agent", "--group-by", "model", "-o", "json"], cli_env)
        table = Terminal(["usage", "--group-by", "agent"], cli_env)
        past = run(["usage", "--from", "2020-01-01", "--to", "2020-01-31", "-o", "yaml"], cli_env)
        reversed_window = run(["usage", "--from", "2026-12-07", "--to", "2026-12-01"], cli_env)
        bad_group = run(["usage", "--group-by", "tenant"], cli_env)
        limits = run(["usage", "limits", "-o", "json"], cli_env)
        return {
            "agent_id": agent_id,
            "before": json.loads(before.stdout),
            "run": json.loads(finished.stdout),
            "by_day": json.loads(by_day.stdout),
            "by_agent": json.loads(by_agent.stdout),
            "table": (table.wait(), table.screen),
            "past": past,
            "reversed": reversed_window,
            "bad_group": bad_group,
            "limits": limits,
        }

    result = await asyncio.to_thread(scenario)

    used = result["run"]["usage"]
    assert used["requests"] == 2 and used["input_tokens"] > 0
    before, by_day = result["before"], result["by_day"]
    # The default window: the last 7 UTC days, by day, ending at tomorrow's midnight (UTC).
    assert by_day["group_by"] == ["day"]
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert by_day["until"].startswith(f"{tomorrow.isoformat()}T00:00:00")
    assert by_day["since"].startswith(f"{(tomorrow - timedelta(days=7)).isoformat()}T00:00:00")
    assert by_day["totals"]["requests"] >= before["totals"]["requests"] + 2
    assert by_day["totals"]["requests"] == sum(row["requests"] for row in by_day["groups"])
    assert by_day["totals"]["input_tokens"] == sum(row["input_tokens"] for row in by_day["groups"])
    # This test's agent ran once: its row is exactly that run's usage.
    [row] = [row for row in result["by_agent"]["groups"] if row["agent_id"] == result["agent_id"]]
    assert row["model"] == "builtin:scripted"
    assert (row["requests"], row["input_tokens"], row["output_tokens"]) == (
        used["requests"],
        used["input_tokens"],
        used["output_tokens"],
    )
    code, screen = result["table"]
    assert code == 0, screen
    assert re.search(r"Usage from \d{4}-\d\d-\d\d 00:00 to \d{4}-\d\d-\d\d 00:00 UTC, by agent\n", screen)
    assert re.search(r"AGENT +REQUESTS +INPUT TOKENS +OUTPUT TOKENS +COST", screen), screen
    assert re.search(rf"{name} \({result['agent_id']}\) +2 +{used['input_tokens']:,} ", screen), screen
    assert re.search(r"\n *total +[\d,]+ +[\d,]+ +[\d,]+ ", screen), screen
    past = result["past"]
    assert past.returncode == 0, past.stderr
    report = yaml.safe_load(past.stdout)
    assert (str(report["since"])[:10], str(report["until"])[:10]) == ("2020-01-01", "2020-02-01")
    assert report["totals"]["requests"] == 0 and report["groups"] == []
    assert_clean_error(result["reversed"], 2, "--from 2026-12-07 is after --to 2026-12-01")
    assert_clean_error(result["bad_group"], 2, "'tenant' is not one of")
    limits = result["limits"]
    assert limits.returncode == 0, limits.stderr
    assert json.loads(limits.stdout)["max_active_runs"]["source"] in {"tenant", "default"}


# ---------------------------------------------------------------------------------- secrets


async def test_a_secret_set_from_a_pipe_is_stored_without_its_line_break_and_never_listed(
    cli_env: dict[str, str], stack: Stack
) -> None:
    name = unique("cli_piped")
    value = "zq-piped-VALUE-8812"

    def scenario() -> dict[str, Any]:
        created = run(["secrets", "set", name, "-d", "Tickets [API]"], cli_env, stdin=value + "\n")
        listed = run(["secrets", "list", "--all", "-o", "json"], cli_env)
        table = Terminal(["secrets", "list", "--all"], cli_env)
        replaced = run(["secrets", "set", name, "-o", "json"], cli_env, stdin=value + "-2")
        return {
            "created": created,
            "listed": listed,
            "table": (table.wait(), table.screen),
            "replaced": replaced,
        }

    result = await asyncio.to_thread(scenario)

    created = result["created"]
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == name  # a pipe: the API's JSON
    assert value not in created.stdout + created.stderr
    listed = result["listed"]
    assert listed.returncode == 0, listed.stderr
    [mine] = [s for s in json.loads(listed.stdout)["data"] if s["name"] == name]
    assert set(mine) == {"id", "name", "description", "created_at", "updated_at"}
    assert mine["description"] == "Tickets [API]" and value not in listed.stdout
    code, screen = result["table"]
    assert code == 0 and re.search(rf"{name} +Tickets \[API\] +sec_", screen) and value not in screen, screen
    replaced = result["replaced"]
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["description"] == "Tickets [API]"  # kept: no -d
    assert value not in replaced.stdout + replaced.stderr
    assert await stored_secrets(stack, name) == {name: value + "-2"}


async def test_a_secret_typed_at_the_hidden_prompt_never_shows_and_delete_removes_it(
    cli_env: dict[str, str], stack: Stack
) -> None:
    name = unique("cli_typed")
    value = "hunter2-TYPED-5521"

    def scenario() -> dict[str, Any]:
        terminal = Terminal(["secrets", "set", name], cli_env)
        terminal.expect(rf"Value of {name} \(hidden; Enter to finish\): ")
        terminal.type(value)
        code, screen = terminal.wait(), terminal.screen
        empty = Terminal(["secrets", "set", unique("cli_empty")], cli_env)
        empty.expect("hidden")
        empty.type("")
        empty_result = (empty.wait(), empty.screen)
        nothing_piped = run(["secrets", "set", unique("cli_nothing")], cli_env, stdin="")
        bad_name = run(["secrets", "set", "9-not-a-name"], cli_env, stdin="x")
        extra = run(["secrets", "set", name, value], cli_env)
        return {
            "typed": (code, screen),
            "empty": empty_result,
            "nothing_piped": nothing_piped,
            "bad_name": bad_name,
            "extra": extra,
        }

    result = await asyncio.to_thread(scenario)

    code, screen = result["typed"]
    assert code == 0, screen
    assert value not in screen  # not echoed as typed, not printed after
    assert f"Read {len(value)} characters." in screen and f"Created secret {name}." in screen
    assert re.search(rf"name +{name}", screen), screen
    assert await stored_secrets(stack, name) == {name: value}
    code, screen = result["empty"]
    assert code == 2 and "error: no value typed; nothing was stored" in screen, screen
    assert_clean_error(
        result["nothing_piped"],
        2,
        "error: no value on standard input",
        'printf %s "$VALUE" | agent-runtime secrets set cli_nothing_',
        "hidden prompt",
    )
    assert_clean_error(
        result["bad_name"], 3, "(422 validation_error)", "body.name: String should match pattern"
    )
    assert_clean_error(result["extra"], 2, "unexpected extra argument")

    def delete() -> tuple[Any, Any, Any]:
        deleted = run(["secrets", "delete", name], cli_env)
        listed = run(["secrets", "list", "--all", "-o", "json"], cli_env)
        again = run(["secrets", "delete", name], cli_env)
        return deleted, listed, again

    deleted, listed, again = await asyncio.to_thread(delete)

    assert deleted.returncode == 0 and f"Deleted secret {name}." in deleted.stderr
    assert name not in [s["name"] for s in json.loads(listed.stdout)["data"]]
    assert_clean_error(again, 3, "(404 ")
    assert await stored_secrets(stack, name) == {}
