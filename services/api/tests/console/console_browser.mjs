// Drives the web console and the API docs in Chromium with no network beyond the API itself:
// every request to another origin is blocked and recorded. Driven by test_console_browser.py;
// runnable by hand with the same JSON argument:
//
//   node console_browser.mjs '{"base": "http://127.0.0.1:8000", "apiKey": "ar_…", "chromium": "/usr/bin/chromium",
//     "screenshots": "/tmp/console", "plainRun": "run_…", "approvalRun": "run_…", "approvalId": "apr_…",
//     "agentId": "agt_…", "questionId": "inp_…"}'
//
// Prints one JSON object with what the screen showed; the Python test asserts on it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

import { chromium } from "playwright-core";

const args = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TIMEOUT = 20000;
const origin = new URL(args.base).origin;

const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
const blocked = [];
let phase = "console";
await context.route("**/*", (route) => {
  const url = route.request().url();
  if (new URL(url).origin === origin || url.startsWith("data:")) return route.continue();
  blocked.push({ phase, url });
  return route.abort("internetdisconnected");
});
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
const consoleErrors = [];
const failedResources = [];
page.on("console", (message) => {
  if (message.type() !== "error") return;
  // Chromium logs every error answer of a fetch; those are asserted on separately.
  if (message.text().startsWith("Failed to load resource")) {
    failedResources.push({ phase, url: message.location().url, text: message.text() });
  } else {
    consoleErrors.push(message.text());
  }
});
page.on("pageerror", (error) => consoleErrors.push(`pageerror: ${error.message}`));

const result = { blocked, consoleErrors, failedResources, axe: {} };
const shot = (name) => page.screenshot({ path: join(args.screenshots, `${name}.png`), fullPage: false });

/** axe-core's WCAG 2.1 A/AA violations of the current page (evaluated by the driver, not the page). */
async function axe(name) {
  const violations = await page.evaluate(`${AXE_SOURCE}
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
      .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) })))`);
  result.axe[name] = violations;
}

