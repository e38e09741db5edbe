"""``builtin:scripted``: an offline, deterministic model for demos and tests.

It reads the user's prompt and calls each of the agent's tools that the prompt gives arguments
for (all in one turn, so they run in parallel): ``calculator`` with an arithmetic expression
found in the prompt, ``current_time`` with an IANA timezone named in it (else UTC),
``http_get`` with a URL in it, ``run_python`` with the code of the prompt's first fenced code
block (```python ... ``` or ``` ... ```), ``ask_human`` with a question about the prompt; any
other tool (an HTTP tool, a tool package's, an MCP server's) with arguments derived from its JSON
schema (:func:`schema_tool_calls`). The artifact tools: ``artifact_read`` for each artifact id
(``art_…``) in the prompt, ``artifact_list`` when the prompt speaks of files (list, file, attached),
``artifact_write`` when it asks to write (``name=…`` and ``content=…`` if given, else
``report.txt`` holding a line about the prompt); once ``artifact_list`` answered, a prompt that
says "read" reads each input it listed ("Read the attached file"). When the tools have answered,
it replies from their results.
Its reply is streamed in chunks, like a real model's. No network, no key, same answer every time.

Memory (runs on a thread see the thread's earlier turns): only the current turn (from the last
user prompt on) drives tool calls and answers, and a prompt that asks what was said before —
"what is my name?", "what did I say?", "do you remember …?" — is answered from the EARLIER user
prompts of the conversation: ``Your name is Ada.`` when one of them said "my name is Ada", and
``You told me earlier: "<the first earlier prompt>"`` in any case (``I don't remember anything
earlier.`` without history). That is enough to show a two-turn conversation whose second answer
uses the first. A thread summary the model is shown (a system prompt starting with
``SUMMARY_PREFIX``) counts as an earlier prompt, so a name survives summarization.

Summaries (``summarize_thread``: instructions starting like ``SUMMARY_INSTRUCTIONS``) are answered
with a short, bounded digest of the transcript: the facts ``my name is X`` it holds and the last
five user prompts (each cut to 80 characters).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.tools import ToolDefinition

from agent_runtime_core.thread_context import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX

MODEL_NAME = "builtin:scripted"

_EXPRESSION = re.compile(r"[-+(]*\s*\d[\d.\s]*(?:(?:\*\*|//|[-+*/%])[\s(]*[-+]?\s*\d[\d.\s)]*)+")
_TIMEZONE = re.compile(r"\b(UTC|[A-Z][A-Za-z_]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?)\b")
_URL = re.compile(r"https?://[^\s\"'<>]+")
_ARTIFACT_ID = re.compile(r"\bart_[0-9a-z]{26}\b")
_FILES = re.compile(r"\b(?:list|files?|attached|attachments?)\b", re.IGNORECASE)
_WRITE = re.compile(r"\bwrite\b", re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL)


_RECALL = re.compile(
    r"\bwhat(?:'s| is| was) my name\b|\bwhat did i (?:say|tell you|ask)\b|\bdo you remember\b",
    re.IGNORECASE,
)
_MY_NAME = re.compile(r"\bmy name is\s+([A-Z][\w'-]*)", re.IGNORECASE)


def _user_prompts(messages: list[ModelMessage]) -> list[str]:
    prompts: list[str] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    prompts.append(part.content)
                elif isinstance(part, SystemPromptPart) and part.content.startswith(SUMMARY_PREFIX):
                    prompts.append(part.content)  # a thread summary stands for earlier prompts
    return prompts


def is_summary_request(info: AgentInfo) -> bool:
    """Whether the request asks for a thread summary (``summarize_thread``)."""
    return bool(info.instructions) and info.instructions.startswith(SUMMARY_INSTRUCTIONS[:60])


def scripted_summary(transcript: str) -> str:
    """A deterministic, bounded summary of a transcript (``thread_context.transcript``)."""
    facts = list(dict.fromkeys(f"my name is {name}" for name in _MY_NAME.findall(transcript)))
    said = [line[len("user: ") :] for line in transcript.splitlines() if line.startswith("user: ")]
    recent = [text if len(text) <= 80 else text[:80] + "…" for text in said[-5:]]
    summary = "The user and the assistant talked."
    if facts:
        summary += " The user said " + "; ".join(facts) + "."
    if recent:
        summary += " Latest prompts: " + " | ".join(recent)
    return summary


def _current_turn(messages: list[ModelMessage]) -> list[ModelMessage]:
    """The messages from the last user prompt on (earlier turns are history)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, ModelRequest) and any(isinstance(p, UserPromptPart) for p in message.parts):
            return messages[index:]
    return messages


