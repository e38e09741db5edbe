// Sign-in: an API key typed by the user, or an OIDC access token from the authorization code
// flow with PKCE (RFC 7636), done in the browser with WebCrypto. Credentials live in
// sessionStorage: they go when the tab closes, and other sites cannot read them.

const SESSION_KEY = "agent-runtime.console.session";
const PENDING_KEY = "agent-runtime.console.oidc-pending";

/** The signed-in session ({method, token, label, expiresAt}), or null. */
export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!session || !session.token) return null;
    if (session.expiresAt && Date.now() >= session.expiresAt) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem(PENDING_KEY);
}

/** A session for an API key (`ar_…`); the caller checks it against the API. */
export function apiKeySession(key) {
  const token = key.trim();
  return { method: "api_key", token, label: `API key ${token.slice(0, 10)}…` };
}

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function s256(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

/** Where the provider sends the user back: the console's own address. */
export function redirectUri() {
  return `${location.origin}${location.pathname}`;
}

/** The provider's metadata (OpenID Connect Discovery), checked to name our issuer. */
export async function discover(oidc) {
  const url = `${oidc.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`the provider's discovery document answered HTTP ${response.status}`);
  const metadata = await response.json();
  if (metadata.issuer !== oidc.issuer) {
    throw new Error(`the discovery document names issuer ${metadata.issuer}, not ${oidc.issuer}`);
  }
  if (!metadata.authorization_endpoint || !metadata.token_endpoint) {
    throw new Error("the discovery document has no authorization or token endpoint");
  }
  return metadata;
}

/** Go to the provider's sign-in page (authorization code flow, PKCE S256). */
export async function startOidcSignIn(oidc) {
  const metadata = await discover(oidc);
  const verifier = randomString(48);
  const state = randomString();
  const nonce = randomString();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, returnTo: location.hash || "#/runs" }));
  const url = new URL(metadata.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scopes,
    state,
    nonce,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
    // RFC 8707: providers that mint tokens per API (resource) need to know ours; others ignore it.
    resource: oidc.audience,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  location.assign(url.toString());
}

/**
 * Finish an OIDC sign-in if this page is the provider's redirect (`?code=&state=` or `?error=`):
 * exchange the code for tokens. Returns the session, or null when the page is not a redirect.
 * Throws with a readable message when the sign-in failed.
 */
export async function completeOidcSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  // Drop the code from the address bar and history whatever happens next.
  history.replaceState(null, "", `${location.pathname}${pending?.returnTo || "#/runs"}`);
  dispatchEvent(new HashChangeEvent("hashchange")); // replaceState does not tell the router
  if (params.has("error")) {
    throw new Error(`the provider refused the sign-in: ${params.get("error_description") || params.get("error")}`);
  }
  if (!oidc) throw new Error("this server has no OIDC sign-in configured");
  if (!pending || pending.state !== params.get("state")) {
    throw new Error("the sign-in answer does not match a sign-in started here; try again");
  }
  // RFC 9207: a provider that names itself must be ours (mix-up attacks).
  if (params.has("iss") && params.get("iss") !== oidc.issuer) {
    throw new Error(`the sign-in answer comes from ${params.get("iss")}, not ${oidc.issuer}`);
  }
  const metadata = await discover(oidc);
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: pending.verifier,
      resource: oidc.audience,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.access_token) {
    throw new Error(`the provider did not issue a token: ${tokens.error_description || tokens.error || `HTTP ${response.status}`}`);
  }
  const expiresIn = Number(tokens.expires_in) || 0;
  return {
    method: "oidc",
    token: tokens.access_token,
    label: claimsLabel(tokens.id_token) || `Signed in with ${new URL(oidc.issuer).host}`,
    expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
    returnTo: pending.returnTo,
  };
}

/** Who the ID token names (display only: the API verifies the access token itself). */
function claimsLabel(idToken) {
  if (!idToken) return null;
  try {
    const payload = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload));
    return claims.preferred_username || claims.email || claims.name || claims.sub || null;
  } catch {
    return null;
  }
}