try {
  // Sign in with the API key.
  const response = await page.goto(`${args.base}/console/`);
  result.indexHeaders = response.headers();
  await page.getByRole("heading", { name: "Sign in to Agent Runtime" }).waitFor();
  await axe("signin");
  await page.keyboard.press("Tab");
  result.firstTabFocus = await page.evaluate(() => document.activeElement?.getAttribute("type") || document.activeElement?.tagName);
  await page.getByLabel("API key", { exact: true }).fill("ar_not_a_real_key_at_all_0000000000");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  result.badKeyError = (await page.locator(".field-error").innerText()).trim();
  await page.getByLabel("API key", { exact: true }).fill(args.apiKey);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();

  // The runs list shows the run created through /v1.
  const plainRow = page.locator(`tr[data-run-id="${args.plainRun}"]`);
  await plainRow.waitFor();
  await page.locator(`tr[data-run-id="${args.plainRun}"] .status-succeeded`).waitFor();
  result.runsHeading = await page.locator("h1").innerText();
  result.plainRow = (await plainRow.innerText()).replace(/\s+/g, " ").trim();
  result.approvalRowStatus = (await page.locator(`tr[data-run-id="${args.approvalRun}"] .badge`).innerText()).trim();
  result.liveState = (await page.locator(".live-state").innerText()).trim();
  // A run started elsewhere while the list is open appears in it and finishes, without a reload.
  const started = await (await fetch(`${args.base}/v1/runs`, {
    method: "POST",
    headers: { Authorization: `Bearer ${args.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ agent_id: args.plainAgent, input: "What is 2 * 21?" }),
  })).json();
  const liveRow = page.locator(`tr[data-run-id="${started.id}"]`);
  await liveRow.waitFor({ timeout: 20000 });
  result.liveRun = { id: started.id, rowBefore: (await liveRow.innerText()).trim() };
  await page.locator(`tr[data-run-id="${started.id}"] .status-succeeded`).waitFor({ timeout: 30000 });
  // Keyboard: the skip link comes first and shows a visible focus ring.
  await page.reload();
  await plainRow.waitFor();
  await page.keyboard.press("Tab");
  result.skipLink = await page.evaluate(() => ({
    text: document.activeElement?.textContent?.trim(),
    outline: getComputedStyle(document.activeElement).outlineStyle,
  }));
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  result.secondFocus = await page.evaluate(() => ({
    text: document.activeElement?.textContent?.trim(),
    outline: getComputedStyle(document.activeElement).outlineStyle,
    outlineWidth: getComputedStyle(document.activeElement).outlineWidth,
  }));
  await axe("runs");
  await shot("runs");

  // Filter by status: the succeeded run stays, the waiting one goes.
  await page.getByRole("checkbox", { name: "succeeded" }).check();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.locator(`tr[data-run-id="${args.approvalRun}"]`).waitFor({ state: "detached" });
  await plainRow.waitFor();
  result.filteredRuns = await page.locator("tr[data-run-id]").evaluateAll((rows) => rows.map((row) => row.dataset.runId));
  await page.getByRole("button", { name: "Clear" }).click();
  await page.locator(`tr[data-run-id="${args.approvalRun}"]`).waitFor();

  // The run's page: timeline, streamed text, output, usage, Temporal link.
  await page.locator(`tr[data-run-id="${args.plainRun}"] a`).click();
  await page.locator('.timeline li[data-type="run.succeeded"]').waitFor();
  result.runHeading = await page.locator("h1").innerText();
  result.timelineTypes = await page.locator(".timeline li").evaluateAll((items) => items.map((item) => item.dataset.type));
  result.streamedText = (await page.getByTestId("streamed-text").innerText()).trim();
  result.output = (await page.getByTestId("run-output").innerText()).trim();
  result.usage = (await page.getByRole("definition").allInnerTexts()).join(" | ");
  result.temporalLink = await page.getByRole("link", { name: /Open in Temporal UI/ }).getAttribute("href");
  result.toolCalls = (await page.locator(".tool-calls tbody").innerText()).replace(/\s+/g, " ").trim();
  await axe("run");
  await shot("run");

  // The inbox: approve the pending approval (with a reason), then the run succeeds.
  await page.getByRole("link", { name: /Inbox/ }).click();
  const card = page.locator(`article[data-approval-id="${args.approvalId}"]`);
  await card.waitFor();
  result.inboxCount = (await page.locator(".top .count").innerText()).trim();
  result.approvalCard = (await card.innerText()).replace(/\s+/g, " ").trim();
  await axe("inbox");
  await shot("inbox");
  await card.getByLabel(/Reason/).fill("fine by me");
  await card.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: "Approved calculator" }).waitFor();
  result.inboxMessage = (await page.locator(".live-message").innerText()).trim();
  await page.locator(`article[data-approval-id="${args.approvalId}"]`).waitFor({ state: "detached" });
  // Questions: answer the agent's ask_human question.
  await page.getByRole("button", { name: "Questions" }).click();
  const question = page.locator(`article[data-question-id="${args.questionId}"]`);
  await question.waitFor();
  result.questionCard = (await question.innerText()).replace(/\s+/g, " ").trim();
  result.questionsPressed = await page.getByRole("button", { name: "Questions" }).getAttribute("aria-pressed");
  await axe("questions");
  await question.getByLabel("Your answer").fill("By train, please.");
  await question.getByRole("button", { name: "Send answer" }).click();
  await page.getByRole("status").filter({ hasText: "Answered the question" }).waitFor();
  await question.waitFor({ state: "detached" });
  await page.goto(`${args.base}/console/#/runs/${args.approvalRun}`);
  await page.locator('.timeline li[data-type="run.succeeded"]').waitFor();
  await page.locator(".page-head .status-succeeded").waitFor();
  result.approvedRunStatus = (await page.locator(".page-head .badge").innerText()).trim();
  result.approvedRunTimeline = await page.locator(".timeline li").evaluateAll((items) => items.map((item) => item.dataset.type));
  result.approvedRunOutput = (await page.getByTestId("run-output").innerText()).trim();

  // An agent's page: creating a version with an invalid field shows the API's error next to it.
  await page.goto(`${args.base}/console/#/agents/${args.agentId}`);
  const temperature = page.getByLabel("Temperature");
  await temperature.waitFor();
  await temperature.fill("5");
  await page.getByRole("button", { name: "Create version" }).click();
  const fieldError = page.locator('[data-field="model_settings.temperature"] .field-error');
  await fieldError.waitFor();
  result.versionFieldError = (await fieldError.innerText()).trim();
  result.versionInvalid = await temperature.getAttribute("aria-invalid");
  result.versionErrorDescribed = await temperature.evaluate((input) =>
    (input.getAttribute("aria-describedby") || "").split(" ").map((id) => document.getElementById(id)?.textContent).join(" "),
  );
  result.focusAfterError = await page.evaluate(() => document.activeElement?.getAttribute("name"));
  result.otherFieldErrors = await page.locator(".field-error").count();
  await axe("agent");
  await shot("agent-version-error");
  await temperature.fill("0.5");
  await page.getByRole("button", { name: "Create version" }).click();
  await page.getByRole("status").filter({ hasText: "Version 2 created." }).waitFor();
  await page.locator(".version summary").filter({ hasText: "Version 2" }).waitFor();
  result.versionCreated = (await page.locator(".version summary").first().innerText()).trim();
  result.formNowCreates = await page.locator("#new-version-heading").innerText();

  // Usage: the chart per day has bars.
  await page.getByRole("link", { name: "Usage" }).click();
  await page.locator('svg[data-chart="usage-day"]').waitFor();
  result.usageCaption = await page.locator("#usage-day-caption").innerText();
  result.usageBars = await page.locator('svg[data-chart="usage-day"] .bar rect').evaluateAll((rects) =>
    rects.filter((rect) => Number(rect.getAttribute("height")) > 0).length,
  );
  result.usageAgentBars = await page.locator('svg[data-chart="usage-agent"] .bar rect').count();
  result.usageDescription = await page.locator("#usage-day-desc").textContent();
  result.usageTotals = (await page.getByRole("definition").allInnerTexts()).join(" | ");
  await axe("usage");
  await shot("usage");

  // Sign out: back to the sign-in page, the key forgotten.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to Agent Runtime" }).waitFor();
  result.storageAfterSignOut = await page.evaluate(() => Object.keys(sessionStorage));

  // The API docs render their operations offline.
  phase = "docs";
  await page.goto(`${args.base}/docs`);
  await page.locator(".opblock").first().waitFor();
  result.docsOperations = await page.locator(".opblock").count();
  result.docsTitle = await page.locator(".info .title").innerText();
  await shot("docs");
  phase = "redoc";
  await page.goto(`${args.base}/redoc`);
  await page.locator('[data-section-id^="operation/"]').first().waitFor();
  result.redocOperations = await page.locator('[data-section-id^="operation/"]').count();
  await shot("redoc");
} catch (error) {
  result.error = `${error.message}\n${error.stack}`;
  result.url = page.url();
  await shot("failure").catch(() => {});
  result.bodyText = (await page.locator("body").innerText().catch(() => "")).slice(0, 3000);
}
await browser.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
