"""Artifacts in real runs (API, worker, Temporal, Postgres, a real S3 API, the scripted model): a
run is given files it reads (text, CSV, PDF), writes a file the caller downloads, and only its own
tenant's files can be given to it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage
from agent_runtime_worker.agents.artifacts import DatabaseArtifacts
from agent_runtime_worker.events import RunEventWriter

from .support import assert_problem, client_for, events_of, make_agent, wait_for_status

pytestmark = pytest.mark.timeout(120)

LARGE_RESULT_BYTES = 5_000
"""Tool results above this are stored as artifacts in these tests (100 KB by default)."""

ARTIFACT_TOOLS = [{"name": "artifact_list"}, {"name": "artifact_read"}, {"name": "artifact_write"}]


@pytest.fixture
async def worker_settings(make_worker_settings, task_queue: str, s3_settings: dict[str, object]) -> Settings:  # type: ignore[no-untyped-def]
    """The worker and the API of these tests store artifacts in the session's S3 server."""
    settings: Settings = make_worker_settings(task_queue)
    return Settings.model_validate(
        {**settings.model_dump(), **s3_settings, "tool_result_artifact_bytes": LARGE_RESULT_BYTES}
    )


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


async def upload(api: httpx.AsyncClient, content: bytes, name: str, content_type: str) -> str:
    response = await api.post("/v1/artifacts", files={"file": (name, content, content_type)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def run_to_end(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/v1/runs", json=body)
    assert response.status_code == 202, response.text
    run = await wait_for_status(api, response.json()["id"], {"succeeded", "failed"}, timeout_s=60)
    assert run["status"] == "succeeded", run
    return run


def finished_calls(events: list[dict[str, Any]], tool: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "tool.call.finished" and e["data"]["tool"] == tool]


async def test_a_run_reads_its_text_csv_and_pdf_inputs_and_writes_a_downloadable_result(
    runtime_api: httpx.AsyncClient, worker_settings: Settings, database: Database, tenant_id: str
) -> None:
    text_id = await upload(runtime_api, b"The secret word is ostrich.\n", "notes.txt", "text/plain")
    csv_id = await upload(runtime_api, b"city,population\nLyon,522250\n", "cities.csv", "text/csv")
    pdf_id = await upload(runtime_api, tiny_pdf("Quarterly revenue grew"), "report.pdf", "application/pdf")
    agent_id = await make_agent(runtime_api, tools=ARTIFACT_TOOLS)

    run = await run_to_end(
        runtime_api,
        {
            "agent_id": agent_id,
            "input": f"Read the attached files {text_id} {csv_id} {pdf_id}, then write "
            "name=summary.md content='ostrich, Lyon'",
            "artifact_ids": [text_id, csv_id, pdf_id],
        },
    )
    assert run["artifact_ids"] == [text_id, csv_id, pdf_id]
    assert "ostrich" in run["output"]  # the agent echoes what it read
    events = await events_of(runtime_api, run["id"])
    reads = {call["result"]["name"]: call["result"] for call in finished_calls(events, "artifact_read")}
    assert reads["notes.txt"]["text"] == "The secret word is ostrich.\n"
    assert reads["cities.csv"]["text"] == "city,population\nLyon,522250\n"
    assert "Quarterly revenue grew" in reads["report.pdf"]["text"]
    assert all(read["next_offset"] is None for read in reads.values())
    [listed] = finished_calls(events, "artifact_list")
    assert [item["id"] for item in listed["result"]["inputs"]] == [text_id, csv_id, pdf_id]

    [written] = finished_calls(events, "artifact_write")
    output_id = written["result"]["id"]
    [created] = [e["data"] for e in events if e["type"] == "artifact.created"]
    assert created["artifact_id"] == output_id and created["name"] == "summary.md"
    [succeeded] = [e["data"] for e in events if e["type"] == "run.succeeded"]
    assert succeeded["artifacts"] == [
        {"id": output_id, "name": "summary.md", "content_type": "text/markdown", "size": len("ostrich, Lyon")}
    ]
    content = await runtime_api.get(f"/v1/artifacts/{output_id}/content")
    assert content.status_code == 200 and content.content == b"ostrich, Lyon"
    metadata = (await runtime_api.get(f"/v1/artifacts/{output_id}")).json()
    assert metadata["run_id"] == run["id"]

    # The write again with the same tool call (an activity retried after a crash): the same file.
    storage = ObjectStorage(worker_settings)
    backend = DatabaseArtifacts(database, storage, RunEventWriter(database, None), worker_settings)
    try:
        again = [
            await backend.write(
                tenant_id,
                run["id"],
                "call_retried",
                name="retry.txt",
                content="once",
                content_type="text/plain",
            )
            for _ in range(2)
        ]
        # Long files come in pages.
        first = await backend.read(tenant_id, run["id"], text_id, offset=0, max_chars=10)
        second = await backend.read(tenant_id, run["id"], text_id, offset=10, max_chars=100)
        assert (first["text"], first["next_offset"]) == ("The secret", 10)
        assert (second["text"], second["next_offset"]) == (" word is ostrich.\n", None)
        assert first["total_chars"] == len("The secret word is ostrich.\n")
    finally:
        await storage.aclose()
    assert again[0]["id"] == again[1]["id"]
    page = (await runtime_api.get("/v1/artifacts", params={"run_id": run["id"]})).json()["data"]
    assert sorted(item["name"] for item in page) == ["retry.txt", "summary.md"]


async def test_read_the_attached_file_lists_then_reads_and_echoes_it(runtime_api: httpx.AsyncClient) -> None:
    text_id = await upload(runtime_api, b"Meeting moved to Thursday.", "memo.md", "text/markdown")
    agent_id = await make_agent(runtime_api, tools=ARTIFACT_TOOLS)
    run = await run_to_end(
        runtime_api, {"agent_id": agent_id, "input": "Read the attached file", "artifact_ids": [text_id]}
    )
    assert "Meeting moved to Thursday." in run["output"]
    events = await events_of(runtime_api, run["id"])
    assert [call["result"]["id"] for call in finished_calls(events, "artifact_read")] == [text_id]


async def test_a_run_cannot_read_a_file_it_was_not_given(runtime_api: httpx.AsyncClient) -> None:
    other_file = await upload(runtime_api, b"private", "private.txt", "text/plain")
    agent_id = await make_agent(runtime_api, tools=ARTIFACT_TOOLS)
    run = await run_to_end(runtime_api, {"agent_id": agent_id, "input": f"Read {other_file}"})
    [read] = finished_calls(await events_of(runtime_api, run["id"]), "artifact_read")
    assert read["ok"] is False and "no file" in read["error"]


async def test_another_tenants_or_a_missing_artifact_is_refused_naming_its_index(
    runtime_api: httpx.AsyncClient, database_url: str, other_tenant_id: str, s3_settings: dict[str, object]
) -> None:
    foreign = ""
    async for other in client_for(database_url, other_tenant_id, **s3_settings):
        foreign = await upload(other, b"theirs", "theirs.txt", "text/plain")
    mine = await upload(runtime_api, b"mine", "mine.txt", "text/plain")
    agent_id = await make_agent(runtime_api, tools=ARTIFACT_TOOLS)
    for ids, index in (([mine, foreign], 1), (["art_nothing"], 0)):
        response = await runtime_api.post(
            "/v1/runs", json={"agent_id": agent_id, "input": "Read it", "artifact_ids": ids}
        )
        problem = assert_problem(response, 422, "artifact_not_found")
        assert problem["errors"][0]["loc"] == ["body", "artifact_ids", index]


async def test_a_large_tool_result_is_stored_as_an_artifact_and_the_model_sees_a_preview(
    runtime_api: httpx.AsyncClient,
) -> None:
    agent_id = await make_agent(runtime_api, tools=[{"name": "run_python"}, {"name": "artifact_read"}])
    code = "print('word ' * 2000)"
    run = await run_to_end(runtime_api, {"agent_id": agent_id, "input": f"Run this:\n```python\n{code}\n```"})
    events = await events_of(runtime_api, run["id"])
    [finished] = finished_calls(events, "run_python")
    artifact_id = finished["result_artifact_id"]
    assert "truncated_for_model" not in finished
    assert "result_stored_as_artifact" in run["output"] and artifact_id in run["output"]
    [succeeded] = [e["data"] for e in events if e["type"] == "run.succeeded"]
    assert [item["id"] for item in succeeded["artifacts"]] == [artifact_id]
    content = await runtime_api.get(f"/v1/artifacts/{artifact_id}/content")
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("application/json")
    assert ("word " * 2000) in content.json()["stdout"]
