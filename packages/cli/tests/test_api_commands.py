"""The API commands (`agent-runtime agents|runs|approvals|questions|threads`) against a live API,
run as users run them: in a pseudo-terminal (what the screen shows, prompts answered by typing)
or with pipes (what scripts see: JSON, hints on stderr, exit codes)."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .terminal import COMMAND, Terminal, run, start

pytestmark = pytest.mark.timeout(90)

QUESTION = "What is 6*7?"


def run_id_in(pattern: str, text: str) -> str:
    """The run id ``pattern``'s group captures in ``text``."""
    found = re.search(pattern, text)
    assert found, text
    return found.group(1)


async def test_a_followed_run_streams_to_succeeded_with_the_answer_on_screen(cli_env: dict[str, str]) -> None:
    def scenario() -> tuple[int, str]:
        terminal = Terminal(["runs", "start", "calc", QUESTION, "--follow"], cli_env)
        return terminal.wait(), terminal.screen

    code, screen = await asyncio.to_thread(scenario)

    assert code == 0, screen
    assert '→ calculator({"expression": "6*7"})' in screen
    assert "← calculator: 42" in screen
    assert "Here is what my tools found:\n- calculator: 42" in screen  # the streamed answer
    assert re.search(r"✔ succeeded +2 model requests · \d+ in / \d+ out tokens · cost \S+ · [\d.]+ s", screen)


async def test_an_approval_is_asked_on_the_terminal_and_approving_it_lets_the_run_succeed(
    cli_env: dict[str, str],
) -> None:
    def scenario() -> tuple[int, str]:
        terminal = Terminal(["runs", "start", "careful", QUESTION, "--follow"], cli_env)
        terminal.expect(r"\[a\]pprove / \[r\]eject / \[s\]kip")
        terminal.type("a")
        return terminal.wait(), terminal.screen

    code, screen = await asyncio.to_thread(scenario)

    assert code == 0, screen
    assert re.search(r'⏸ approval needed: calculator\({"expression": "6\*7"}\)  apr_\w+', screen)
    assert "Approve? [a]pprove / [r]eject / [s]kip: a\n" in screen
    assert "✔ approved by key_" in screen
    assert screen.index("✔ approved") < screen.index("← calculator: 42") < screen.index("✔ succeeded")


async def test_a_rejection_with_a_reason_typed_at_the_prompt_is_told_to_the_model(
    cli_env: dict[str, str],
) -> None:
    def scenario() -> tuple[int, str]:
        terminal = Terminal(["runs", "start", "careful", QUESTION, "--follow"], cli_env)
        terminal.expect(r"\[s\]kip")
        terminal.type("r")
        terminal.expect(r"Reason \(optional, told to the model\): ")
        terminal.type("not today")
        return terminal.wait(), terminal.screen

    code, screen = await asyncio.to_thread(scenario)

    # A rejected call is not run; the model is told, and the run goes on to succeed.
    assert code == 0, screen
    assert re.search(r"✘ rejected by key_\w+: not today", screen)
    assert "calculator was not run: Rejected by" in screen and "← calculator" not in screen
    assert "✔ succeeded" in screen


async def test_a_skipped_approval_shows_how_to_decide_later_and_ctrl_c_leaves_the_run_waiting(
    cli_env: dict[str, str],
) -> None:
    def scenario() -> tuple[int, str, str]:
        terminal = Terminal(["runs", "start", "careful", QUESTION, "--follow"], cli_env)
        terminal.expect(r"\[s\]kip")
        terminal.type("s")
        terminal.expect("waiting for a human")
        terminal.child.sendintr()
        code, screen = terminal.wait(), terminal.screen
        run_id = run_id_in(r"(run_\w+) · agent careful", screen)
        status = json.loads(run(["runs", "get", run_id, "-o", "json"], cli_env).stdout)["status"]
        run(["runs", "cancel", run_id], cli_env)
        return code, screen, status

    code, screen, status = await asyncio.to_thread(scenario)

    assert code == 130, screen
    assert re.search(r"approve: agent-runtime approvals approve apr_\w+", screen)
    assert re.search(
        r"Stopped following (run_\w+); it goes on\. Follow it again: agent-runtime runs tail \1", screen
    )
    assert status == "waiting"


