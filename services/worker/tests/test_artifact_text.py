"""Text extraction and ids of the artifact tools (no database, no storage)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic_ai import ModelRetry

from agent_runtime_worker.agents.artifacts import extract_text, output_artifact_id
from agent_runtime_worker.models.scripted import planned_tool_calls


def test_json_is_pretty_printed_and_bad_utf8_is_replaced() -> None:
    assert extract_text(b'{"a":[1,2]}', "application/json", "x.json") == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert extract_text(b"caf\xe9", "text/plain", "x.txt") == "caf\ufffd"
    assert extract_text(b"not json{", "application/json", "x.json") == "not json{"


def test_csv_rows_are_normalised() -> None:
    assert extract_text(b'a,"b"\r\n1,2\r\n', "text/csv", "x.csv") == "a,b\n1,2\n"


def test_binary_files_are_a_tool_error() -> None:
    with pytest.raises(ModelRetry, match="not text"):
        extract_text(b"\x89PNG", "image/png", "x.png")


def test_a_broken_pdf_is_a_tool_error() -> None:
    with pytest.raises(ModelRetry, match="PDF could not be read"):
        extract_text(b"%PDF-1.4 garbage", "application/pdf", "x.pdf")


def test_the_output_id_is_the_same_for_every_attempt_of_one_call() -> None:
    scheduled = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    first = output_artifact_id("run_a", "call_1", scheduled)
    assert first == output_artifact_id("run_a", "call_1", scheduled)
    assert first != output_artifact_id("run_a", "call_2", scheduled)
    assert first != output_artifact_id("run_b", "call_1", scheduled)
    assert first.startswith("art_") and len(first) == 30
    later = output_artifact_id("run_a", "call_1", datetime(2026, 12, 7, 12, 1, tzinfo=UTC))
    assert later > first  # ids still sort by creation


def test_the_scripted_model_calls_artifact_tools_only_when_asked() -> None:
    tools = {"artifact_list", "artifact_read", "artifact_write"}
    assert planned_tool_calls("Hello", tools) == []
    calls = planned_tool_calls("Read art_01jd3x7k2m9q8r4t6v5w0y1z2a and write name=out.md", tools)
    assert calls == [
        ("artifact_read", {"artifact_id": "art_01jd3x7k2m9q8r4t6v5w0y1z2a"}),
        (
            "artifact_write",
            {
                "name": "out.md",
                "content": "Report: Read art_01jd3x7k2m9q8r4t6v5w0y1z2a and write name=out.md",
                "content_type": "text/markdown",
            },
        ),
    ]
    assert planned_tool_calls("List the attached files", tools) == [("artifact_list", {})]
