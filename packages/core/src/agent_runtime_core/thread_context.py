"""Context management of threads: how much of a thread's earlier turns a run's model sees.

Pure functions (no I/O): the ``acquire_thread_turn`` activity applies them to the rows it reads,
and the scripted model and the summary activity share the summary's wording. The strategies
(``AgentConfig.memory.context``):

* ``none``: every earlier turn (the default).
* ``last_n``: the last ``last_n_turns`` turns.
* ``summarize``: the latest summary (if any) and the turns after it. When their estimated tokens
  exceed ``max_context_tokens``, the oldest of those turns are summarized (a durable activity),
  keeping the most recent turns that fit in half the limit, and the summary replaces them.

Tokens are **estimated**: characters of the turn's JSON (pydantic-ai's form, as stored) divided by
:data:`CHARS_PER_TOKEN`, rounded up. No tokenizer: providers count differently, the estimate
errs on the high side for English text and JSON (their ~3.5-4.5 characters per token), and it
costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

CHARS_PER_TOKEN: Final = 4
"""The estimator's ratio: 4 characters per token (OpenAI's rule of thumb for English)."""

SUMMARY_INSTRUCTIONS: Final = (
    "You summarize the earlier part of a conversation between a user and an AI assistant, so the "
    "assistant can continue it without the full transcript. Keep every fact the user gave about "
    "themselves or their task (names, numbers, decisions, preferences), what was asked and "
    "answered, and tool results still relevant. Write plain prose, at most 300 words, no preamble."
)
"""The summary request's instructions (the first words identify it to the scripted model)."""

SUMMARY_PREFIX: Final = "Summary of the earlier conversation"
"""How the summary starts where the model sees it (a system prompt before the recent turns)."""


def estimate_tokens(value: Any) -> int:
    """Estimated tokens of ``value`` (a turn's messages, a text): its compact JSON's characters
    divided by :data:`CHARS_PER_TOKEN`, rounded up."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return -(-len(text) // CHARS_PER_TOKEN)


def summary_message_text(summary: str, through_seq: int) -> str:
    """The text the model sees in place of turns ``1 .. through_seq``."""
    return f"{SUMMARY_PREFIX} (turns 1-{through_seq}), which is not shown in full:\n{summary}"


def plan_summary(
    *,
    summary_tokens: int,
    summarized_through: int,
    turns: Sequence[tuple[int, int]],
    max_context_tokens: int,
) -> int | None:
    """The seq to summarize through, or ``None`` when the context fits (or cannot shrink).

    ``turns`` are ``(seq, estimated tokens)`` of the turns after the latest summary (which covers
    turns up to ``summarized_through`` and is ``summary_tokens`` long), in order. Over the limit,
    the most recent turns that fit in half of it are kept and every older one is summarized (at
    least one turn must be newly covered: after a summary the same call returns ``None``, so
    summarizing converges even when the summary alone is long).
    """
    if not turns or summary_tokens + sum(tokens for _, tokens in turns) <= max_context_tokens:
        return None
    keep_budget = max_context_tokens // 2
    kept = 0
    keep_from = turns[-1][0] + 1
    for seq, tokens in reversed(turns):
        if kept + tokens > keep_budget:
            break
        kept += tokens
        keep_from = seq
    through = keep_from - 1
    return through if through > summarized_through else None


def transcript(turns: Sequence[tuple[int, Sequence[dict[str, Any]]]], previous_summary: str | None) -> str:
    """The summary request's text: the previous summary, then each turn's messages as lines
    (``user:``, ``assistant:``, ``tool call``, ``tool result``) from their stored JSON."""
    lines: list[str] = []
    if previous_summary:
        lines += ["Summary so far:", previous_summary, ""]
    for seq, messages in turns:
        lines.append(f"Turn {seq}:")
        for message in messages:
            parts: list[dict[str, Any]] = message.get("parts") or []
            for part in parts:
                lines.extend(_part_line(part))
        lines.append("")
    return "\n".join(lines).strip()


def _part_line(part: dict[str, Any]) -> list[str]:
    kind: object = part.get("part_kind")
    content: object = part.get("content")
    if kind == "user-prompt":
        return [f"user: {_text(content)}"]
    if kind == "text":
        return [f"assistant: {_text(content)}"]
    if kind == "tool-call":
        return [f"tool call {part.get('tool_name')}: {_text(part.get('args'))}"]
    if kind == "tool-return":
        return [f"tool result {part.get('tool_name')}: {_text(content)}"]
    return []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
