"""Messages: a thread's history (pydantic-ai's JSON) as LangChain message dicts, and back from
a LangGraph run's ``input``.

Message ids are stable, so the messages a stream shows while a run goes and the ones its thread
holds once the run's turn is appended are the same ones: ``<run_id>:<n>`` for the n-th message of
the run's turn (``<run_id>:<n>.<part>`` for a second prompt part), ``<run_id>:tool:<call id>``
for a tool result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.schemas import ThreadMessagePublic

Message = dict[str, Any]


def as_dict(value: Any) -> dict[str, Any] | None:
    """``value`` if it is a JSON object."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any] | None:
    """``value`` if it is a JSON array."""
    return cast("list[Any]", value) if isinstance(value, list) else None


def human(message_id: str, content: str) -> Message:
    """A user's message."""
    return {"type": "human", "content": content, "id": message_id, "additional_kwargs": {}}


def ai(message_id: str, content: str, tool_calls: Sequence[dict[str, Any]] = ()) -> Message:
    """The model's message (text and tool calls)."""
    return {
        "type": "ai",
        "content": content,
        "id": message_id,
        "tool_calls": [
            {
                "name": call.get("tool"),
                "args": call.get("args") or {},
                "id": call.get("tool_call_id"),
                "type": "tool_call",
            }
            for call in tool_calls
        ],
        "invalid_tool_calls": [],
        "additional_kwargs": {},
    }


def tool(run_id: str, tool_call_id: str, name: str, content: str, *, ok: bool = True) -> Message:
    """A tool's result."""
    return {
        "type": "tool",
        "content": content,
        "id": f"{run_id}:tool:{tool_call_id}",
        "tool_call_id": tool_call_id,
        "name": name,
        "status": "success" if ok else "error",
        "additional_kwargs": {},
    }


def ai_message_id(run_id: str, step: int) -> str:
    """The id of the model's answer of ``step`` (messages alternate: prompt, answer, tool results,
    answer…), so it equals the id the thread's history gives it."""
    return f"{run_id}:{2 * step - 1}"


def as_text(content: Any) -> str:
    """A message content as text (a string as is, JSON otherwise)."""
    if isinstance(content, str):
        return content
    return json.dumps(content, default=str)


def from_thread(messages: Iterable[ThreadMessagePublic]) -> list[Message]:
    """A thread's history as LangChain messages (system prompts and unknown parts left out)."""
    converted: list[Message] = []
    for message in messages:
        base = f"{message.run_id}:{message.index}"
        if message.kind == "response":
            text = "".join(str(p.get("content", "")) for p in message.parts if p.get("part_kind") == "text")
            calls = [
                {
                    "tool": p.get("tool_name"),
                    "args": _args(p.get("args")),
                    "tool_call_id": p.get("tool_call_id"),
                }
                for p in message.parts
                if p.get("part_kind") == "tool-call"
            ]
            converted.append(ai(base, text, calls))
            continue
        prompts = 0
        for part in message.parts:
            kind = part.get("part_kind")
            if kind == "user-prompt":
                suffix = f".{prompts}" if prompts else ""
                converted.append(human(base + suffix, _prompt_text(part.get("content"))))
                prompts += 1
            elif kind in ("tool-return", "retry-prompt") and part.get("tool_call_id"):
                converted.append(
                    tool(
                        message.run_id,
                        str(part["tool_call_id"]),
                        str(part.get("tool_name") or ""),
                        as_text(part.get("content")),
                        ok=kind == "tool-return",
                    )
                )
    return converted


def _args(args: Any) -> dict[str, Any]:
    if isinstance(args, dict):
        return args  # pyright: ignore[reportUnknownVariableType]
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except ValueError:
            return {"input": args}
        return parsed if isinstance(parsed, dict) else {"input": parsed}  # pyright: ignore[reportUnknownVariableType]
    return {}


def _prompt_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(item for item in content if isinstance(item, str))  # pyright: ignore[reportUnknownVariableType]
    return as_text(content)


def input_text(run_input: Any) -> str:
    """The text of the last user message of a LangGraph run ``input`` (``{"messages": [...]}``,
    each message ``{"role": "user", "content": …}`` or ``{"type": "human", "content": …}``,
    content a string or text blocks). 422 otherwise: a run of our agent takes one user message."""
    found: Any = (as_dict(run_input) or {}).get("messages")
    messages: list[Any] | None = [found] if isinstance(found, str | dict) else as_list(found)
    if messages is not None:
        for message in reversed(messages):
            text = _user_text(message)
            if text:
                return text
    raise InvalidRequestError(
        'input must be {"messages": [...]} with a user message ({"role": "user", "content": "…"} or '
        '{"type": "human", "content": "…"}); the agent runs on the last one.',
        loc=["body", "input"],
        code="unsupported_input",
    )


def _user_text(message: Any) -> str | None:
    if isinstance(message, str):
        return message.strip() or None
    fields = as_dict(message)
    if fields is None or (fields.get("role") or fields.get("type")) not in ("user", "human"):
        return None
    content: Any = fields.get("content")
    blocks = as_list(content)
    if blocks is not None:
        texts: list[str] = []
        for block in blocks:
            text_block = as_dict(block)
            if isinstance(block, str):
                texts.append(block)
            elif text_block is not None and text_block.get("type") == "text":
                texts.append(str(text_block.get("text", "")))
        content = "".join(texts)
    return content.strip() or None if isinstance(content, str) else None
