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
        table_seen = (table.wait(), table.screen)
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
            "table": table_seen,
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
        table_seen = (table.wait(), table.screen)
        replaced = run(["secrets", "set", name, "-o", "json"], cli_env, stdin=value + "-2")
        return {
            "created": created,
            "listed": listed,
            "table": table_seen,
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


# ------------------------------------------------------------------------------------ tools


TOOL_YAML = """\
name: {name}
description: Open a support ticket; returns it.
parameters:
  type: object
  properties:
    title: {{type: string}}
  required: [title]
http:
  method: POST
  url: https://tickets.example.com/tickets
  headers:
    Authorization: "Bearer {{{{secrets.{secret}}}}}"
  timeout_s: 10
"""


async def test_tools_are_registered_from_files_listed_revised_and_deleted(
    cli_env: dict[str, str], write_file: Callable[[str, str], Path]
) -> None:
    name, secret = unique("ticket"), unique("cli_tickets")
    tool_file = write_file("tool.yaml", TOOL_YAML.format(name=name, secret=secret))
    revised = write_file(
        "tool.json",
        json.dumps(
            {
                "name": name,
                "description": "Open a ticket (v2).",
                "parameters": {"type": "object", "properties": {}},
                "http": {"url": "https://tickets.example.com/v2/tickets"},
            }
        ),
    )

    def scenario() -> dict[str, Any]:
        no_secret = run(["tools", "create", "-f", str(tool_file)], cli_env)
        assert run(["secrets", "set", secret], cli_env, stdin="t0ken").returncode == 0
        created = run(["tools", "create", "-f", str(tool_file), "-o", "json"], cli_env)
        listed = run(["tools", "list", "--all", "-o", "json"], cli_env)
        # Each terminal command is waited for before the next one changes the tool.
        by_name = Terminal(["tools", "get", name], cli_env)
        by_name_seen = (by_name.wait(), by_name.screen)
        updated = run(["tools", "update", name, "-f", str(revised), "-o", "json"], cli_env)
        revisions = run(["tools", "revisions", name, "-o", "json"], cli_env)
        revisions_table = Terminal(["tools", "revisions", name], cli_env)
        revisions_table_seen = (revisions_table.wait(), revisions_table.screen)
        catalog = run(["tools", "catalog", "-o", "json"], cli_env)
        tool_id = json.loads(created.stdout)["id"]
        by_id = run(["tools", "get", tool_id, "-o", "yaml"], cli_env)
        deleted = run(["tools", "delete", tool_id], cli_env)
        gone = run(["tools", "get", name], cli_env)
        return {
            "no_secret": no_secret,
            "created": created,
            "listed": json.loads(listed.stdout)["data"],
            "by_name": by_name_seen,
            "updated": updated,
            "revisions": json.loads(revisions.stdout)["data"],
            "revisions_table": revisions_table_seen,
            "catalog": json.loads(catalog.stdout)["data"],
            "by_id": by_id,
            "deleted": deleted,
            "gone": gone,
        }

    result = await asyncio.to_thread(scenario)

    # A header naming a secret the tenant does not have: the API's 422 names the header.
    assert_clean_error(result["no_secret"], 3, "(422 ", "body.http.headers.Authorization")
    assert result["created"].returncode == 0, result["created"].stderr
    created = json.loads(result["created"].stdout)
    assert created["name"] == name and created["latest_revision"] == 1
    assert created["http"]["headers"] == {"Authorization": f"Bearer {{{{secrets.{secret}}}}}"}
    assert created["http"]["timeout_s"] == 10
    assert [t["id"] for t in result["listed"] if t["name"] == name] == [created["id"]]
    code, screen = result["by_name"]
    assert code == 0 and re.search(rf"id +{created['id']}", screen), screen
    assert "POST https://tickets.example.com/tickets" in screen
    assert f"Authorization: Bearer {{{{secrets.{secret}}}}}" in screen
    assert result["updated"].returncode == 0, result["updated"].stderr
    assert json.loads(result["updated"].stdout)["latest_revision"] == 2
    assert [(r["revision"], r["http"]["url"]) for r in result["revisions"]] == [
        (2, "https://tickets.example.com/v2/tickets"),
        (1, "https://tickets.example.com/tickets"),
    ]
    code, screen = result["revisions_table"]
    assert code == 0 and re.search(r"2 +POST https://tickets\.example\.com/v2/tickets", screen), screen
    assert "calculator" in [t["name"] for t in result["catalog"]]
    assert f"id: {created['id']}" in result["by_id"].stdout and "latest_revision: 2" in result["by_id"].stdout
    assert result["deleted"].returncode == 0
    assert f"Deleted tool {name} ({created['id']})." in result["deleted"].stderr
    assert_clean_error(result["gone"], 3, f"no registered tool has the id or name '{name}'")


async def test_a_bad_tool_file_shows_the_apis_fields_or_the_file_problem(
    cli_env: dict[str, str], write_file: Callable[[str, str], Path]
) -> None:
    invalid = write_file(
        "invalid.yaml",
        "name: 1-bad name\ndescription: ''\nparameters: {type: array}\n"
        "http: {url: 'ftp://example.com', timeout_s: 0}\n",
    )
    missing = write_file("missing.yaml", "name: no_http\ndescription: Lacks an endpoint.\n")
    typo = write_file(
        "typo.yaml", "name: typo\ndescription: x\nparameters: {type: object}\nurl: https://x.example\n"
    )
    broken = write_file("broken.yaml", "name: [unclosed\n")
    listed = write_file("list.yaml", "- name: a\n")

    def scenario() -> dict[str, Any]:
        return {
            name: run(["tools", "create", "-f", str(path)], cli_env)
            for name, path in {
                "invalid": invalid,
                "missing": missing,
                "typo": typo,
                "broken": broken,
                "list": listed,
                "absent": Path("/nonexistent/tool.yaml"),
            }.items()
        }

    done = await asyncio.to_thread(scenario)

    assert_clean_error(
        done["invalid"],
        3,
        "error: Validation error (422 validation_error)",
        "body.name: String should match pattern",
        "body.description: String should have at least 1 character",
        'body.parameters.type: the root of the schema must have "type": "object"',
        "body.http.url: Value error, must be an absolute http:// or https:// URL",
        "body.http.timeout_s: Input should be greater than 0",
    )
    assert_clean_error(done["missing"], 3, "(422 validation_error)", "body.parameters: ", "body.http: ")
    assert_clean_error(
        done["typo"], 2, "unknown field(s) url (a tool has name, description, parameters, http)"
    )
    assert_clean_error(done["broken"], 2, "is not valid YAML")
    assert_clean_error(done["list"], 2, "must hold a mapping")
    assert_clean_error(done["absent"], 2, "cannot read /nonexistent/tool.yaml")


# ------------------------------------------------------------------------------------ store


async def test_store_items_round_trip_as_json_with_dotted_namespaces_and_odd_keys(
    cli_env: dict[str, str], write_file: Callable[[str, str], Path]
) -> None:
    top = unique("prefs")
    namespace = f"{top}.alice"
    odd_key = "notes/2026 12:07 [draft] ?&=é"
    profile = write_file("profile.yaml", "city: Paris\nlanguages: [fr, en]\n")

    def scenario() -> dict[str, Any]:
        put = run(
            ["store", "put", namespace, "colour", "--value", '{"favourite": "teal"}', "-o", "json"], cli_env
        )
        from_file = run(["store", "put", namespace, "profile", "-f", str(profile), "--ttl", "3600"], cli_env)
        from_stdin = run(
            ["store", "put", f"{top}.bob", "--", odd_key],
            cli_env,
            stdin='{"text": "[bold]not markup[/bold]", "n": 1}',
        )
        got = run(["store", "get", namespace, "colour", "-o", "json"], cli_env)
        odd = run(["store", "get", "-o", "json", f"{top}.bob", "--", odd_key], cli_env)
        odd_table = Terminal(["store", "get", f"{top}.bob", "--", odd_key], cli_env)
        odd_table_seen = (odd_table.wait(), odd_table.screen)
        found = run(["store", "search", top, "--filter", '{"favourite": "teal"}', "-o", "json"], cli_env)
        everything = run(["store", "search", top, "-o", "json"], cli_env)
        text = run(["store", "search", top, "--query", "not markup", "-o", "json"], cli_env)
        table = Terminal(["store", "search", top], cli_env)
        table_seen = (table.wait(), table.screen)
        namespaces = run(["store", "namespaces", top, "-o", "json"], cli_env)
        deleted = run(["store", "delete", namespace, "colour"], cli_env)
        gone = run(["store", "get", namespace, "colour"], cli_env)
        return {
            "put": put,
            "from_file": from_file,
            "from_stdin": from_stdin,
            "got": json.loads(got.stdout),
            "odd": json.loads(odd.stdout),
            "odd_table": odd_table_seen,
            "found": json.loads(found.stdout)["items"],
            "everything": json.loads(everything.stdout)["items"],
            "text": json.loads(text.stdout)["items"],
            "table": table_seen,
            "namespaces": json.loads(namespaces.stdout),
            "deleted": deleted,
            "gone": gone,
        }

    result = await asyncio.to_thread(scenario)

    for name in ("put", "from_file", "from_stdin"):
        assert result[name].returncode == 0, (name, result[name].stderr)
    put = json.loads(result["put"].stdout)
    assert put["namespace"] == [top, "alice"] and put["value"] == {"favourite": "teal"}
    assert put["expires_at"] is None
    assert json.loads(result["from_file"].stdout)["expires_at"] is not None
    assert json.loads(result["from_stdin"].stdout)["key"] == odd_key
    assert result["got"]["value"] == {"favourite": "teal"} and result["got"]["key"] == "colour"
    assert result["odd"]["key"] == odd_key
    assert result["odd"]["value"] == {"text": "[bold]not markup[/bold]", "n": 1}
    code, screen = result["odd_table"]
    assert code == 0 and re.search(rf"\nkey +{re.escape(odd_key)}\n", screen), screen
    assert '"text": "[bold]not markup[/bold]"' in screen, screen
    assert [(i["namespace"], i["key"]) for i in result["found"]] == [([top, "alice"], "colour")]
    assert {i["key"] for i in result["everything"]} == {"colour", "profile", odd_key}
    assert [i["key"] for i in result["text"]] == [odd_key]
    code, screen = result["table"]
    assert code == 0 and re.search(rf"{top}\.alice +colour +{{\"favourite\": \"teal\"}}", screen), screen
    assert odd_key in screen
    assert result["namespaces"] == {"namespaces": [[top, "alice"], [top, "bob"]]}
    assert result["deleted"].returncode == 0 and f"Deleted {namespace} / colour." in result["deleted"].stderr
    assert_clean_error(result["gone"], 3, "(404 ")


async def test_bad_store_input_is_a_clear_usage_error(cli_env: dict[str, str]) -> None:
    def scenario() -> dict[str, Any]:
        return {
            "bad_json": run(["store", "put", "prefs.x", "k", "--value", "{favourite: teal"], cli_env),
            "not_object": run(["store", "put", "prefs.x", "k", "--value", "[1, 2]"], cli_env),
            "bad_stdin": run(["store", "put", "prefs.x", "k"], cli_env, stdin="not json"),
            "both": run(["store", "put", "prefs.x", "k", "--value", "{}", "-f", "x.json"], cli_env),
            "empty_label": run(["store", "get", "prefs..x", "k"], cli_env),
            "bad_filter": run(["store", "search", "prefs", "--filter", "{'a': 1}"], cli_env),
            "missing": run(["store", "get", unique("nowhere"), "k"], cli_env),
        }

    done = await asyncio.to_thread(scenario)

    assert_clean_error(done["bad_json"], 2, "error: --value is not valid JSON: Expecting property name")
    assert_clean_error(done["not_object"], 2, "error: --value must be a JSON object ({...}), not list")
    assert_clean_error(done["bad_stdin"], 2, "error: standard input is not valid JSON")
    assert_clean_error(done["both"], 2, "give the value with --value or --file, not both")
    assert_clean_error(done["empty_label"], 2, "NAMESPACE 'prefs..x' has an empty label")
    assert_clean_error(done["bad_filter"], 2, "error: --filter is not valid JSON")
    assert_clean_error(done["missing"], 3, "(404 ")