async def test_a_question_is_answered_at_the_prompt(cli_env: dict[str, str]) -> None:
    def scenario() -> tuple[int, str]:
        terminal = Terminal(["runs", "start", "asker", "Plan my trip", "--follow"], cli_env)
        terminal.expect(r"Your answer \(empty to skip\): ")
        terminal.type("I travel by train.")
        return terminal.wait(), terminal.screen

    code, screen = await asyncio.to_thread(scenario)

    assert code == 0, screen
    assert "? the agent asks: Before I answer, anything I should know about: Plan my trip" in screen
    assert "✔ answered by key_" in screen
    assert "ask_human: I travel by train." in screen and "✔ succeeded" in screen


async def test_without_a_terminal_the_exact_command_to_approve_is_printed_and_it_works(
    cli_env: dict[str, str],
) -> None:
    def scenario() -> tuple[int, str, str, str]:
        following = start(["runs", "start", "careful", QUESTION, "--follow"], cli_env)
        assert following.stderr is not None
        hint = ""
        for line in following.stderr:
            hint += line
            if line.strip().startswith("reject:"):
                break
        approve_line = next(line for line in hint.splitlines() if line.strip().startswith("approve:"))
        command = shlex.split(approve_line.split("approve:", 1)[1])
        assert command[:3] == ["agent-runtime", "approvals", "approve"], hint
        approved = run([*command[1:], "-o", "json"], cli_env)  # the command as printed
        assert approved.returncode == 0, approved.stderr
        out, _ = following.communicate(timeout=60)
        return following.returncode, hint, out, approved.stdout

    code, hint, out, approved = await asyncio.to_thread(scenario)

    assert re.search(r"⏸ run_\w+ waits for approval apr_\w+: calculator\(", hint), hint
    assert re.search(r"reject: +agent-runtime approvals reject apr_\w+ --reason '…'", hint), hint
    assert json.loads(approved)["status"] == "approved"
    assert code == 0 and "← calculator: 42" in out and "✔ succeeded" in out


async def test_exit_codes_tell_failed_timed_out_and_cancelled_runs_apart(cli_env: dict[str, str]) -> None:
    def scenario() -> dict[str, Any]:
        failed = run(["runs", "start", "fragile", QUESTION, "--follow"], cli_env)
        timed_out = run(["runs", "start", "slowpoke", QUESTION, "--follow"], cli_env)
        waiting = run(["runs", "start", "careful", QUESTION, "--wait", "--no-wait", "-o", "json"], cli_env)
        run_id = run_id_in(r"(run_\w+) waits for", waiting.stderr)
        cancelled = run(["runs", "cancel", run_id, "-o", "json"], cli_env)
        tailed = run(["runs", "tail", run_id], cli_env)
        return {
            "failed": (failed.returncode, failed.stdout),
            "timed_out": (timed_out.returncode, timed_out.stdout, timed_out.stderr),
            "waiting": waiting.returncode,
            "cancel": (cancelled.returncode, json.loads(cancelled.stdout)["id"]),
            "tail": (tailed.returncode, tailed.stdout),
            "run_id": run_id,
        }

    result = await asyncio.to_thread(scenario)

    code, out = result["failed"]
    assert code == 1 and "✘ failed" in out and "usage_limit_exceeded" in out
    code, out, err = result["timed_out"]
    assert code == 5 and "⏱ timed_out" in out and "timed_out: The run exceeded its limit of 1 s." in out
    assert "agent-runtime approvals approve apr_" in err  # no terminal: the hint, while it waited
    assert result["waiting"] == 6  # --no-wait: exits at the approval
    assert result["cancel"] == (0, result["run_id"])
    code, out = result["tail"]
    assert code == 4 and "■ cancelled" in out


