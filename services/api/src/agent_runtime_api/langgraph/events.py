"""One run's events (``/v1/runs/{id}/stream``) as a LangGraph stream, in the ``stream_mode``s asked.

A pure translator: it is fed our events in ``seq`` order and returns the LangGraph parts each one
makes. A reconnect with ``Last-Event-ID: <seq>`` replays the run's events from the start through
the translator without sending them (it rebuilds the messages and the text so far), then sends
what comes after. The parts of one event are sent together, each with its own SSE ``id``
(``<seq>.<index>``, the last one ``<seq>``), so a client that loses the connection between two
parts of an event resumes after the last part it got: no message chunk arrives twice.

A LangGraph stream ends when the run ends, or when it waits for a human (an interrupt: LangGraph
runs end there, and ``command.resume`` continues them), unless the stream started after that
wait (a resumed run).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Final

from agent_runtime_api.langgraph import messages as lc
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.lifecycle import EventType

SUPPORTED_MODES: Final = frozenset({"values", "messages", "messages-tuple", "updates", "events", "custom"})
"""``custom`` carries our own events as they are (``{"seq", "type", "data"}``)."""

Part = tuple[str, Any]
"""An SSE event to send: its ``event:`` name and its ``data`` (JSON)."""


def stream_modes(requested: str | Collection[str] | None, *, default: str = "values") -> frozenset[str]:
    """The modes of a stream request (422 naming the unsupported ones)."""
    if requested is None or requested == "" or requested == []:
        return frozenset({default})
    modes = frozenset({requested} if isinstance(requested, str) else requested)
    unsupported = sorted(modes - SUPPORTED_MODES)
    if unsupported:
        raise InvalidRequestError(
            f"stream_mode {', '.join(unsupported)} is not supported; supported: "
            + ", ".join(sorted(SUPPORTED_MODES)),
            loc=["body", "stream_mode"],
            code="unsupported_stream_mode",
        )
    return modes


APPROVAL_DECISIONS: Final = ("approve", "reject")
"""The decisions an approval takes (``review_configs[].allowed_decisions``): its call can't be edited."""


def interrupt_of(request: dict[str, Any]) -> dict[str, Any]:
    """A pending approval or question (as ``approval.requested``/``input.requested`` carry it, or
    as a row dumped to a dict) as a LangGraph interrupt: ``id`` is the request id.

    An approval's value is also LangChain's human-in-the-loop request (``action_requests`` and
    ``review_configs``, as ``HumanInTheLoopMiddleware`` interrupts), which agent-chat-ui shows with
    approve and reject buttons and resumes with ``{"decisions": [{"type": "approve"}]}``."""
    request_id = str(request.get("request_id") or request.get("id"))
    if request.get("question") is not None:
        value: dict[str, Any] = {"type": "question", "question": request.get("question")}
    else:
        tool, args = request.get("tool"), lc.as_dict(request.get("args")) or {}
        value = {
            "type": "approval",
            "tool": tool,
            "args": args,
            "action_requests": [
                {
                    "name": tool,
                    "args": args,
                    "description": f"The agent wants to call {tool}: approve or reject.",
                }
            ],
            "review_configs": [{"action_name": tool, "allowed_decisions": list(APPROVAL_DECISIONS)}],
        }
    value.update(
        request_id=request_id,
        tool_call_id=request.get("tool_call_id"),
        expires_at=str(request["expires_at"]) if request.get("expires_at") else None,
    )
    return {"value": value, "id": request_id}


