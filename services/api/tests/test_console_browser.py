"""The web console and the API docs in a real browser (Chromium, driven by npm ``playwright-core``)
against the API served on a free port with its real authentication and a real worker, Temporal,
Postgres and Redis behind it. The browser may reach the API's origin only: every other request is
blocked and recorded, so a page that needs the internet (a CDN, web fonts) fails the test.

The driver and its pinned packages live in ``tests/console`` (package.json + package-lock.json;
``npm ci`` once per session); it also pins the packages the console vendors, and the vendored
files must equal the packages' own. Chromium is Debian's (``/usr/bin/chromium``; Playwright's
browser download is not used): without it the test is skipped with the reason, except under CI
(``CI`` set), where ``scripts/_debian.sh`` installs it. Screenshots go to a temporary folder
printed in the test's output (``-s`` shows it)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime_api.console import STATIC_DIR
from agent_runtime_api.main import create_app
from agent_runtime_cli.embedded.ports import find_free_port
from agent_runtime_core.db import Database
from agent_runtime_core.settings import Settings

from .sse import serve
from .support import OIDC_AUDIENCE, OidcProvider, issue_api_key, node_with_packages, run_node, skip_or_fail

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[3]


def screenshots_dir(name: str) -> str:
    """Where a browser test keeps its screenshots: ``$AGENT_RUNTIME_TEST_ARTIFACTS/<name>`` (CI
    collects that folder), else ``test-artifacts/<name>`` in the checkout (git ignores it). Each
    run replaces the previous one's pictures."""
    root = Path(os.environ.get("AGENT_RUNTIME_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return str(folder)


DRIVER_DIR = Path(__file__).parent / "console"
DRIVER = DRIVER_DIR / "console_browser.mjs"
OIDC_DRIVER = DRIVER_DIR / "console_oidc.mjs"
NODE_TIMEOUT_S = 150
ACCESS_TOKEN_TTL_S = 5
"""The life of the console's OIDC access tokens in the sign-in test (the provider's, per client)."""
REDOC_ATTRIBUTION_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
VENDORED = {
    "preact.mjs": "preact/dist/preact.mjs",
    "hooks.mjs": "preact/hooks/dist/hooks.mjs",
    "htm.mjs": "htm/dist/htm.mjs",
}


@pytest.fixture(scope="session")
def node_driver() -> str:
    """``node``, with ``tests/console``'s locked packages installed (``npm ci``, once per session)."""
    return node_with_packages(DRIVER_DIR)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (installed by ``scripts/_debian.sh`` under CI when missing)."""
    path = os.environ.get("AGENT_RUNTIME_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None and os.environ.get("CI"):
        subprocess.run(["bash", str(ROOT / "scripts" / "_chromium.sh")], check=True, timeout=900)
        path = shutil.which("chromium")
    if path is None:
        skip_or_fail("chromium is not installed (bash scripts/_debian.sh installs Debian's)")
    assert path is not None
    return path


def test_console_vendored_modules_match_npm(node_driver: str) -> None:
    """The vendored Preact and htm are the pinned packages' files, byte for byte."""
    for vendored, packaged in VENDORED.items():
        ours = (STATIC_DIR / "vendor" / vendored).read_bytes()
        theirs = (DRIVER_DIR / "node_modules" / packaged).read_bytes()
        assert ours == theirs, f"vendor/{vendored} differs from node_modules/{packaged}: copy it again"


async def _wait(client: httpx.AsyncClient, path: str, ready: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        body = (await client.get(path)).json()
        found = ready(body)
        if found:
            return found
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.05)


async def test_console_and_docs_in_a_browser_without_network(
    node_driver: str, chromium: str, server: str, api_key: str
) -> None:
    async with httpx.AsyncClient(
        base_url=server, headers={"Authorization": f"Bearer {api_key}"}, timeout=20
    ) as api:

        async def agent(name: str, tools: list[dict[str, Any]]) -> str:
            body = {"name": name, "version": {"model": "builtin:scripted", "tools": tools}}
            response = await api.post("/v1/agents", json=body)
            assert response.status_code == 201, response.text
            return response.json()["id"]

        async def run(agent_id: str, text: str) -> str:
            response = await api.post("/v1/runs", json={"agent_id": agent_id, "input": text})
            assert response.status_code == 202, response.text
            return response.json()["id"]

        plain_agent = await agent("console-plain", [{"name": "calculator"}])
        careful_agent = await agent("console-careful", [{"name": "calculator", "requires_approval": True}])
        plain_run = await run(plain_agent, "What is 6 * 7?")
        await _wait(api, f"/v1/runs/{plain_run}", lambda r: r["status"] == "succeeded" and r)
        approval_run = await run(careful_agent, "What is 2 + 3?")
        approval = await _wait(
            api, "/v1/approvals?status=pending", lambda page: page["data"] and page["data"][0]
        )
        assert approval["run_id"] == approval_run
        asking_agent = await agent("console-asking", [{"name": "ask_human"}])
        question_run = await run(asking_agent, "Plan my trip")
        question = await _wait(
            api, "/v1/questions?status=pending", lambda page: page["data"] and page["data"][0]
        )

        screenshots = screenshots_dir("console")
        print(f"console screenshots: {screenshots}")  # where to look, with -s
        arguments = {
            "base": server,
            "apiKey": api_key,
            "chromium": chromium,
            "screenshots": screenshots,
            "plainRun": plain_run,
            "plainAgent": plain_agent,
            "approvalRun": approval_run,
            "approvalId": approval["id"],
            "agentId": careful_agent,
            "questionId": question["id"],
        }
        seen = await _drive(node_driver, arguments)
        assert "error" not in seen, f"{seen.get('error')}\nat {seen.get('url')}\n{seen.get('bodyText')}"
        # A run started elsewhere while the list was open appeared in it and finished, no reload.
        assert seen["liveRun"]["id"].startswith("run_") and seen["liveRun"]["rowBefore"] != ""
        live = (await api.get(f"/v1/runs/{seen['liveRun']['id']}")).json()
        assert live["status"] == "succeeded" and live["agent_id"] == plain_agent
        # Every main page was photographed.
        shots = {path.stem for path in await asyncio.to_thread(lambda: list(Path(screenshots).glob("*.png")))}
        assert {"runs", "run", "inbox", "agent-version-error", "usage", "docs"} <= shots

        # Nothing came from anywhere but the API, and no script or CSP error happened. ReDoc's
        # bundle shows its vendor's logo from their CDN in the sidebar footer, whatever the options;
        # offline the image fails and ReDoc hides it (onError), so that one attempt is allowed.
        assert [b for b in seen["blocked"] if b["url"] != REDOC_ATTRIBUTION_LOGO] == []
        assert {b["phase"] for b in seen["blocked"]} <= {"redoc"}
        assert seen["consoleErrors"] == []
        # The only failed loads: the wrong API key tried at sign-in (401), the invalid version
        # (422), and that logo.
        failed = {(f["phase"], f["url"].split("?")[0]) for f in seen["failedResources"]}
        assert failed <= {
            ("console", f"{server}/v1/runs"),
            ("console", f"{server}/v1/agents/{careful_agent}/versions"),
            ("redoc", REDOC_ATTRIBUTION_LOGO),
        }, failed
        # Served as the page it is, under its policy.
        headers = seen["indexHeaders"]
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self' 'sha256-" in headers["content-security-policy"]
        # No accessibility violations axe-core can find (WCAG 2.1 A and AA) on any page.
        pages = ("signin", "runs", "run", "inbox", "questions", "agent", "usage")
        assert seen["axe"] == {page: [] for page in pages}

        # Sign-in: a wrong key is refused where the key is typed; the right one opens the console.
        assert seen["firstTabFocus"] == "password"
        assert "The API refused this key" in seen["badKeyError"]
        assert seen["runsHeading"] == "Runs"
        # The run created through /v1 is listed with its agent and status, live.
        assert plain_run in seen["plainRow"] and "console-plain" in seen["plainRow"]
        assert "succeeded" in seen["plainRow"]
        assert seen["approvalRowStatus"] == "waiting"
        assert seen["liveState"] in {"Live", "Connecting…"}
        assert seen["filteredRuns"] == [seen["liveRun"]["id"], plain_run]  # succeeded, newest first
        # Keyboard: the skip link first, a visible focus ring on what has the focus.
        assert seen["skipLink"]["text"] == "Skip to content"
        assert seen["secondFocus"]["outline"] == "solid" and seen["secondFocus"]["outlineWidth"] == "3px"

        # The run's page: its events, the streamed text, tool calls, usage, the Temporal link.
        assert plain_run in seen["runHeading"]
        types = seen["timelineTypes"]
        for expected in ("run.queued", "run.started", "model.request.started", "tool.call.started"):
            assert expected in types
        assert types[-1] == "run.succeeded"
        assert "calculator: 42" in seen["streamedText"]
        assert "calculator: 42" in seen["output"]
        assert (
            "calculator" in seen["toolCalls"] and "6 * 7" in seen["toolCalls"] and "42" in seen["toolCalls"]
        )
        assert seen["temporalLink"] == f"http://127.0.0.1:8233/namespaces/default/workflows/run-{plain_run}"

        # The inbox: the approval with its run and arguments; approving it finishes the run.
        assert seen["inboxCount"] == "2"  # the approval and the question
        assert approval_run in seen["approvalCard"] and "2 + 3" in seen["approvalCard"]
        assert "console-careful" in seen["approvalCard"]
        assert seen["inboxMessage"] == f"Approved calculator on run {approval_run}."
        assert seen["approvedRunStatus"] == "succeeded"
        assert "approval.decided" in seen["approvedRunTimeline"]
        assert "calculator: 5" in seen["approvedRunOutput"]
        decided = (await api.get(f"/v1/runs/{approval_run}/approvals/{approval['id']}")).json()
        assert (decided["status"], decided["reason"]) == ("approved", "fine by me")

        # A question is answered from the inbox; its run goes on with the answer.
        assert seen["questionsPressed"] == "true"
        assert "Plan my trip" in seen["questionCard"] and question_run in seen["questionCard"]
        answered = await _wait(api, f"/v1/runs/{question_run}", lambda r: r["status"] == "succeeded" and r)
        assert "ask_human: By train, please." in answered["output"]

        # The version form shows the API's 422 next to the field, which takes the focus.
        assert "less than or equal to 2" in seen["versionFieldError"]
        assert seen["versionInvalid"] == "true"
        assert "less than or equal to 2" in seen["versionErrorDescribed"]
        assert seen["focusAfterError"] == "model_settings.temperature"
        assert seen["otherFieldErrors"] == 1
        assert seen["versionCreated"].startswith("Version 2")
        assert seen["formNowCreates"] == "Create version 3"
        version = (await api.get(f"/v1/agents/{careful_agent}/versions/2")).json()
        assert version["model_settings"]["temperature"] == 0.5
        assert [t["name"] for t in version["tools"]] == ["calculator"]

        # Usage: today's bar, and one bar per agent that used a model.
        assert seen["usageCaption"] == "Tokens (input + output) per day"
        assert seen["usageBars"] == 1
        assert seen["usageAgentBars"] == 3  # the three agents that ran a model
        assert "total" in seen["usageDescription"]

        assert seen["storageAfterSignOut"] == []

        # The docs render every operation from the API's own copies of Swagger UI and ReDoc.
        assert seen["docsTitle"].startswith("Agent Runtime API")
        assert seen["docsOperations"] > 50
        assert seen["redocOperations"] == seen["docsOperations"]


async def test_console_signs_in_with_oidc_authorization_code_and_pkce(
    node_driver: str,
    chromium: str,
    provider: OidcProvider,
    database_url: str,
    database: Database,
    tenant_id: str,
) -> None:
    """Single sign-on against a real OpenID provider: the console runs the authorization code flow
    with PKCE (S256) in the browser, and the API accepts the access token it gets (tenant and
    roles from the token's claims). Access tokens live 5 s here: the console renews them with the
    refresh token, ahead of their end or when the API refuses one, and signs out when the
    provider refuses the renewal."""
    port = find_free_port()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=10) as idp:
        registered = await idp.post(
            "/reg",
            json={
                "client_name": "console",
                "redirect_uris": [f"{base}/console/"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "test_claims": {"tenant_id": tenant_id, "roles": ["viewer"]},
                "test_access_token_ttl": ACCESS_TOKEN_TTL_S,
            },
        )
        assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    settings = Settings.model_validate(
        {
            "database_url": database_url,
            "database_pool_size": 3,
            "temporal_address": "127.0.0.1:1",
            "oidc_issuer": provider.issuer,
            "oidc_audience": OIDC_AUDIENCE,
            "console_oidc_client_id": client_id,
            "console_oidc_scopes": "openid api",
            "oidc_leeway_s": 0,  # an expired token is refused at once
        }
    )
    # Something of the tenant's to see once signed in (made with an API key of the same tenant).
    _, key = await issue_api_key(database, tenant_id, ["admin"])
    async with serve(create_app(settings), port) as served:
        assert served == base
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            created = await api.post("/v1/agents", json={"name": "seen-through-sso"})
            assert created.status_code == 201, created.text
        screenshots = screenshots_dir("console-oidc")
        arguments = {
            "base": base,
            "issuer": provider.issuer,
            "chromium": chromium,
            "screenshots": screenshots,
            "agentName": "seen-through-sso",
        }
        seen = await _drive(node_driver, arguments, OIDC_DRIVER)
    assert "error" not in seen, f"{seen.get('error')}\nat {seen.get('url')}\n{seen.get('bodyText')}"
    assert seen["consoleErrors"] == []
    # Only the provider's web font was refused; the console itself asked nobody else.
    assert all(url.startswith("https://fonts.") for url in seen["blocked"]), seen["blocked"]

    # The authorization request: code flow, PKCE S256, our redirect URI, state and nonce, the API
    # as the resource; the token request proves the verifier (43-128 characters, RFC 7636).
    authorize = seen["authorize"]
    assert authorize["response_type"] == "code"
    assert authorize["client_id"] == client_id
    assert authorize["redirect_uri"] == f"{base}/console/"
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["code_challenge"]) == 43
    assert authorize["scope"] == "openid api"
    assert authorize["resource"] == OIDC_AUDIENCE
    assert authorize["state"] and authorize["nonce"]
    token = seen["token"]
    assert token["grant_type"] == "authorization_code"
    assert token["client_id"] == client_id and "client_secret" not in token
    assert 43 <= token["code_verifier_length"] <= 128
    # The provider sent the browser back with a code; the console took it out of the address.
    assert any(v["path"] == "/console/" and "code" in v["params"] for v in seen["visited"])
    assert seen["finalUrl"] == f"{base}/console/#/agents"
    assert seen["pendingLeft"] is None

    # Signed in as the provider's user, with a token for the API of the tenant in its claims.
    session = seen["session"]
    assert session["method"] == "oidc"
    assert session["claims"]["aud"] == OIDC_AUDIENCE and session["claims"]["iss"] == provider.issuer
    assert session["claims"]["tenant_id"] == tenant_id
    assert session["expiresAt"] is not None
    assert seen["who"] == "ada"
    assert seen["agents"] == ["seen-through-sso"]
    assert seen["runsEmpty"] is True

    # 1. Renewed a quarter of its life before its end: no 401 seen, a new access token (and a new
    #    refresh token: the provider rotates them) from the refresh_token grant, no secret sent.
    assert seen["firstSession"] == {"hasRefreshToken": True, "lifeMs": ACCESS_TOKEN_TTL_S * 1000}
    ahead = seen["renewedAhead"]
    assert ahead["grants"] and set(ahead["grants"]) == {"refresh_token"}, ahead
    assert ahead["newToken"] and ahead["later"] and ahead["rotated"], ahead
    assert ahead["refused"] == [], ahead
    assert seen["refreshRequest"] == {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "secret": False,
        "resource": OIDC_AUDIENCE,
    }
    # 2. A token the API refuses (expired, though the console thought not): one renewal, the
    #    request sent again, still signed in.
    refusal = seen["renewedOnRefusal"]
    assert refusal["grants"] and set(refusal["grants"]) == {"refresh_token"}, refusal
    assert refusal["refused"] and refusal["newToken"] and refusal["signedIn"], refusal
    # 3. A renewal the provider refuses: signed out, told why, nothing kept.
    assert "sign in again" in seen["endedNotice"], seen["endedNotice"]
    assert seen["sessionAfterEnd"] is None
    # The only errors the browser logged are those refusals: the API's 401 and the provider's 400.
    refusals = seen["expectedRefusals"]
    assert any("status of 401" in r and "/v1/" in r for r in refusals), refusals
    assert any("status of 400" in r and r.endswith(f"{provider.issuer}/token") for r in refusals), refusals


async def _drive(node: str, arguments: dict[str, Any], driver: Path = DRIVER) -> dict[str, Any]:
    return await run_node(node, driver, json.dumps(arguments), timeout_s=NODE_TIMEOUT_S)
