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
from packages.client.tests.conftest import Stack

from .terminal import Terminal, run

pytestmark = pytest.mark.timeout(90)


def unique(prefix: str) -> str:
    """A name no other test (of this session's shared tenant) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


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