@dataclass
class RunTranslator:
    """The LangGraph view of one run, built from its events."""

    run_id: str
    thread_id: str | None
    assistant_id: str
    run_input: str
    history: list[lc.Message]
    """The thread's messages before this run."""
    modes: frozenset[str]
    run_messages: list[lc.Message] = field(default_factory=list[lc.Message])
    texts: dict[int, str] = field(default_factory=dict[int, str])
    interrupts: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    """Pending human requests by id, as interrupts."""
    done: bool = False
    status: str | None = None
    """Our run status once known from the events (``succeeded``, ``waiting``…)."""
    error: dict[str, Any] | None = None
    summary: str | None = None
    """The thread's summary, once this run's ``thread.summarized`` wrote one (context management)."""

    def __post_init__(self) -> None:
        self.run_messages = [lc.human(f"{self.run_id}:0", self.run_input)]

    # --------------------------------------------------------------------------------- state

    def values(self) -> dict[str, Any]:
        """The state as ``values`` shows it; with ``__interrupt__`` while waiting for a human."""
        state: dict[str, Any] = {"messages": [*self.history, *self.run_messages]}
        if self.summary is not None:
            state["summary"] = self.summary
        if self.interrupts:
            state["__interrupt__"] = list(self.interrupts.values())
        return state

    def replace_messages(self, messages: list[lc.Message]) -> None:
        """The run's turn as its thread recorded it (authoritative once appended)."""
        self.history, self.run_messages = messages, []

    def _metadata(self, step: int | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "graph_id": "agent",
            "langgraph_node": "agent",
        }
        if step is not None:
            meta["langgraph_step"] = step
        return meta

    # --------------------------------------------------------------------------------- feed

    def opening(self) -> list[Part]:
        """What a stream joining mid-run sends first: the state so far."""
        return [("values", self.values())] if "values" in self.modes else []

    def feed(self, seq: int, event_type: str, data: dict[str, Any], *, live_from: int) -> list[Part]:
        """The parts event ``seq`` makes (state updated either way). ``live_from``: the first
        ``seq`` this connection sends; a human wait before it does not end the stream."""
        parts: list[Part] = []
        if "custom" in self.modes:
            parts.append(("custom", {"seq": seq, "type": event_type, "data": data}))
        handler = _HANDLERS.get(event_type)
        if handler is not None:
            parts.extend(handler(self, seq, data, live_from))
        return parts

    def _started(self, _seq: int, _data: dict[str, Any], _live_from: int) -> list[Part]:
        parts: list[Part] = []
        if "values" in self.modes:
            parts.append(("values", self.values()))
        if "events" in self.modes:
            parts.append(("events", self._chain_event("on_chain_start", {"input": self.values()})))
        return parts

    def _model_started(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        step = int(data.get("step") or 1)
        self.texts[step] = ""  # a retried request starts its text again
        message_id = lc.ai_message_id(self.run_id, step)
        parts: list[Part] = []
        if "messages" in self.modes:
            parts.append(("messages/metadata", {message_id: {"metadata": self._metadata(step)}}))
        if "events" in self.modes:
            parts.append(("events", self._model_event("on_chat_model_start", step, {"input": {}})))
        return parts

    def _model_delta(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        step = int(data.get("step") or 1)
        delta = str(data.get("delta") or "")
        self.texts[step] = self.texts.get(step, "") + delta
        message_id = lc.ai_message_id(self.run_id, step)
        chunk: dict[str, Any] = {
            "type": "AIMessageChunk",
            "content": delta,
            "id": message_id,
            "tool_call_chunks": [],
        }
        parts: list[Part] = []
        if "messages" in self.modes:
            parts.append(("messages/partial", [lc.ai(message_id, self.texts[step])]))
        if "messages-tuple" in self.modes:
            parts.append(("messages", [chunk, self._metadata(step)]))
        if "events" in self.modes:
            parts.append(("events", self._model_event("on_chat_model_stream", step, {"chunk": chunk})))
        return parts

    def _model_finished(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        step = int(data.get("step") or 1)
        text = data.get("text") or self.texts.get(step, "")
        message = lc.ai(lc.ai_message_id(self.run_id, step), str(text), data.get("tool_calls") or [])
        self.run_messages = [m for m in self.run_messages if m["id"] != message["id"]] + [message]
        parts: list[Part] = []
        if "messages" in self.modes:
            parts.append(("messages/complete", [message]))
        if "messages-tuple" in self.modes and message["tool_calls"]:
            chunk = {**message, "type": "AIMessageChunk", "content": ""}
            parts.append(("messages", [chunk, self._metadata(step)]))
        if "updates" in self.modes:
            parts.append(("updates", {"agent": {"messages": [message]}}))
        if "values" in self.modes:
            parts.append(("values", self.values()))
        if "events" in self.modes:
            parts.append(("events", self._model_event("on_chat_model_end", step, {"output": message})))
        return parts

    def _tool_started(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        if "events" not in self.modes:
            return []
        event: dict[str, Any] = {
            "event": "on_tool_start",
            "name": data.get("tool"),
            "run_id": str(data.get("tool_call_id")),
            "data": {"input": data.get("args") or {}},
            "metadata": self._metadata() | {"langgraph_node": "tools"},
            "tags": [],
            "parent_ids": [self.run_id],
        }
        return [("events", event)]

    def _tool_finished(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        ok = bool(data.get("ok", True))
        content = data.get("result") if ok else data.get("error")
        message = lc.tool(
            self.run_id,
            str(data.get("tool_call_id")),
            str(data.get("tool") or ""),
            lc.as_text(content),
            ok=ok,
        )
        self.run_messages = [m for m in self.run_messages if m["id"] != message["id"]] + [message]
        parts: list[Part] = []
        if "messages" in self.modes:
            parts.append(("messages/complete", [message]))
        if "messages-tuple" in self.modes:
            parts.append(("messages", [message, self._metadata() | {"langgraph_node": "tools"}]))
        if "updates" in self.modes:
            parts.append(("updates", {"tools": {"messages": [message]}}))
        if "values" in self.modes:
            parts.append(("values", self.values()))
        if "events" in self.modes:
            event = {
                "event": "on_tool_end",
                "name": data.get("tool"),
                "run_id": str(data.get("tool_call_id")),
                "data": {"output": message},
                "metadata": self._metadata() | {"langgraph_node": "tools"},
                "tags": [],
                "parent_ids": [self.run_id],
            }
            parts.append(("events", event))
        return parts

    def _requested(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        interrupt = interrupt_of(data)
        self.interrupts[interrupt["id"]] = interrupt
        return []

    def _resolved(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        self.interrupts.pop(str(data.get("request_id") or data.get("id")), None)
        return []

    def _waiting(self, seq: int, data: dict[str, Any], live_from: int) -> list[Part]:
        if not data.get("request_ids") or not self.interrupts:
            return []  # a budget wait: the run goes on by itself
        self.status = "waiting"
        if seq < live_from:
            return []  # this connection follows the run past that wait (resumed)
        self.done = True
        parts: list[Part] = []
        if "updates" in self.modes:
            parts.append(("updates", {"__interrupt__": list(self.interrupts.values())}))
        if "values" in self.modes:
            parts.append(("values", self.values()))
        return parts

    def _summarized(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        """The thread's oldest turns were summarized before the model request (a node of its own,
        ``summarize``, as in LangGraph's summarization recipe: the state's ``summary`` key)."""
        self.summary = str(data.get("summary") or "")
        parts: list[Part] = []
        if "updates" in self.modes:
            parts.append(("updates", {"summarize": {"summary": self.summary}}))
        if "values" in self.modes:
            parts.append(("values", self.values()))
        return parts

    def _resumed(self, _seq: int, _data: dict[str, Any], _live_from: int) -> list[Part]:
        self.status = "running"
        return []

    def _finished(self, _seq: int, data: dict[str, Any], _live_from: int) -> list[Part]:
        self.done = True
        self.interrupts.clear()
        self.error = data.get("error") if isinstance(data.get("error"), dict) else None
        return []

    def closing(self, status: str) -> list[Part]:
        """The parts after the terminal event (the router may first ``replace_messages``)."""
        self.status = status
        parts: list[Part] = []
        if status == "succeeded" and "values" in self.modes:
            parts.append(("values", self.values()))
        if "events" in self.modes:
            parts.append(("events", self._chain_event("on_chain_end", {"output": self.values()})))
        if status in ("failed", "timed_out"):
            error = self.error or {}
            parts.append(
                (
                    "error",
                    {"error": str(error.get("code") or status), "message": str(error.get("message") or "")},
                )
            )
        return parts

    # --------------------------------------------------------------------------------- helpers

    def _chain_event(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": name,
            "name": "agent",
            "run_id": self.run_id,
            "data": data,
            "metadata": self._metadata(),
            "tags": [],
            "parent_ids": [],
        }

    def _model_event(self, name: str, step: int, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "event": name,
            "name": "model",
            "run_id": lc.ai_message_id(self.run_id, step),
            "data": data,
            "metadata": self._metadata(step),
            "tags": [],
            "parent_ids": [self.run_id],
        }


_HANDLERS: Final = {
    EventType.RUN_STARTED.value: RunTranslator._started,  # pyright: ignore[reportPrivateUsage]
    EventType.MODEL_REQUEST_STARTED.value: RunTranslator._model_started,  # pyright: ignore[reportPrivateUsage]
    EventType.MODEL_TEXT_DELTA.value: RunTranslator._model_delta,  # pyright: ignore[reportPrivateUsage]
    EventType.MODEL_REQUEST_FINISHED.value: RunTranslator._model_finished,  # pyright: ignore[reportPrivateUsage]
    EventType.TOOL_CALL_STARTED.value: RunTranslator._tool_started,  # pyright: ignore[reportPrivateUsage]
    EventType.TOOL_CALL_FINISHED.value: RunTranslator._tool_finished,  # pyright: ignore[reportPrivateUsage]
    EventType.APPROVAL_REQUESTED.value: RunTranslator._requested,  # pyright: ignore[reportPrivateUsage]
    EventType.INPUT_REQUESTED.value: RunTranslator._requested,  # pyright: ignore[reportPrivateUsage]
    EventType.APPROVAL_DECIDED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.APPROVAL_EXPIRED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.APPROVAL_CANCELLED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.INPUT_ANSWERED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.INPUT_EXPIRED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.INPUT_CANCELLED.value: RunTranslator._resolved,  # pyright: ignore[reportPrivateUsage]
    EventType.RUN_WAITING.value: RunTranslator._waiting,  # pyright: ignore[reportPrivateUsage]
    EventType.RUN_RESUMED.value: RunTranslator._resumed,  # pyright: ignore[reportPrivateUsage]
    EventType.THREAD_SUMMARIZED.value: RunTranslator._summarized,  # pyright: ignore[reportPrivateUsage]
    **{
        kind.value: RunTranslator._finished  # pyright: ignore[reportPrivateUsage]
        for kind in (
            EventType.RUN_SUCCEEDED,
            EventType.RUN_FAILED,
            EventType.RUN_CANCELLED,
            EventType.RUN_TIMED_OUT,
        )
    },
}