def recall(prompt: str, earlier_prompts: Sequence[str]) -> str | None:
    """The answer to a prompt asking what was said earlier (``None``: it does not ask)."""
    if not _RECALL.search(prompt):
        return None
    if not earlier_prompts:
        return "I don't remember anything earlier."
    answer = f'You told me earlier: "{earlier_prompts[0]}"'
    for earlier in earlier_prompts:
        if name := _MY_NAME.search(earlier):
            return f"Your name is {name.group(1)}. {answer}"
    return answer


def _balanced(expression: str) -> str:
    expression = expression.strip()
    while expression.count(")") > expression.count("(") and expression.endswith(")"):
        expression = expression[:-1].rstrip()
    while expression.count("(") > expression.count(")") and expression.startswith("("):
        expression = expression[1:].lstrip()
    return expression


def planned_tool_calls(prompt: str, tool_names: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls the scripted model makes for ``prompt``, given the tools it may use."""
    calls: list[tuple[str, dict[str, Any]]] = []
    if "calculator" in tool_names and (match := _EXPRESSION.search(prompt)):
        calls.append(("calculator", {"expression": _balanced(match.group(0))}))
    if "current_time" in tool_names:
        zone = _TIMEZONE.search(prompt)
        calls.append(("current_time", {"timezone": zone.group(1) if zone else "UTC"}))
    if "http_get" in tool_names and (url := _URL.search(prompt)):
        calls.append(("http_get", {"url": url.group(0).rstrip(".,;:!?)")}))
    if "run_python" in tool_names and (block := _CODE_BLOCK.search(prompt)) and block.group(1).strip():
        calls.append(("run_python", {"code": block.group(1)}))
    if "artifact_list" in tool_names and _FILES.search(prompt):
        calls.append(("artifact_list", {}))
    if "artifact_read" in tool_names:
        calls.extend(
            ("artifact_read", {"artifact_id": found}) for found in dict.fromkeys(_ARTIFACT_ID.findall(prompt))
        )
    if "artifact_write" in tool_names and _WRITE.search(prompt):
        name = _named_value(prompt, "name") or "report.txt"
        content = _named_value(prompt, "content") or f"Report: {prompt}"
        media_type = "text/markdown" if name.endswith(".md") else "text/plain"
        calls.append(("artifact_write", {"name": name, "content": content, "content_type": media_type}))
    if "ask_human" in tool_names:
        calls.append(("ask_human", {"question": f"Before I answer, anything I should know about: {prompt}"}))
    return calls


SCRIPTED_BUILTIN_TOOLS = frozenset(
    {
        "calculator",
        "current_time",
        "http_get",
        "run_python",
        "ask_human",
        "artifact_list",
        "artifact_read",
        "artifact_write",
    }
)
"""The tools :func:`planned_tool_calls` knows; :func:`schema_tool_calls` handles the others."""


def _named_value(prompt: str, name: str) -> str | None:
    """``name=value`` or ``name: value`` in the prompt (value: quoted, or up to a space/,/;)."""
    match = re.search(rf"\b{re.escape(name)}\s*[=:]\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s,;]+))", prompt)
    if match is None:
        return None
    return next(group for group in match.groups() if group is not None)


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """``value`` as the property's JSON type (numbers and booleans), else the string."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return value


def schema_tool_calls(prompt: str, tools: Sequence[ToolDefinition]) -> list[tuple[str, dict[str, Any]]]:
    """Calls of ``tools`` with arguments derived from each tool's JSON schema.

    Each required property takes, in order: a ``name=value`` / ``name: value`` in the prompt, the
    property's ``examples[0]``, its ``default``, or, when it is the tool's only required property
    and a string, the whole prompt; an optional property is sent only when the prompt names it. A
    tool whose required properties cannot all be derived is not called.
    """
    calls: list[tuple[str, dict[str, Any]]] = []
    for tool in tools:
        schema = tool.parameters_json_schema
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = schema.get("required") or []
        arguments: dict[str, Any] = {}
        for name in required:
            spec: dict[str, Any] = properties.get(name) or {}
            examples: list[Any] = spec.get("examples") or []
            if (found := _named_value(prompt, name)) is not None:
                arguments[name] = _typed(found, spec)
            elif examples:
                arguments[name] = examples[0]
            elif "default" in spec:
                arguments[name] = spec["default"]
            elif len(required) == 1 and spec.get("type") == "string":
                arguments[name] = prompt
            else:
                break
        else:
            for name, spec in properties.items():  # optional ones only when the prompt names them
                if name not in arguments and (found := _named_value(prompt, name)) is not None:
                    arguments[name] = _typed(found, spec or {})
            calls.append((tool.name, arguments))
    return calls


def _tool_returns(messages: list[ModelMessage]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


def _summarize(content: object, limit: int = 500) -> str:
    if isinstance(content, str):
        text = content
    else:
        try:
            text = json.dumps(content, default=str)
        except TypeError:
            text = str(content)
    return text if len(text) <= limit else text[:limit] + "…"


def _answer(prompt: str, returns: list[ToolReturnPart]) -> str:
    if not returns:
        return f"You said: {prompt}" if prompt else "Hello! How can I help?"
    lines: list[str] = []
    for part in returns:
        if part.outcome == "success":
            lines.append(f"- {part.tool_name}: {_summarize(part.content)}")
        elif part.outcome == "denied":
            lines.append(f"- {part.tool_name} was not run: {_summarize(part.content)}")
        else:
            lines.append(f"- {part.tool_name} failed: {_summarize(part.content)}")
    return "Here is what my tools found:\n" + "\n".join(lines)


def _plan(messages: list[ModelMessage], info: AgentInfo) -> list[tuple[str, dict[str, Any]]] | str:
    """Tool calls to make now, or the final answer text."""
    if is_summary_request(info):
        return scripted_summary("\n".join(_user_prompts(messages)))
    prompts = _user_prompts(messages)
    prompt = prompts[-1] if prompts else ""
    returns = _tool_returns(_current_turn(messages))
    if returns and (reads := _reads_after_listing(prompt, returns, info)):
        return reads
    if returns:
        return _answer(prompt, returns)
    if (remembered := recall(prompt, prompts[:-1])) is not None:
        return remembered
    calls: list[tuple[str, dict[str, Any]]] = [
        *planned_tool_calls(prompt, {tool.name for tool in info.function_tools}),
        *schema_tool_calls(
            prompt, [tool for tool in info.function_tools if tool.name not in SCRIPTED_BUILTIN_TOOLS]
        ),
    ]
    return calls or _answer(prompt, [])


_READ = re.compile(r"\bread\b", re.IGNORECASE)


def _reads_after_listing(
    prompt: str, returns: list[ToolReturnPart], info: AgentInfo
) -> list[tuple[str, dict[str, Any]]]:
    """For "Read the attached file": once ``artifact_list`` answered (and nothing was read yet), read
    each input it listed."""
    if not _READ.search(prompt) or "artifact_read" not in {tool.name for tool in info.function_tools}:
        return []
    if any(part.tool_name == "artifact_read" for part in returns):
        return []
    ids: list[str] = []
    for part in returns:
        if part.tool_name != "artifact_list" or part.outcome != "success":
            continue
        raw: Any = part.content
        content: dict[str, Any] = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
        for item in cast(list[Any], content.get("inputs") or []):
            if isinstance(item, dict) and "id" in item:
                ids.append(str(cast(dict[str, Any], item)["id"]))
    return [("artifact_read", {"artifact_id": artifact_id}) for artifact_id in dict.fromkeys(ids)]


def _call_id(messages: list[ModelMessage], index: int) -> str:
    return f"call_{len(messages)}_{index}"  # deterministic: same history, same ids


def scripted_request(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """One non-streamed response."""
    plan = _plan(messages, info)
    if isinstance(plan, str):
        return ModelResponse(parts=[TextPart(plan)], model_name=MODEL_NAME)
    return ModelResponse(
        parts=[
            ToolCallPart(name, json.dumps(args), tool_call_id=_call_id(messages, index))
            for index, (name, args) in enumerate(plan)
        ],
        model_name=MODEL_NAME,
    )


async def scripted_stream(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls]:
    """The same response, streamed: text word by word, tool calls in two argument chunks."""
    plan = _plan(messages, info)
    if isinstance(plan, str):
        for chunk in re.findall(r"\S+\s*|\s+", plan):
            yield chunk
        return
    for index, (name, args) in enumerate(plan):
        encoded = json.dumps(args)
        half = len(encoded) // 2
        yield {
            index: DeltaToolCall(name=name, json_args=encoded[:half], tool_call_id=_call_id(messages, index))
        }
        yield {index: DeltaToolCall(json_args=encoded[half:])}


def build_scripted_model() -> FunctionModel:
    """A new ``builtin:scripted`` model."""
    return FunctionModel(scripted_request, stream_function=scripted_stream, model_name=MODEL_NAME)
