"""Static files the API serves itself (the docs pages' scripts, the web console): no CDN, so
``/docs``, ``/redoc`` and ``/console`` work on a network without internet access."""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

SCRIPT_MEDIA_TYPE = "text/javascript; charset=utf-8"
"""RFC 9239's type for JavaScript (Python's ``mimetypes`` says ``application/javascript`` before 3.12)."""

_SCRIPTS = (".js", ".mjs")


class AssetFiles(StaticFiles):
    """``StaticFiles`` with a ``Cache-Control`` chosen per request, one JavaScript type and
    ``nosniff`` (a script is only ever run as what it says it is).

    Args:
        directory: The files.
        cache_control: ``Cache-Control`` of a response, given the request's scope (so a mount
            can tell a versioned URL, cached for good, from a stale one).
    """

    def __init__(self, *, directory: PathLike, cache_control: Callable[[Scope], str]) -> None:
        super().__init__(directory=directory, follow_symlink=False)
        self._cache_control = cache_control

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file, with the headers above (also on a 304, which keeps ETag and Last-Modified)."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith(_SCRIPTS):
            response.headers["Content-Type"] = SCRIPT_MEDIA_TYPE
        response.headers["Cache-Control"] = self._cache_control(scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
