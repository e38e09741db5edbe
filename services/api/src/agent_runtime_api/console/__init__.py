"""The web console at ``/console``: a browser app of ES modules (Preact and htm vendored, no build
step) served by the API with everything it loads, so it works without internet access.

- ``/console/`` is ``index.html``: never cached, with a strict Content-Security-Policy (scripts,
  styles and connections to this origin only, plus the OIDC provider's origin when the console
  signs in there; one inline script, the import map, allowed by its hash).
- ``/console/assets/<build>/…`` are the scripts and styles. ``<build>`` is a hash of all of them,
  so a URL names one content for good: cached a year as immutable. A request naming another build
  (an old page after a deploy) gets today's file, revalidated each time.
- ``/console/config.json`` tells the app how to sign in (OIDC provider and client, if any).

The app calls ``/v1`` like any client, with ``Authorization: Bearer`` (an API key or the OIDC
access token, kept in ``sessionStorage``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import Scope

from agent_runtime_api.static_assets import AssetFiles
from agent_runtime_core.settings import Settings

CONSOLE_URL: Final = "/console"
STATIC_DIR: Final = Path(__file__).parent / "static"
INDEX_TEMPLATE: Final = Path(__file__).parent / "index.html"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"

VENDOR_MODULES: Final = {
    "preact": "vendor/preact.mjs",
    "preact/hooks": "vendor/hooks.mjs",
    "htm": "vendor/htm.mjs",
}
"""Bare specifiers the app (and Preact's hooks) import, mapped to the vendored files."""


def build_id(directory: Path) -> str:
    """A hash of every file under ``directory`` (names and bytes): changes with any of them."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(import_map: str, settings: Settings) -> str:
    """The index page's policy: this origin only, the import map by its hash, and the OIDC
    provider's origin for its discovery document and token endpoint when the console uses it."""
    script_hash = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    connect = ["'self'"]
    if oidc_config(settings) is not None and settings.oidc_issuer:
        connect.append(_origin(settings.oidc_issuer))
    directives = {
        "default-src": "'none'",
        "script-src": f"'self' 'sha256-{script_hash}'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": " ".join(connect),
        "manifest-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def oidc_config(settings: Settings) -> dict[str, str] | None:
    """What the app needs to sign in with the OIDC provider, or ``None`` (API keys only)."""
    if not (settings.console_oidc_client_id and settings.oidc_issuer and settings.oidc_audience):
        return None
    return {
        "issuer": settings.oidc_issuer,
        "client_id": settings.console_oidc_client_id,
        "scopes": settings.console_oidc_scopes,
        "audience": settings.oidc_audience,
    }


class _Page:
    """The index page for one root path (the prefix a proxy mounts the API under)."""

    def __init__(self, root_path: str, build: str, settings: Settings) -> None:
        self.assets = f"{root_path}{CONSOLE_URL}/assets/{build}"
        imports = {name: f"{self.assets}/{path}" for name, path in VENDOR_MODULES.items()}
        self.import_map = json.dumps({"imports": imports}, separators=(",", ":"))
        self.html = (
            INDEX_TEMPLATE.read_text("utf-8")
            .replace("{{assets}}", self.assets)
            .replace("{{import_map}}", self.import_map)
        )
        self.headers = {
            "Content-Security-Policy": content_security_policy(self.import_map, settings),
            "Cache-Control": REVALIDATE,
            "Referrer-Policy": "no-referrer",  # the sign-in callback's URL holds a code
            "X-Content-Type-Options": "nosniff",
        }


def install_console(app: FastAPI, settings: Settings) -> None:
    """Serve the console on ``app`` (not part of the OpenAPI document)."""
    build = build_id(STATIC_DIR)

    def cache_control(scope: Scope) -> str:
        return IMMUTABLE if scope.get("path_params", {}).get("build") == build else REVALIDATE

    app.mount(
        f"{CONSOLE_URL}/assets/{{build}}",
        AssetFiles(directory=STATIC_DIR, cache_control=cache_control),
        name="console-assets",
    )

    @cache
    def page(root_path: str) -> _Page:
        return _Page(root_path, build, settings)

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(CONSOLE_URL, include_in_schema=False)
    async def console_redirect(request: Request) -> RedirectResponse:  # pyright: ignore[reportUnusedFunction]
        # One address for the app (its OIDC redirect URI is <origin>/console/).
        return RedirectResponse(f"{root(request)}{CONSOLE_URL}/", status_code=308)

    @app.get(f"{CONSOLE_URL}/", include_in_schema=False)
    async def console_index(request: Request) -> HTMLResponse:  # pyright: ignore[reportUnusedFunction]
        served = page(root(request))
        return HTMLResponse(served.html, headers=served.headers)

    @app.get(f"{CONSOLE_URL}/config.json", include_in_schema=False)
    async def console_config(request: Request) -> JSONResponse:  # pyright: ignore[reportUnusedFunction]
        body: dict[str, Any] = {
            "build": build,
            "api_base_url": f"{root(request)}/v1",
            "docs_url": f"{root(request)}/docs",
            "temporal_ui_url": settings.temporal_ui_url,
            "oidc": oidc_config(settings),
        }
        return JSONResponse(body, headers={"Cache-Control": REVALIDATE})
