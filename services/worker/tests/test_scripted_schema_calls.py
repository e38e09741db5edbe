"""``builtin:scripted`` calls tools it has no special rule for with arguments from their schema."""

from __future__ import annotations

from typing import Any

from pydantic_ai.tools import ToolDefinition

from agent_runtime_worker.models.scripted import schema_tool_calls


def tool(name: str, properties: dict[str, Any], required: list[str]) -> ToolDefinition:
    schema = {"type": "object", "properties": properties, "required": required}
    return ToolDefinition(name=name, parameters_json_schema=schema)


def test_required_values_come_from_the_prompt_then_examples_then_defaults() -> None:
    ticket = tool(
        "create_ticket",
        {
            "title": {"type": "string"},
            "priority": {"type": "string", "examples": ["normal"]},
            "count": {"type": "integer", "default": 1},
            "urgent": {"type": "boolean"},
        },
        ["title", "priority", "count", "urgent"],
    )
    calls = schema_tool_calls('file title="Printer on fire" urgent=true', [ticket])
    assert calls == [
        ("create_ticket", {"title": "Printer on fire", "priority": "normal", "count": 1, "urgent": True})
    ]


def test_optional_values_are_sent_only_when_the_prompt_names_them() -> None:
    search = tool(
        "search_books", {"query": {"type": "string", "default": "Fowler"}, "limit": {"type": "integer"}}, []
    )
    assert schema_tool_calls("query=Kleppmann limit=3", [search]) == [
        ("search_books", {"query": "Kleppmann", "limit": 3})
    ]
    assert schema_tool_calls("anything", [search]) == [("search_books", {})]


def test_a_lone_required_string_takes_the_whole_prompt_and_underivable_tools_are_skipped() -> None:
    count = tool("word_count", {"text": {"type": "string"}}, ["text"])
    convert = tool(
        "unit_convert", {"value": {"type": "number"}, "unit": {"type": "string"}}, ["value", "unit"]
    )
    assert schema_tool_calls("to be or not", [count, convert]) == [("word_count", {"text": "to be or not"})]
