// Signs in to the web console with single sign-on: the authorization code flow with PKCE against
// the test OpenID provider (its development sign-in and consent pages), then reads what the
// console shows with the access token it got; then lets that short-lived token expire three ways
// (renewed ahead of its end, refused by the API and renewed then, and a renewal the provider
// refuses). The browser reaches only the API and the provider.
// Driven by test_console_browser.py; prints one JSON object.
import { join } from "node:path";

import { chromium } from "playwright-core";

const args = JSON.parse(process.argv[2]);
const allowed = new Set([new URL(args.base).origin, new URL(args.issuer).origin]);
const browser = await chromium.launch({ executablePath: args.chromium, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
const blocked = [];
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (allowed.has(new URL(url).origin)) return route.continue();
  blocked.push(url);
  return route.abort("internetdisconnected");
});
const page = await context.newPage();
page.setDefaultTimeout(20000);
const consoleErrors = [];
const expectedRefusals = [];
page.on("console", (message) => {
  // The provider's own pages are not ours to judge (they load a web font, blocked here).
  if (message.type() === "error" && page.url().startsWith(args.base)) {
    const where = message.location()?.url || "";
    // The browser logs every refused request: the API's 401s and the provider's refused renewal
    // are what the expiry steps provoke, and they check those requests themselves.
    if (/status of 40[01]/.test(message.text()) && (where.startsWith(`${args.base}/v1/`) || where === `${args.issuer}/token`)) {
      expectedRefusals.push(`${message.text()} ${where}`);
      return;
    }
    consoleErrors.push(`${message.text()} ${where}`);
  }
});
page.on("pageerror", (error) => consoleErrors.push(`pageerror: ${error.message}`));
const result = { blocked, consoleErrors, expectedRefusals, visited: [] };
page.on("framenavigated", (frame) => {
  if (frame === page.mainFrame()) {
    const url = new URL(frame.url());
    result.visited.push({ origin: url.origin, path: url.pathname, params: [...url.searchParams.keys()].sort() });
  }
});
let authorizeRequest = null;
page.on("request", (request) => {
  const url = new URL(request.url());
  if (url.origin === new URL(args.issuer).origin && url.pathname === "/auth") authorizeRequest = Object.fromEntries(url.searchParams);
});
let tokenRequest = null;
const tokenGrants = [];
page.on("request", (request) => {
  if (request.url().startsWith(`${args.issuer}/token`) && request.method() === "POST") {
    const form = Object.fromEntries(new URLSearchParams(request.postData() || ""));
    tokenRequest ??= form;
    tokenGrants.push({ grant_type: form.grant_type, client_id: form.client_id, secret: "client_secret" in form, resource: form.resource });
  }
});
const refused = [];
page.on("response", (response) => {
  if (response.url().startsWith(`${args.base}/v1/`) && response.status() === 401) refused.push(new URL(response.url()).pathname);
});
const SESSION = "agent-runtime.console.session";
const sessionNow = () =>
  page.evaluate((key) => {
    const { token, refreshToken, expiresAt, issuedAt } = JSON.parse(sessionStorage.getItem(key) || "{}");
    return { token, refreshToken, expiresAt, issuedAt };
  }, SESSION);
const waitUntil = (at) => page.waitForTimeout(Math.max(0, at - Date.now()));

