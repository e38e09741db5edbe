// Sign in with an API key, or with the OIDC provider when the server configures one.
import { useState } from "preact/hooks";

import { apiKeySession, startOidcSignIn } from "../auth.js";
import { Field, PageHeading } from "../components.js";
import { html } from "../html.js";

export function SignInPage({ api, config, notice, error, onSignedIn }) {
  const [key, setKey] = useState("");
  const [keyError, setKeyError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [oidcError, setOidcError] = useState(error);

  async function signInWithKey(event) {
    event.preventDefault();
    if (!key.trim()) {
      setKeyError("Enter an API key (it starts with ar_).");
      return;
    }
    setBusy(true);
    setKeyError(null);
    const session = apiKeySession(key);
    try {
      // Any authenticated call tells whether the key is valid; 403 still means it is.
      const response = await fetch(`${api.baseUrl}/runs?limit=1`, {
        headers: { Authorization: `Bearer ${session.token}`, Accept: "application/json" },
        cache: "no-store",
      });
      if (response.status === 401) {
        const problem = await response.json().catch(() => ({}));
        setKeyError(`The API refused this key: ${problem.detail || "not valid"}.`);
        return;
      }
      if (!response.ok && response.status !== 403) {
        setKeyError(`The API answered HTTP ${response.status}; try again.`);
        return;
      }
      onSignedIn(session);
    } catch (failure) {
      setKeyError(`The API cannot be reached (${failure.message}).`);
    } finally {
      setBusy(false);
    }
  }

  async function signInWithOidc() {
    setOidcError(null);
    try {
      await startOidcSignIn(config.oidc);
    } catch (failure) {
      setOidcError(`Single sign-on is not available: ${failure.message}`);
    }
  }

  return html`<main id="main" class="signin">
    <${PageHeading}>Sign in to Agent Runtime</${PageHeading}>
    ${notice ? html`<p class="alert alert-info" role="status">${notice}</p>` : null}
    ${oidcError ? html`<p class="alert alert-error" role="alert">${oidcError}</p>` : null}
    ${config.oidc
      ? html`<section aria-labelledby="sso-heading" class="card">
          <h2 id="sso-heading">Single sign-on</h2>
          <p>Sign in with your organisation's identity provider (<code>${new URL(config.oidc.issuer).host}</code>).</p>
          <button type="button" onClick=${signInWithOidc}>Sign in with single sign-on</button>
        </section>`
      : null}
    <section aria-labelledby="key-heading" class="card">
      <h2 id="key-heading">With an API key</h2>
      <form onSubmit=${signInWithKey} novalidate>
        <${Field}
          name="api_key"
          label="API key"
          hint="Kept in this browser tab only (sessionStorage) and sent as a Bearer token to /v1."
          error=${keyError}
        >
          ${(props) => html`<input
            ...${props}
            type="password"
            autocomplete="off"
            spellcheck=${false}
            value=${key}
            onInput=${(event) => setKey(event.currentTarget.value)}
          />`}
        </${Field}>
        <button type="submit" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </section>
  </main>`;
}
