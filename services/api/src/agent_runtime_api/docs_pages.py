"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with their scripts and styles served by the API
itself, from the files PyPI's ``fastapi-offline`` ships (Swagger UI 5, Apache-2.0; ReDoc 2, MIT):
the pages render with no internet access. FastAPI's own pages load them from a CDN."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from agent_runtime_api.static_assets import AssetFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
"""Under ``/docs``, so whatever routes ``/docs`` to the API (the gateway) routes these too."""
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
ASSET_CACHE_CONTROL = "public, max-age=86400"
"""A day: the files change only when the package is upgraded, and the ETag revalidates them."""

SWAGGER_UI_PARAMETERS = {
    # Swagger UI otherwise sends the spec's URL to validator.swagger.io for a badge.
    "validatorUrl": None,
    "persistAuthorization": False,
    "displayRequestDuration": True,
}


def install_docs_pages(app: FastAPI) -> None:
    """Add the docs pages and their assets to ``app`` (built with ``docs_url=None`` and
    ``redoc_url=None``, so FastAPI's CDN-based pages are not there)."""
    app.mount(
        ASSETS_URL,
        AssetFiles(directory=ASSETS_DIR, cache_control=lambda _scope: ASSET_CACHE_CONTROL),
        name="docs-assets",
    )

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:  # pyright: ignore[reportUnusedFunction]
        prefix = root(request)
        return get_swagger_ui_html(
            openapi_url=f"{prefix}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{prefix}{OAUTH2_REDIRECT_URL}",
            swagger_js_url=f"{prefix}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:  # pyright: ignore[reportUnusedFunction]
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:  # pyright: ignore[reportUnusedFunction]
        prefix = root(request)
        return get_redoc_html(
            openapi_url=f"{prefix}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
