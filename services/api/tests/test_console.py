"""The web console as the API serves it: the page, its policy and caching, every module it loads
(from this server only), and its configuration. What the console does in a browser is in
``test_console_browser.py``."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncGenerator
from pathlib import Path

import httpx
import pytest

from agent_runtime_api.console import IMMUTABLE, STATIC_DIR, build_id

from .support import client_for

IMPORT = re.compile(r"""(?:^|;)\s*import\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']""", re.MULTILINE)
"""Static imports (``import x from "…"``, ``import "…"``), also in minified modules."""
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def import_map(page: str) -> tuple[str, dict[str, str]]:
    """The page's import map: its exact text (what the CSP hash covers) and its imports."""
    match = re.search(r'<script type="importmap">(.*?)</script>', page, re.DOTALL)
    assert match, page
    return match.group(1), json.loads(match.group(1))["imports"]


def page_assets(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)="(/console/assets/[^"]+)""", page)


async def test_console_page_is_html_under_a_strict_policy(api: httpx.AsyncClient) -> None:
    moved = await api.get("/console")
    assert moved.status_code == 308
    assert moved.headers["location"] == "/console/"

    response = await api.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    text, _ = import_map(response.text)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy == {
        "default-src": "'none'",
        "script-src": f"'self' 'sha256-{digest}'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "manifest-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
        "object-src": "'none'",
    }
    # Inline code is the import map alone: no inline handlers or styles for the policy to refuse.
    assert len(re.findall(r"<script", response.text)) == 2
    assert "style=" not in response.text and " on" not in re.sub(
        r"<noscript>.*?</noscript>", "", response.text
    )


async def test_every_module_and_asset_comes_from_the_console_build(api: httpx.AsyncClient) -> None:
    page = (await api.get("/console/")).text
    build = build_id(STATIC_DIR)
    _, imports = import_map(page)
    assert set(imports) == {"preact", "preact/hooks", "htm"}
    urls = {*page_assets(page), *imports.values()}
    assert f"/console/assets/{build}/js/main.js" in urls
    # Follow every import of every module, as the browser would: all of it is served, typed, and
    # cached for good under this build's URL.
    pending = sorted(urls)
    seen: set[str] = set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        assert url.startswith(f"/console/assets/{build}/"), url
        response = await api.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"] == TYPES[Path(url).suffix], url
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["x-content-type-options"] == "nosniff"
        if Path(url).suffix in {".js", ".mjs"}:
            for target in IMPORT.findall(response.text):
                if target.startswith("."):
                    pending.append(str(Path(url).parent / target).replace("/./", "/"))
                    pending[-1] = _normalize(pending[-1])
                else:
                    assert target in imports, f"{url} imports {target!r}, which the import map lacks"
    # Every file of the build is reachable from the page (nothing dead), except the docs beside them.
    served = {
        f"/console/assets/{build}/{p.relative_to(STATIC_DIR).as_posix()}" for p in STATIC_DIR.rglob("*")
    }
    unreached = {url for url in served - seen if Path(url).suffix in {".js", ".mjs", ".css"}}
    assert unreached == set()


def _normalize(url: str) -> str:
    parts: list[str] = []
    for part in url.split("/"):
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


async def test_console_sources_name_no_other_origin() -> None:
    """No CDN, font service or analytics: the only absolute URLs in the sources are in comments
    and licences."""
    for path in STATIC_DIR.rglob("*"):
        if path.suffix not in {".js", ".css", ".html", ".svg"} or "vendor" in path.parts:
            continue
        code = re.sub(r"//[^\n]*|/\*.*?\*/", "", path.read_text(), flags=re.DOTALL)
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", code), path


async def test_a_stale_build_is_served_but_revalidated(api: httpx.AsyncClient) -> None:
    current = build_id(STATIC_DIR)
    fresh = await api.get(f"/console/assets/{current}/app.css")
    stale = await api.get("/console/assets/0000000000000000/app.css")
    assert stale.status_code == 200
    assert stale.content == fresh.content
    assert stale.headers["cache-control"] == "no-cache"
    assert (await api.get(f"/console/assets/{current}/nope.js")).status_code == 404
    # The build's folder only: not the module beside it (the page template, the Python code).
    assert (await api.get(f"/console/assets/{current}/%2e%2e/%2e%2e/__init__.py")).status_code == 404


async def test_config_without_single_sign_on(api: httpx.AsyncClient) -> None:
    response = await api.get("/console/config.json")
    assert response.headers["cache-control"] == "no-cache"
    assert response.json() == {
        "build": build_id(STATIC_DIR),
        "api_base_url": "/v1",
        "docs_url": "/docs",
        "temporal_ui_url": None,
        "oidc": None,
    }


@pytest.fixture
async def sso_api(database_url: str, tenant_id: str) -> AsyncGenerator[httpx.AsyncClient]:
    async for client in client_for(
        database_url,
        tenant_id,
        oidc_issuer="https://sso.example.com/realms/agents",
        oidc_audience="agent-runtime-api",
        console_oidc_client_id="agent-runtime-console",
        console_oidc_scopes="openid profile",
        temporal_ui_url="http://temporal.example.com:8233",
    ):
        yield client


async def test_config_and_policy_with_single_sign_on(sso_api: httpx.AsyncClient) -> None:
    config = (await sso_api.get("/console/config.json")).json()
    assert config["oidc"] == {
        "issuer": "https://sso.example.com/realms/agents",
        "client_id": "agent-runtime-console",
        "scopes": "openid profile",
        "audience": "agent-runtime-api",
    }
    assert config["temporal_ui_url"] == "http://temporal.example.com:8233"
    # The page may talk to the provider (discovery, token endpoint) and nowhere else.
    policy = (await sso_api.get("/console/")).headers["content-security-policy"]
    assert "connect-src 'self' https://sso.example.com;" in policy


async def test_console_can_be_turned_off(database_url: str, tenant_id: str) -> None:
    async for client in client_for(database_url, tenant_id, console_enabled=False):
        assert (await client.get("/console/")).status_code == 404
        assert (await client.get("/console/config.json")).status_code == 404
        assert (await client.get("/docs")).status_code == 200