try {
  await page.goto(`${args.base}/console/#/agents`);
  await page.getByRole("button", { name: "Sign in with single sign-on" }).click();
  // The provider's development pages: any login, then consent.
  await page.locator('input[name="login"]').waitFor();
  await page.locator('input[name="login"]').fill("ada");
  await page.locator('input[name="password"]').fill("any password");
  await page.locator("button.login-submit").click();
  await page.getByRole("button", { name: "Continue" }).click();
  // Back in the console, signed in, on the page the sign-in started from.
  await page.getByRole("heading", { name: "Agents" }).waitFor();
  await page.getByRole("link", { name: args.agentName }).waitFor();
  result.finalUrl = page.url();
  result.who = (await page.locator(".who").innerText()).trim();
  result.whoTitle = await page.locator(".who").getAttribute("title");
  result.agents = await page.locator("table tbody th").allInnerTexts();
  result.session = await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem("agent-runtime.console.session"));
    const [, payload] = session.token.split(".");
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return { method: session.method, label: session.label, expiresAt: session.expiresAt, claims };
  });
  result.pendingLeft = await page.evaluate(() => sessionStorage.getItem("agent-runtime.console.oidc-pending"));
  result.authorize = authorizeRequest;
  result.token = tokenRequest && { ...tokenRequest, code: tokenRequest.code ? "<code>" : null, code_verifier_length: tokenRequest.code_verifier?.length };
  await page.screenshot({ path: join(args.screenshots, "oidc-signed-in.png") });
  // A reload keeps the session (sessionStorage), and the runs page works with the token.
  await page.reload();
  await page.getByRole("link", { name: args.agentName }).waitFor();
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await page.getByText("No runs match these filters.").waitFor();
  result.runsEmpty = true;

  // 1. Renewed ahead of its end: past the token's expiry, the console still works, on a new token
  //    from the refresh_token grant (and a rotated refresh token).
  // (Background requests, such as the inbox count's poll, may renew a token any time: what each
  // step sees is counted from its start.)
  const first = await sessionNow();
  result.firstSession = { hasRefreshToken: Boolean(first.refreshToken), lifeMs: first.expiresAt - first.issuedAt };
  let grantsBefore = tokenGrants.length;
  let refusedBefore = refused.length;
  await waitUntil(first.expiresAt + 1000);
  await page.getByRole("link", { name: "Agents", exact: true }).click();
  await page.getByRole("link", { name: args.agentName }).waitFor();
  const second = await sessionNow();
  result.renewedAhead = {
    grants: tokenGrants.slice(grantsBefore).map((grant) => grant.grant_type),
    newToken: second.token !== first.token,
    later: second.expiresAt > first.expiresAt,
    rotated: second.refreshToken !== first.refreshToken,
    refused: refused.slice(refusedBefore),
  };
  result.refreshRequest = tokenGrants.find((grant) => grant.grant_type === "refresh_token") ?? null;

  // 2. Refused by the API: the console believes its token good for an hour, but it has expired;
  //    the 401 makes it renew once and send the request again, and the page shows.
  await page.evaluate((key) => {
    const session = JSON.parse(sessionStorage.getItem(key));
    sessionStorage.setItem(key, JSON.stringify({ ...session, issuedAt: Date.now(), expiresAt: Date.now() + 3600000 }));
  }, SESSION);
  grantsBefore = tokenGrants.length;
  refusedBefore = refused.length;
  await waitUntil(second.expiresAt + 1000);
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await page.getByText("No runs match these filters.").waitFor();
  const third = await sessionNow();
  result.renewedOnRefusal = {
    grants: tokenGrants.slice(grantsBefore).map((grant) => grant.grant_type),
    refused: refused.slice(refusedBefore),
    newToken: third.token !== second.token,
    signedIn: await page.locator(".who").isVisible(),
  };

  // 3. The provider refuses the renewal (its sign-in session ended): signed out, told why.
  await page.evaluate((key) => {
    const session = JSON.parse(sessionStorage.getItem(key));
    sessionStorage.setItem(key, JSON.stringify({ ...session, refreshToken: "ended-session" }));
  }, SESSION);
  await waitUntil(third.expiresAt + 1000);
  await page.getByRole("link", { name: "Agents", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in to Agent Runtime" }).waitFor();
  result.endedNotice = (await page.getByRole("status").first().innerText()).trim();
  result.sessionAfterEnd = await page.evaluate((key) => sessionStorage.getItem(key), SESSION);
} catch (error) {
  result.error = `${error.message}\n${error.stack}`;
  result.url = page.url();
  await page.screenshot({ path: join(args.screenshots, "oidc-failure.png") }).catch(() => {});
  result.bodyText = (await page.locator("body").innerText().catch(() => "")).slice(0, 3000);
}
await browser.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
