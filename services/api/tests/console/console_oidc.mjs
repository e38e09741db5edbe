// Signs in to the web console with single sign-on: the authorization code flow with PKCE against
// the test OpenID provider (its development sign-in and consent pages), then reads what the
// console shows with the access token it got. The browser reaches only the API and the provider.
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
page.on("console", (message) => {
  // The provider's own pages are not ours to judge (they load a web font, blocked here).
  if (message.type() === "error" && page.url().startsWith(args.base)) consoleErrors.push(message.text());
});
page.on("pageerror", (error) => consoleErrors.push(`pageerror: ${error.message}`));
const result = { blocked, consoleErrors, visited: [] };
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
page.on("request", (request) => {
  if (request.url().startsWith(`${args.issuer}/token`) && request.method() === "POST") {
    tokenRequest = Object.fromEntries(new URLSearchParams(request.postData() || ""));
  }
});

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
} catch (error) {
  result.error = `${error.message}\n${error.stack}`;
  result.url = page.url();
  await page.screenshot({ path: join(args.screenshots, "oidc-failure.png") }).catch(() => {});
  result.bodyText = (await page.locator("body").innerText().catch(() => "")).slice(0, 3000);
}
await browser.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
