"""Files the SDK uploads and downloads, read and written in chunks, never whole in memory.

``client.artifacts.upload`` takes a path, bytes or a binary file object. Whatever it is, it
becomes an :class:`UploadSource`: its name, media type, exact size and a window on its bytes
(:class:`FileSlice`) that every attempt reads again from the start, whether as a multipart part
(small files) or as the body of a presigned ``PUT`` to the object storage (large ones, after a
streamed SHA-256). A file object that cannot seek (a pipe) is first copied to a temporary file,
since both flows need the size before sending. Downloads go to a path through a temporary file
renamed at the end, so a failed download never leaves half a file under the wanted name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import mimetypes
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, cast

import anyio

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CONTENT_TYPE",
    "PRESIGN_THRESHOLD",
    "Destination",
    "FileInput",
    "FileSlice",
    "UploadSource",
    "guess_content_type",
    "open_destination",
    "open_upload",
]

CHUNK_SIZE: Final = 1024 * 1024
"""Bytes read or written at a time."""
PRESIGN_THRESHOLD: Final = 8 * 1024 * 1024
"""Files up to this size are uploaded through the API (``POST /v1/artifacts``), larger ones
straight to the object storage with a presigned URL (the API accepts 25 MiB by default)."""
DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"
_SPOOL_IN_MEMORY: Final = 8 * 1024 * 1024
"""A non-seekable file is copied to memory up to this size, to a temporary file beyond."""

FileInput = str | os.PathLike[str] | bytes | IO[bytes]
"""What can be uploaded: a path, the bytes themselves, or a binary file object (read from its
current position to its end)."""
Destination = str | os.PathLike[str] | IO[bytes]
"""Where a download goes: a path (written whole or not at all) or a binary file object."""

_COMPRESSED: Final = {"gzip": "application/gzip"}


def guess_content_type(name: str) -> str:
    """The media type a file name suggests (``application/octet-stream`` when it suggests none).

    A compressed file is the compressed format, not what it holds.

    Example:
        >>> guess_content_type("report.pdf"), guess_content_type("rows.csv.gz")
        ('application/pdf', 'application/gzip')
    """
    kind, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, DEFAULT_CONTENT_TYPE)
    return kind or DEFAULT_CONTENT_TYPE


class FileSlice(io.RawIOBase):
    """``size`` bytes of ``file`` from offset ``start``, as a file of its own (offset 0 is
    ``start``): what an upload sends, however far the file was read before or grows during it."""

    def __init__(self, file: IO[bytes], start: int, size: int) -> None:
        super().__init__()
        self._file = file
        self._start = start
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # pyright: ignore[reportIncompatibleMethodOverride]
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        self._file.seek(self._start + self._position)
        data = self._file.read(wanted)
        memoryview(buffer)[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


@dataclass
class UploadSource:
    """A file to upload: its name, media type, size and bytes (``body``)."""

    name: str
    content_type: str
    size: int
    body: IO[bytes]
    """A :class:`FileSlice`: exactly the bytes to send."""
    owned: IO[bytes] | None
    """A file this object opened (a path, a copy of a pipe): closed by :meth:`close`."""

    def chunks(self) -> Iterator[bytes]:
        """The bytes from the start, a chunk at a time."""
        self.body.seek(0)
        while chunk := self.body.read(CHUNK_SIZE):
            yield chunk

    async def achunks(self) -> AsyncIterator[bytes]:
        """The bytes from the start, a chunk at a time, read in a worker thread."""
        self.body.seek(0)
        while chunk := await anyio.to_thread.run_sync(self.body.read, CHUNK_SIZE):
            yield chunk

    def sha256(self) -> str:
        """The hex SHA-256 of the bytes (read once, in chunks)."""
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    def close(self) -> None:
        if self.owned is not None:
            self.owned.close()


def _file_name(file: object) -> str | None:
    name = getattr(file, "name", None)
    return Path(name).name if isinstance(name, str) and name else None


def open_upload(file: FileInput, *, name: str | None, content_type: str | None) -> UploadSource:
    """``file`` ready to upload (close it when done).

    Raises:
        OSError: The path cannot be read (``FileNotFoundError``, ``IsADirectoryError``, ...).
        TypeError: ``file`` is a text file or no file at all.
        ValueError: No name was given for bytes or a file object that has none.
    """
    owned: IO[bytes] | None = None
    handle: IO[bytes]
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a directory, not a file")
        handle = owned = path.open("rb")
        name = name or path.name
    elif isinstance(file, bytes | bytearray | memoryview):
        handle = owned = io.BytesIO(file)
    elif isinstance(file, io.TextIOBase):
        raise TypeError("the file is open in text mode: open it in binary mode ('rb')")
    elif callable(getattr(file, "read", None)):
        handle = file
        name = name or _file_name(file)
    else:
        raise TypeError(f"cannot upload a {type(file).__name__}: pass a path, bytes or a binary file")
    if not name:
        if owned is not None:
            owned.close()
        raise ValueError("name is required: the artifact's file name (the data has none)")
    try:
        if _seekable(handle):
            start = handle.tell()
            size = handle.seek(0, io.SEEK_END) - start
            handle.seek(start)
        else:
            handle = owned = _spooled_copy(handle)
            start, size = 0, handle.seek(0, io.SEEK_END)
    except BaseException:
        if owned is not None:
            owned.close()
        raise
    return UploadSource(
        name=name,
        content_type=content_type or guess_content_type(name),
        size=size,
        body=cast(IO[bytes], FileSlice(handle, start, size)),
        owned=owned,
    )


def _seekable(file: IO[bytes]) -> bool:
    try:
        return file.seekable()
    except (AttributeError, ValueError, OSError):
        return False


def _spooled_copy(file: IO[bytes]) -> IO[bytes]:
    copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 (returned open)
    while chunk := file.read(CHUNK_SIZE):
        copy.write(chunk)
    return copy  # pyright: ignore[reportReturnType]


@contextlib.contextmanager
def open_destination(destination: Destination) -> Generator[IO[bytes]]:
    """A binary file to write a download to: ``destination`` itself when it is a file object;
    for a path, a temporary file beside it that replaces it only when the block succeeds."""
    if not isinstance(destination, str | os.PathLike):
        yield destination
        return
    target = Path(destination)
    # Beside the target (the rename stays on one file system), named to fit any file name's
    # limit, and created as any new file is (mode 0666 less the umask, not mkstemp's 0600).
    temporary = target.parent / f".{target.name[:32]}.{secrets.token_hex(6)}.part"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
