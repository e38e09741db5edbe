"""``/docs`` and ``/redoc`` load nothing from the internet: their scripts, styles and icon come
from the API itself (PyPI ``fastapi-offline``'s copies of Swagger UI and ReDoc). The browser check
that they render their operations offline is in ``test_console_browser.py``."""

from __future__ import annotations

import re

import httpx

ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


def referenced_urls(page: str) -> list[str]:
    """Every URL the page loads or links to: src/href/spec-url attributes and its script's URLs."""
    attributes = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", page)
    scripted = re.findall(r"""(?:url|oauth2RedirectUrl)\s*:\s*["']([^"']+)["']""", page)
    return attributes + scripted


async def test_docs_pages_reference_only_the_apis_own_assets(api: httpx.AsyncClient) -> None:
    for path, expected_assets in (
        ("/docs", {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"}),
        ("/redoc", {"/docs/assets/redoc.standalone.js"}),
    ):
        response = await api.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        urls = referenced_urls(response.text)
        assert expected_assets <= set(urls), urls
        assert "/openapi.json" in urls
        # Local paths only: no scheme, no host (no CDN, no web fonts).
        assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
        assert "http://" not in response.text and "https://" not in response.text
        for url in urls:
            if not url.startswith("/docs/assets/"):
                continue
            asset = await api.get(url)
            assert asset.status_code == 200, url
            suffix = url[url.rindex(".") :]
            assert asset.headers["content-type"] == ASSET_TYPES[suffix], url
            assert asset.headers["x-content-type-options"] == "nosniff"
            assert asset.headers["cache-control"] == "public, max-age=86400"
            assert int(asset.headers["content-length"]) > 1000, url
    # Swagger UI's OAuth2 redirect page and the OpenAPI document are served too.
    assert (await api.get("/docs/oauth2-redirect")).status_code == 200
    assert (await api.get("/openapi.json")).json()["info"]["title"] == "Agent Runtime API"


async def test_docs_assets_revalidate_and_refuse_unknown_files(api: httpx.AsyncClient) -> None:
    first = await api.get("/docs/assets/swagger-ui.css")
    again = await api.get("/docs/assets/swagger-ui.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "public, max-age=86400"
    assert (await api.get("/docs/assets/nope.js")).status_code == 404
    assert (await api.get("/docs/assets/../../pyproject.toml")).status_code == 404
