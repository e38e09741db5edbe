"""``agent-runtime artifacts`` and ``runs start --file`` against a live API storing artifacts in a
real S3 server, run with pipes as scripts run them: JSON on stdout, messages on stderr, exit codes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from agent_runtime_client import AsyncAgentRuntime
from packages.client.tests.conftest import Stack

from .terminal import run

pytestmark = pytest.mark.timeout(90)


async def test_upload_list_get_and_download_round_trip_as_json(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    data = os.urandom(70_000)
    source = tmp_path / "in" / "sample.bin"
    source.parent.mkdir()
    source.write_bytes(data)
    here = tmp_path / "here"
    here.mkdir()

    def scenario() -> list[tuple[int, str, str]]:
        uploaded = run(
            ["artifacts", "upload", str(source), "--content-type", "application/zip", "-o", "json"], cli_env
        )
        artifact_id = json.loads(uploaded.stdout)["id"] if uploaded.returncode == 0 else "none"
        steps = [
            run(["artifacts", "list", "--status", "ready", "--limit", "5", "-o", "json"], cli_env),
            run(["artifacts", "get", artifact_id, "-o", "yaml"], cli_env),
            run(["artifacts", "list", "--limit", "5", "-o", "table"], cli_env),
            run(["artifacts", "download", artifact_id], cli_env, cwd=here),  # its name, here
            run(["artifacts", "download", artifact_id, "-o", str(tmp_path / "copy.bin")], cli_env),
        ]
        return [(p.returncode, p.stdout, p.stderr) for p in [uploaded, *steps]]

    (uploaded, listed, got, table, to_cwd, to_path) = await asyncio.to_thread(scenario)

    assert uploaded[0] == 0, uploaded
    artifact = json.loads(uploaded[1])
    assert (artifact["name"], artifact["content_type"], artifact["size"]) == (
        "sample.bin",
        "application/zip",
        len(data),
    )
    assert artifact["sha256"] == hashlib.sha256(data).hexdigest() and artifact["status"] == "ready"
    assert listed[0] == 0 and artifact["id"] in [a["id"] for a in json.loads(listed[1])["data"]]
    assert got[0] == 0 and f"id: {artifact['id']}" in got[1]
    assert table[0] == 0 and "ID" in table[1] and "SIZE" in table[1]
    assert re.search(rf"{artifact['id']}\s+sample\.bin\s+application/zip\s+68\.4 KiB\s+ready", table[1])
    assert to_cwd[0] == 0, to_cwd
    assert (here / "sample.bin").read_bytes() == data
    assert f"Downloaded {artifact['id']} to sample.bin" in to_cwd[2]
    assert to_path[0] == 0 and (tmp_path / "copy.bin").read_bytes() == data


async def test_download_refuses_to_replace_a_file_unless_forced_and_writes_to_stdout(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("fresh notes\n")
    target = tmp_path / "existing.txt"
    target.write_text("keep me\n")

    def scenario() -> tuple[str, tuple[int, str], tuple[int, str], tuple[int, str]]:
        artifact_id = json.loads(run(["artifacts", "upload", str(source), "-o", "json"], cli_env).stdout)[
            "id"
        ]
        refused = run(["artifacts", "download", artifact_id, "-o", str(target)], cli_env)
        forced = run(["artifacts", "download", artifact_id, "-o", str(target), "--force"], cli_env)
        piped = run(["artifacts", "download", artifact_id, "-o", "-"], cli_env)
        return (
            artifact_id,
            (refused.returncode, refused.stderr),
            (forced.returncode, forced.stderr),
            (piped.returncode, piped.stdout),
        )

    artifact_id, refused, forced, piped = await asyncio.to_thread(scenario)

    assert refused[0] == 2 and f"error: {target} exists: add --force to replace it" in refused[1]
    assert forced[0] == 0 and target.read_text() == "fresh notes\n"
    assert piped == (0, "fresh notes\n")
    assert artifact_id.startswith("art_")


async def test_runs_start_with_files_uploads_them_and_gives_them_to_the_run(
    cli_env: dict[str, str], stack: Stack, tmp_path: Path
) -> None:
    first = tmp_path / "first.txt"
    first.write_text("one")
    second = tmp_path / "second.csv"
    second.write_text("a,b\n1,2\n")

    def scenario() -> tuple[int, str, str]:
        started = run(
            ["runs", "start", "calc", "What is 6*7?", "--file", str(first), "--file", str(second), "--wait"],
            {**cli_env},
        )
        return started.returncode, started.stdout, started.stderr

    code, stdout, stderr = await asyncio.to_thread(scenario)

    assert code == 0, stderr
    printed = json.loads(stdout)
    async with AsyncAgentRuntime(stack.url, stack.api_key) as client:
        run_ = await client.runs.get(printed["id"])
        given = [await client.artifacts.get(artifact_id) for artifact_id in run_.artifact_ids]
    assert printed["artifact_ids"] == run_.artifact_ids and run_.status == "succeeded"
    assert [(a.name, a.content_type, a.status) for a in given] == [
        ("first.txt", "text/plain", "ready"),
        ("second.csv", "text/csv", "ready"),
    ]


async def test_missing_files_and_unknown_artifacts_are_clear_errors(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.pdf"
    script = tmp_path / "script.py"
    script.write_text("print('hi')\n")
    kept = tmp_path / "kept.txt"
    kept.write_text("to delete")

    def scenario() -> list[tuple[int, str]]:
        uploaded = json.loads(run(["artifacts", "upload", str(kept), "-o", "json"], cli_env).stdout)
        processes = [
            run(["artifacts", "upload", str(missing)], cli_env),
            run(["artifacts", "upload", str(tmp_path)], cli_env),
            run(["artifacts", "upload", str(script)], cli_env),
            run(["runs", "start", "calc", "What is 6*7?", "--file", str(missing)], cli_env),
            run(["artifacts", "delete", uploaded["id"]], cli_env),
            run(["artifacts", "get", uploaded["id"]], cli_env),
            run(["artifacts", "download", "art_missing", "-o", str(tmp_path / "x")], cli_env),
        ]
        return [(p.returncode, p.stderr) for p in processes]

    no_file, directory, refused, run_file, deleted, gone, unknown = await asyncio.to_thread(scenario)

    assert no_file == (2, f"error: upload {missing}: no such file\n")
    assert directory == (2, f"error: upload {tmp_path}: not a file\n")
    assert refused[0] == 3 and "(422 content_type_not_allowed)" in refused[1]
    assert "body.file: " in refused[1] and "text/x-python" in refused[1]
    assert run_file == (2, f"error: --file {missing}: no such file\n")
    assert deleted[0] == 0 and "Deleted artifact" in deleted[1]
    assert gone[0] == 3 and "(404 artifact_not_found)" in gone[1]
    assert unknown[0] == 3 and "(404 artifact_not_found)" in unknown[1] and not (tmp_path / "x").exists()
    assert not any(
        "Traceback" in stderr for _, stderr in [no_file, directory, refused, run_file, gone, unknown]
    )
