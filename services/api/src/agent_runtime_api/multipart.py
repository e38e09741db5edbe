"""Read one file from a ``multipart/form-data`` request as a stream, without spooling it.

Starlette's form parser writes every file to a temporary file before the route runs, and it runs
before the route's dependencies: an unauthenticated client could make the API write the largest
upload it accepts to disk before being told 401. Here the route reads the body itself, after
authentication and authorization, and hands the file on chunk by chunk as it arrives (to the
object storage), so the API holds at most one storage part in memory and nothing on disk.

The body must hold exactly one part, a file in the field ``file``; anything else is a 422 naming
the field (a body that is not multipart at all is a 415, a broken one a 400).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from agent_runtime_core.errors import DomainError, InvalidRequestError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["UploadedFile", "single_file"]

MAX_PART_HEADER_BYTES: Final = 16 * 1024


def _malformed(detail: str) -> DomainError:
    return DomainError(
        detail=detail, status=400, code="malformed_multipart", title="Malformed multipart body"
    )


@dataclass
class UploadedFile:
    """The file part: its declared name and media type, and its bytes as they arrive."""

    filename: str
    content_type: str | None
    chunks: AsyncIterator[bytes]


@dataclass
class _Events:
    """What the parser's callbacks saw since the last drain (they cannot await)."""

    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, bytes] = field(default_factory=dict[str, bytes])
    first_headers: dict[str, bytes] = field(default_factory=dict[str, bytes])
    header_bytes: int = 0
    parts_begun: int = 0
    headers_finished: bool = False
    data: list[bytes] = field(default_factory=list[bytes])
    part_ended: bool = False
    ended: bool = False

    def callbacks(self) -> MultipartCallbacks:
        def on_part_begin() -> None:
            self.parts_begun += 1

        def on_header_field(data: bytes, start: int, end: int) -> None:
            self.header_field += data[start:end]
            self._count(end - start)

        def on_header_value(data: bytes, start: int, end: int) -> None:
            self.header_value += data[start:end]
            self._count(end - start)

        def on_header_end() -> None:
            self.headers[self.header_field.decode("latin-1").lower()] = bytes(self.header_value)
            self.header_field.clear()
            self.header_value.clear()

        def on_headers_finished() -> None:
            if self.parts_begun == 1:  # the first part's: later parts are refused, not read
                self.headers_finished = True
                self.first_headers = dict(self.headers)
            self.headers.clear()

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if self.parts_begun == 1:
                self.data.append(data[start:end])

        def on_part_end() -> None:
            if self.parts_begun == 1:
                self.part_ended = True

        def on_end() -> None:
            self.ended = True

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        }

    def _count(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > MAX_PART_HEADER_BYTES:
            raise _malformed("the part headers are too large")


async def single_file(request: Request, field_name: str = "file") -> UploadedFile:
    """The one file of a ``multipart/form-data`` request, once its part headers arrived.

    Errors in the rest of the body (a second part, a cut-off body) surface from ``chunks``.

    Raises:
        DomainError: 415 not multipart; 400 malformed; 422 no file in ``field_name`` or another field.
    """
    media_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise DomainError(
            detail=f"Send the file as multipart/form-data, in the field '{field_name}'.",
            status=415,
            code="unsupported_media_type",
            title="Unsupported media type",
        )
    events = _Events()
    try:
        parser = MultipartParser(boundary, events.callbacks())
    except (FormParserError, ValueError) as error:
        raise _malformed(f"the multipart boundary is not valid: {error}") from None
    stream = request.stream().__aiter__()

    async def feed() -> bool:
        """Parse the next chunk of the body; ``False`` at its end."""
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            return False
        try:
            parser.write(chunk)
        except FormParserError as error:
            raise _malformed(f"the multipart body is malformed: {error}") from None
        return True

    while not events.headers_finished:
        if not await feed() or (events.ended and not events.headers_finished):
            raise InvalidRequestError(
                f"a file is required in the field '{field_name}'",
                loc=["body", field_name],
                code="file_missing",
            )
    disposition, parameters = parse_options_header(events.first_headers.get("content-disposition"))
    name = parameters.get(b"name", b"").decode("utf-8", "replace")
    if disposition != b"form-data" or name != field_name:
        raise InvalidRequestError(
            f"unexpected field '{name}': the body holds one field, '{field_name}' (the file)",
            loc=["body", name or field_name],
            code="unexpected_field",
        )
    raw_filename = parameters.get(b"filename")
    if raw_filename is None:
        raise InvalidRequestError(
            f"'{field_name}' must be a file (a part with a filename)",
            loc=["body", field_name],
            code="file_missing",
        )
    try:
        filename = raw_filename.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError(
            "the file name is not valid UTF-8", loc=["body", field_name], code="invalid_file_name"
        ) from None
    content_type_header = events.first_headers.get("content-type")
    content_type = content_type_header.decode("latin-1") if content_type_header else None

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            pending, events.data = events.data, []
            for piece in pending:
                if piece:
                    yield piece
            if events.part_ended:
                break
            if not await feed():
                raise _malformed("the multipart body ended before the file did")
        # The rest of the body: nothing but the closing boundary.
        while not events.ended:
            if events.parts_begun > 1:
                raise InvalidRequestError(
                    f"the body holds one field, '{field_name}' (the file); send other values in the query",
                    loc=["body"],
                    code="unexpected_field",
                )
            if not await feed():
                raise _malformed("the multipart body ended without its closing boundary")
        if events.parts_begun > 1:
            raise InvalidRequestError(
                f"the body holds one field, '{field_name}' (the file); send other values in the query",
                loc=["body"],
                code="unexpected_field",
            )

    return UploadedFile(filename=filename, content_type=content_type, chunks=chunks())
