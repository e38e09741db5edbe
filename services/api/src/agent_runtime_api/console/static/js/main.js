// The console: sign-in, then a shell (navigation + one page) routed by the URL's hash.
import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";

import { createApi } from "./api.js";
import { clearSession, completeOidcSignIn, currentToken, loadSession, saveSession } from "./auth.js";
import { html } from "./html.js";
import { disconnect, useDebounced, useLiveState, useTenantEvents } from "./live.js";
import { AgentPage, AgentsPage } from "./pages/agents.js";
import { InboxPage } from "./pages/inbox.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SignInPage } from "./pages/signin.js";
import { UsagePage } from "./pages/usage.js";

const ICON = new URL("../icon.svg", import.meta.url).href;

const PAGES = [
  { name: "runs", label: "Runs" },
  { name: "inbox", label: "Inbox" },
  { name: "agents", label: "Agents" },
  { name: "usage", label: "Usage" },
];

/** `#/runs/run_x?status=…` → {name: "runs", id: "run_x", query: URLSearchParams}. */
export function parseRoute(hash) {
  const [path, search] = (hash || "").replace(/^#/, "").split("?");
  const [name, id] = path.split("/").filter(Boolean).map(decodeURIComponent);
  const known = PAGES.some((page) => page.name === name);
  return { name: known ? name : "runs", id: known ? id || null : null, query: new URLSearchParams(search || "") };
}

function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return useMemo(() => parseRoute(hash), [hash]);
}

function InboxCount({ api }) {
  const [count, setCount] = useState(null);
  const refresh = useCallback(async () => {
    try {
      const [approvals, questions] = await Promise.all([
        api.get("/approvals", { status: "pending", limit: 100 }),
        api.get("/questions", { status: "pending", limit: 100 }),
      ]);
      setCount(approvals.data.length + questions.data.length);
    } catch {
      setCount(null);
    }
  }, [api]);
  const later = useDebounced(refresh, 300);
  useEffect(() => {
    refresh();
  }, [refresh]);
  useTenantEvents(api, (envelope, type) => {
    if (type === "tick" || type.startsWith("approval.") || type.startsWith("input.") || type === "run.waiting") later();
  });
  if (!count) return null;
  return html`<span class="count" aria-label=${`${count} waiting`}>${count > 99 ? "99+" : count}</span>`;
}

function LiveIndicator() {
  const state = useLiveState();
  const labels = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", unavailable: "Polling" };
  if (!labels[state]) return null;
  return html`<span class=${`live-state live-${state}`} title="Live updates from the event stream">${labels[state]}</span>`;
}

function Shell({ api, config, session, route, onSignOut }) {
  let page;
  if (route.name === "runs" && route.id) page = html`<${RunPage} api=${api} runId=${route.id} key=${route.id} />`;
  else if (route.name === "runs") page = html`<${RunsPage} api=${api} />`;
  else if (route.name === "inbox") page = html`<${InboxPage} api=${api} />`;
  else if (route.name === "agents" && route.id) page = html`<${AgentPage} api=${api} agentId=${route.id} key=${route.id} />`;
  else if (route.name === "agents") page = html`<${AgentsPage} api=${api} />`;
  else page = html`<${UsagePage} api=${api} />`;
  return html`
    <a class="skip-link" href="#main" onClick=${(event) => {
      event.preventDefault();
      document.getElementById("main")?.focus();
    }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/runs"><img src=${ICON} alt="" width="24" height="24" />Agent Runtime</a>
      <nav aria-label="Console">
        <ul>
          ${PAGES.map(
            (item) => html`<li>
              <a href=${`#/${item.name}`} aria-current=${route.name === item.name ? "page" : undefined}>
                ${item.label}${item.name === "inbox" ? html` <${InboxCount} api=${api} />` : null}
              </a>
            </li>`,
          )}
        </ul>
      </nav>
      <div class="top-side">
        <${LiveIndicator} />
        <a href=${config.docs_url} target="_blank" rel="noopener">API docs</a>
        ${config.temporal_ui_url ? html`<a href=${config.temporal_ui_url} target="_blank" rel="noopener">Temporal UI</a>` : null}
        <span class="who" title=${session.method === "oidc" ? "Signed in with OIDC" : "Signed in with an API key"}>${session.label}</span>
        <button type="button" class="secondary" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${page}</main>
  `;
}

function App({ config }) {
  const [session, setSession] = useState(loadSession);
  const [notice, setNotice] = useState(null);
  const [signInError, setSignInError] = useState(null);
  const [completing, setCompleting] = useState(() => new URLSearchParams(location.search).has("code") || new URLSearchParams(location.search).has("error"));
  const route = useRoute();

  const signOut = useCallback((message = null) => {
    disconnect();
    clearSession();
    setSession(null);
    setNotice(message);
  }, []);
  const api = useMemo(
    () =>
      createApi({
        baseUrl: config.api_base_url,
        credentials: () => currentToken(config.oidc),
        renew: (refused) => currentToken(config.oidc, { refused }),
        onUnauthorized: () => signOut("The API no longer accepts your credentials (expired or revoked): sign in again."),
      }),
    [config, signOut],
  );

  useEffect(() => {
    if (!completing) return;
    completeOidcSignIn(config.oidc)
      .then((done) => {
        if (done) {
          saveSession(done);
          setSession(done);
        }
      })
      .catch((error) => setSignInError(error.message))
      .finally(() => setCompleting(false));
  }, []);

  const signedIn = useCallback((next) => {
    saveSession(next);
    setNotice(null);
    setSession(next);
  }, []);

  if (completing) return html`<main class="boot"><h1>Agent Runtime console</h1><p role="status">Signing in…</p></main>`;
  if (!session) {
    return html`<${SignInPage} api=${api} config=${config} notice=${notice} error=${signInError} onSignedIn=${signedIn} />`;
  }
  return html`<${Shell} api=${api} config=${config} session=${session} route=${route} onSignOut=${() => signOut()} />`;
}

async function start() {
  const root = document.getElementById("app");
  let config;
  try {
    const response = await fetch(new URL("config.json", location.href), { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    root.textContent = `The console cannot load its configuration (${error.message}).`;
    return;
  }
  root.textContent = "";
  render(html`<${App} config=${config} />`, root);
}

start();