async def test_json_output_is_the_apis_json(cli_env: dict[str, str], cli_agents: dict[str, str]) -> None:
    def scenario() -> dict[str, str]:
        outputs: dict[str, str] = {}
        for name, args in {
            "agents": ["agents", "list", "--all", "-o", "json"],
            "agent": ["agents", "get", "calc", "-o", "json"],
            "wait": ["runs", "start", "calc", QUESTION, "--wait", "-o", "json", "--metadata", "k=v"],
            "follow": ["runs", "start", cli_agents["calc"], QUESTION, "--follow", "-o", "json"],
            "yaml": [
                "runs",
                "list",
                "--agent",
                "calc",
                "--status",
                "succeeded",
                "--limit",
                "1",
                "-o",
                "yaml",
            ],
        }.items():
            done = run(args, cli_env)
            assert done.returncode == 0, (args, done.stderr)
            outputs[name] = done.stdout
        run_id = json.loads(outputs["wait"])["id"]
        events = run(["runs", "events", run_id], cli_env)  # a pipe: JSON without asking
        assert events.returncode == 0, events.stderr
        outputs["events"] = events.stdout
        return outputs

    outputs = await asyncio.to_thread(scenario)

    agents = json.loads(outputs["agents"])
    assert agents["next_cursor"] is None
    assert {agent["name"]: agent["id"] for agent in agents["data"]} == cli_agents
    assert json.loads(outputs["agent"])["id"] == cli_agents["calc"]
    finished = json.loads(outputs["wait"])
    assert finished["status"] == "succeeded" and "42" in finished["output"]
    assert finished["metadata"] == {"k": "v"} and finished["usage"]["requests"] == 2
    lines = [json.loads(line) for line in outputs["follow"].splitlines()]
    assert [event["seq"] for event in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["type"] == "run.queued" and lines[-1]["type"] == "run.succeeded"
    assert "status: succeeded" in outputs["yaml"] and f"agent_id: {cli_agents['calc']}" in outputs["yaml"]
    recorded = json.loads(outputs["events"])["data"]
    assert recorded[-1]["type"] == "run.succeeded" and recorded[-1]["run_id"] == finished["id"]


async def test_the_inbox_lists_pending_approvals_and_questions_and_decides_them_by_id(
    cli_env: dict[str, str], cli_agents: dict[str, str]
) -> None:
    def scenario() -> dict[str, Any]:
        needs = {
            "careful": run(["runs", "start", "careful", QUESTION, "--wait", "--no-wait"], cli_env),
            "asker": run(["runs", "start", "asker", "Plan my trip", "--wait", "--no-wait"], cli_env),
        }
        assert {name: done.returncode for name, done in needs.items()} == {"careful": 6, "asker": 6}
        careful_run = run_id_in(r"(run_\w+) waits for", needs["careful"].stderr)
        asker_run = run_id_in(r"(run_\w+) asks", needs["asker"].stderr)
        approvals = json.loads(run(["approvals", "list", "--run", careful_run, "-o", "json"], cli_env).stdout)
        questions = json.loads(run(["questions", "list", "--agent", "asker", "-o", "json"], cli_env).stdout)
        table = Terminal(["approvals", "list", "--agent", "careful"], cli_env)
        table_code = table.wait()
        [approval] = approvals["data"]
        question = next(q for q in questions["data"] if q["run_id"] == asker_run)
        rejected = run(["approvals", "reject", approval["id"], "--reason", "no"], cli_env)
        answered = run(["questions", "answer", question["id"], "By train.", "-o", "json"], cli_env)
        again = run(["approvals", "approve", approval["id"]], cli_env)
        after = json.loads(run(["approvals", "list", "--run", careful_run, "-o", "json"], cli_env).stdout)
        decided = run(["approvals", "list", "--run", careful_run, "--status", "all", "-o", "json"], cli_env)
        return {
            "approval": approval,
            "table": (table_code, table.screen),
            "rejected": rejected,
            "answered": json.loads(answered.stdout),
            "again": again,
            "after": after["data"],
            "decided": json.loads(decided.stdout)["data"],
            "careful_run": careful_run,
        }

    result = await asyncio.to_thread(scenario)

    approval: dict[str, Any] = result["approval"]
    assert approval["agent_id"] == cli_agents["careful"] and approval["status"] == "pending"
    assert approval["run_id"] == result["careful_run"] and approval["tool"] == "calculator"
    code, screen = result["table"]
    assert code == 0 and approval["id"] in screen and "careful" in screen and "calculator(" in screen
    assert result["rejected"].returncode == 0
    assert result["answered"]["status"] == "answered"
    assert result["answered"]["answer"] == "By train."
    again = result["again"]
    assert again.returncode == 3 and f"no pending approval {approval['id']}" in again.stderr
    assert result["after"] == []
    assert [(a["id"], a["status"], a["reason"]) for a in result["decided"]] == [
        (approval["id"], "rejected", "no")
    ]


async def test_invalid_input_shows_the_apis_message_and_fields_and_usage_errors_exit_2(
    cli_env: dict[str, str], write_file: Callable[[str, str], Path]
) -> None:
    invalid = write_file(
        "bad.yaml",
        "name: bad\nmodel: builtin:scripted\nlimits: {max_requests: 0}\nmodel_settings: {temperature: hot}\n",
    )
    not_yaml = write_file("broken.yaml", "name: [unclosed\n")

    def scenario() -> dict[str, Any]:
        return {
            "422": run(["agents", "create", "-f", str(invalid)], cli_env),
            "409": run(
                [
                    "agents",
                    "create",
                    "-f",
                    str(write_file("dup.yaml", "name: calc\nmodel: builtin:scripted\n")),
                ],
                cli_env,
            ),
            "404": run(["runs", "get", "run_missing"], cli_env),
            "no_agent": run(["runs", "start", "nobody", QUESTION], cli_env),
            "metadata": run(["runs", "start", "calc", QUESTION, "--metadata", "novalue"], cli_env),
            "yaml": run(["agents", "create", "-f", str(not_yaml)], cli_env),
            "status": run(["runs", "list", "--status", "sleeping"], cli_env),
            "key": run(["agents", "list", "--api-key", "ar_wrong_key"], cli_env),
            "down": run(["agents", "list", "--url", "http://127.0.0.1:9"], cli_env),
        }

    done = await asyncio.to_thread(scenario)

    def check(name: str, code: int, *texts: str) -> None:
        result = done[name]
        assert result.returncode == code, (name, result.stderr)
        for text in texts:
            assert text in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr

    check(
        "422",
        3,
        "error: Validation error (422 validation_error)",
        "body.version.limits.max_requests: Input should be greater than or equal to 1",
        "body.version.model_settings.temperature: Input should be a valid number",
        "request id: req_",
    )
    check("409", 3, "(409 agent_name_taken)")
    check("404", 3, "(404 run_not_found)")
    check("no_agent", 3, "no agent has the id or name 'nobody'")
    check("metadata", 2, "'novalue' is not key=value")
    check("yaml", 2, "is not valid YAML")
    check("status", 2, "'sleeping' is not one of")
    check("key", 3, "(401 ", "--api-key")
    check("down", 3, "cannot reach the API at http://127.0.0.1:9", "agent-runtime dev")


async def test_agents_and_versions_from_files_and_names(
    cli_env: dict[str, str], write_file: Callable[[str, str], Path]
) -> None:
    agent_file = write_file(
        "agent.yaml",
        "name: cli-versioned\ndescription: Two versions.\nversion:\n  model: builtin:scripted\n  tools: [{name: calculator}]\n",
    )
    version_file = write_file(
        "version.json", json.dumps({"model": "builtin:scripted", "instructions": "Be brief.", "tools": []})
    )
    unknown_field = write_file("typo.yaml", "model: builtin:scripted\ntool: []\n")

    def scenario() -> dict[str, Any]:
        created = run(["agents", "create", "-f", str(agent_file), "-o", "json"], cli_env)
        assert created.returncode == 0, created.stderr
        second = run(
            ["agents", "versions", "create", "cli-versioned", "-f", str(version_file), "-o", "json"], cli_env
        )
        assert second.returncode == 0, second.stderr
        typo = run(["agents", "versions", "create", "cli-versioned", "-f", str(unknown_field)], cli_env)
        versions = run(["agents", "versions", "cli-versioned", "-o", "json"], cli_env)  # `list` implied
        one = run(["agents", "versions", "get", "cli-versioned", "1"], cli_env)
        table = Terminal(["agents", "get", "cli-versioned"], cli_env)
        return {
            "created": json.loads(created.stdout),
            "second": json.loads(second.stdout),
            "typo": typo,
            "versions": json.loads(versions.stdout)["data"],
            "one": one.stdout,
            "table": (table.wait(), table.screen),
        }

    result = await asyncio.to_thread(scenario)

    created: dict[str, Any] = result["created"]
    assert created["name"] == "cli-versioned" and created["latest_version"] == 1
    assert result["second"]["version"] == 2 and result["second"]["agent_id"] == created["id"]
    assert result["typo"].returncode == 2 and "unknown field(s) tool" in result["typo"].stderr
    assert [v["version"] for v in result["versions"]] == [2, 1]
    assert json.loads(result["one"])["tools"][0]["name"] == "calculator"
    code, screen = result["table"]
    assert code == 0 and re.search(rf"id +{created['id']}", screen) and "Two versions." in screen


async def test_threads_carry_a_conversation(cli_env: dict[str, str]) -> None:
    def scenario() -> dict[str, Any]:
        created = run(["threads", "create", "--metadata", "user=cli-ada", "-o", "json"], cli_env)
        thread_id = json.loads(created.stdout)["id"]
        first = run(
            ["runs", "start", "calc", "Hello, my name is Ada.", "--thread", thread_id, "--wait"], cli_env
        )
        second = run(
            ["runs", "start", "calc", "What is my name?", "--thread", thread_id, "--follow"], cli_env
        )
        listed = run(["threads", "list", "--metadata", "user=cli-ada", "-o", "json"], cli_env)
        messages = Terminal(["threads", "messages", thread_id], cli_env)
        messages_seen = (messages.wait(), messages.screen)  # before the thread is deleted below
        got = run(["threads", "get", thread_id, "-o", "json"], cli_env)
        deleted = run(["threads", "delete", thread_id], cli_env)
        gone = run(["threads", "get", thread_id], cli_env)
        return {
            "thread_id": thread_id,
            "codes": [first.returncode, second.returncode, deleted.returncode, gone.returncode],
            "second": second.stdout,
            "listed": [t["id"] for t in json.loads(listed.stdout)["data"]],
            "messages": messages_seen,
            "status": json.loads(got.stdout)["status"],
        }

    result = await asyncio.to_thread(scenario)

    assert result["codes"] == [0, 0, 0, 3]
    assert "Your name is Ada." in result["second"]
    assert result["listed"] == [result["thread_id"]]
    code, screen = result["messages"]
    assert code == 0 and "Hello, my name is Ada." in screen and "What is my name?" in screen
    assert result["status"] == "idle"


def test_the_command_lists_server_and_api_commands_with_exit_codes() -> None:
    import subprocess

    done = subprocess.run(
        [*COMMAND, "--help"], capture_output=True, text=True, check=True, env={"COLUMNS": "120", "PATH": ""}
    )
    for command in (
        "dev",
        "api",
        "worker",
        "migrate",
        "healthcheck",
        "api-keys",
        "agents",
        "runs",
        "approvals",
        "questions",
        "threads",
        "tools",
        "secrets",
        "store",
        "usage",
        "profiles",
    ):
        assert re.search(rf"│ {command} ", done.stdout), command
    assert "Exit codes: 0 ok" in done.stdout
