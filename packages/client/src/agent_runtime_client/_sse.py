"""Server-Sent Events parsing (the WHATWG ``text/event-stream`` rules), line by line.

The API's streams are SSE: ``id:``, ``event:``, ``data:`` fields, a blank line ending each
message, and ``: ping`` comments to keep idle connections open. A message is dispatched only once
its blank line arrives, so a connection cut in the middle of a message never yields half of it:
the reader resumes after the last whole one. Comments are surfaced too (as messages with
``comment`` set) so that a reader waiting on a quiet stream gets a chance to check its deadline.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEMessage"]


@dataclass(frozen=True)
class SSEMessage:
    """One dispatched message, or a comment (``comment`` set, other fields empty)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comment: str | None = None


class SSEDecoder:
    """Feed it the stream's lines (without their line breaks); it returns what each completes.

    Example:
        >>> decoder = SSEDecoder()
        >>> [decoder.feed(line) for line in ["id: 1", "event: run.started", "data: {}", ""]][-1]
        SSEMessage(event='run.started', data='{}', id='1', retry=None, comment=None)
    """

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False

    def feed(self, line: str) -> SSEMessage | None:
        """Process one line; return a message when the line completes one (or is a comment)."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return SSEMessage(comment=line[1:].strip())
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        self._has_fields = True
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\x00" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        if not self._has_fields:
            return None
        message = SSEMessage(
            event=self._event or "message", data="\n".join(self._data), id=self._id, retry=self._retry
        )
        self._event, self._data, self._retry, self._has_fields = "", [], None, False
        # The last event id persists across messages (per the spec); ours come with every message.
        return message if message.data or message.id is not None else None
