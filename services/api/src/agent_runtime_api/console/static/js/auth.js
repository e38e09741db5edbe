// Sign-in: an API key typed by the user, or an OIDC access token from the authorization code
// flow with PKCE (RFC 7636), done in the browser with WebCrypto. Credentials live in
// sessionStorage: they go when the tab closes, and other sites cannot read them. Access tokens
// are short-lived (Keycloak's default: 5 minutes): when the provider issued a refresh token, the
// console renews the access token before it expires (and once more if the API refuses one), so
// a user stays signed in for the provider's session, not the token's life.

const SESSION_KEY = "agent-runtime.console.session";
const PENDING_KEY = "agent-runtime.console.oidc-pending";

/** The signed-in session ({method, token, label, expiresAt}), or null. */
export function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!session || !session.token) return null;
    if (session.expiresAt && Date.now() >= session.expiresAt && !session.refreshToken) {
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

const discovered = new Map();

/** The provider's metadata (OpenID Connect Discovery), checked to name our issuer. */
export async function discover(oidc) {
  if (!discovered.has(oidc.issuer)) {
    const pending = fetchMetadata(oidc);
    discovered.set(oidc.issuer, pending);
    pending.catch(() => discovered.delete(oidc.issuer)); // a failure is not remembered
  }
  return discovered.get(oidc.issuer);
}

async function fetchMetadata(oidc) {
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
  const tokens = await requestTokens(oidc, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  return {
    ...tokenSession(tokens, null),
    label: claimsLabel(tokens.id_token) || `Signed in with ${new URL(oidc.issuer).host}`,
    returnTo: pending.returnTo,
  };
}

/** POST a grant to the provider's token endpoint as our public client (no secret) for the API. */
async function requestTokens(oidc, grant) {
  const metadata = await discover(oidc);
  const response = await fetch(metadata.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ ...grant, client_id: oidc.client_id, resource: oidc.audience }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.access_token) {
    throw new Error(`the provider did not issue a token: ${tokens.error_description || tokens.error || `HTTP ${response.status}`}`);
  }
  return tokens;
}

/** The session fields a token answer sets (a refresh may rotate the refresh token, or not). */
function tokenSession(tokens, previousRefreshToken) {
  const expiresIn = Number(tokens.expires_in) || 0;
  const now = Date.now();
  return {
    method: "oidc",
    token: tokens.access_token,
    refreshToken: tokens.refresh_token || previousRefreshToken || null,
    issuedAt: now,
    expiresAt: expiresIn ? now + expiresIn * 1000 : null,
  };
}

/** When to renew: a quarter of the token's life before it ends, at most 30 s before. */
function renewAt(session) {
  const life = session.expiresAt - (session.issuedAt || session.expiresAt);
  return session.expiresAt - Math.min(30000, life / 4);
}

let renewing = null;

/**
 * The signed-in user's bearer token, renewed first when it is an OIDC access token near its end,
 * or when it is still `refused`, the token the API just refused (a token already renewed since
 * is returned as it is). Concurrent callers share one renewal. A renewal the provider refuses
 * (its sign-in session ended) yields the old token, which the API refuses: the console signs out.
 */
export async function currentToken(oidc, { refused = null } = {}) {
  const session = loadSession();
  if (!session) return null;
  if (session.method !== "oidc" || !session.refreshToken || !oidc) return session.token;
  if (refused !== null ? session.token !== refused : !(session.expiresAt && Date.now() >= renewAt(session))) {
    return session.token;
  }
  if (!renewing) {
    renewing = renewOidcSession(oidc, session)
      .then((renewed) => {
        if (loadSession()?.refreshToken === session.refreshToken) saveSession(renewed); // not signed out meanwhile
        return renewed.token;
      })
      .catch(() => session.token)
      .finally(() => {
        renewing = null;
      });
  }
  return renewing;
}

async function renewOidcSession(oidc, session) {
  const tokens = await requestTokens(oidc, { grant_type: "refresh_token", refresh_token: session.refreshToken });
  return { ...session, ...tokenSession(tokens, session.refreshToken) };
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
