// Builds app.jsx (esbuild), serves it on 127.0.0.1:<page-port>, and drives it in headless
// Chromium (playwright-core, Debian's /usr/bin/chromium or $CHROMIUM) against the API: a two-turn
// conversation, a tool approval shown and approved by a click, reloads restoring the thread, the
// thread list, and an approval with reconnectOnMount off (as agent-chat-ui has it). Prints one JSON object of what the screen showed; test_langgraph_browser.py
// asserts on it. Also runnable by hand:
//
//   node browser/drive.mjs <api-url> <api-key> <assistant-id> <page-port> <out-dir>
//
// The API must allow the page's origin, http://127.0.0.1:<page-port> (AGENT_RUNTIME_CORS_ALLOW_ORIGINS).
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const [apiUrl, apiKey, assistantId, pagePort, outDir] = process.argv.slice(2);
if (!apiUrl || !apiKey || !assistantId || !pagePort || !outDir) {
  console.error("usage: node browser/drive.mjs <api-url> <api-key> <assistant-id> <page-port> <out-dir>");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const WAIT_MS = 20_000;

// ---------------------------------------------------------------------------- build and serve

await mkdir(outDir, { recursive: true });
await build({
  entryPoints: [join(here, "app.jsx")],
  outfile: join(outDir, "app.js"),
  bundle: true,
  format: "iife",
  jsx: "automatic",
  minify: true,
  target: "chrome120",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "error",
});
await copyFile(join(here, "index.html"), join(outDir, "index.html"));

// Explicit charsets: without one, Chromium may guess the bundle's encoding wrong and fail to parse it.
const FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
};
const server = createServer(async (request, response) => {
  const file = FILES[new URL(request.url, "http://page").pathname];
  if (!file) {
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("not found");
    return;
  }
  const body = await readFile(join(outDir, file[0]));
  response.writeHead(200, { "Content-Type": file[1], "Cache-Control": "no-store" }).end(body);
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(pagePort), "127.0.0.1", resolve);
});

// ---------------------------------------------------------------------------------- browser

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // Nothing but the page and the API: no calls home (the test machines have no internet).
  args: [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--no-first-run",
  ],
});
const summary = { console_errors: [], page_errors: [], failed_requests: [], screenshots: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  page.setDefaultTimeout(WAIT_MS);
  page.on("console", (message) => {
    if (message.type() === "error") summary.console_errors.push(message.text().slice(0, 500));
  });
  page.on("pageerror", (error) => summary.page_errors.push(String(error).slice(0, 500)));
  page.on("requestfailed", (request) => {
    // A stream the page closes itself (a reload, the end of a run) is no failure.
    const reason = request.failure()?.errorText ?? "";
    if (!reason.includes("ERR_ABORTED")) summary.failed_requests.push(`${request.url()} ${reason}`);
  });
  // The API key is the browser's own setting (localStorage), never in the URL.
  await page.addInitScript((key) => window.localStorage.setItem("agent-runtime:apiKey", key), apiKey);

  const screenshot = async (name) => {
    const path = join(outDir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    summary.screenshots.push(path);
  };
  const messages = () =>
    page.$$eval('[data-testid="message"]', (nodes) =>
      nodes.map((node) => ({
        type: node.dataset.type,
        text: node.querySelector(".text")?.textContent ?? "",
        tool_calls: [...node.querySelectorAll('[data-testid="tool-call"]')].map((call) => call.textContent),
      })),
    );
  const status = () => page.textContent('[data-testid="status"]');
  const aiCount = () => page.locator('[data-testid="message"][data-type="ai"]').count();
  // Until the page is idle with at least `count` AI messages, the last one containing `text`.
  const waitForAnswer = (count, text) =>
    page.waitForFunction(
      ([count, text]) => {
        const ais = document.querySelectorAll('[data-testid="message"][data-type="ai"]');
        const status = document.querySelector('[data-testid="status"]')?.textContent;
        return status === "idle" && ais.length >= count && (ais[ais.length - 1].textContent ?? "").includes(text);
      },
      [count, text],
    );
  // Records what the screen shows each time it changes: status, AI message count, last AI text.
  const watch = () =>
    page.evaluate(() => {
      window.__frames = [];
      const record = () => {
        const ais = document.querySelectorAll('[data-testid="message"][data-type="ai"] .text');
        window.__frames.push({
          status: document.querySelector('[data-testid="status"]')?.textContent,
          ai_count: document.querySelectorAll('[data-testid="message"][data-type="ai"]').length,
          last_ai: ais.length ? ais[ais.length - 1].textContent : "",
        });
      };
      window.__observer?.disconnect();
      window.__observer = new MutationObserver(record);
      window.__observer.observe(document.body, { childList: true, subtree: true, characterData: true });
    });
  const frames = () => page.evaluate(() => window.__frames);
  const say = async (text) => {
    await page.fill('[data-testid="composer"]', text);
    await page.press('[data-testid="composer"]', "Enter");
  };
  const threadIdInUrl = () => new URL(page.url()).searchParams.get("threadId");

  const start = `http://127.0.0.1:${pagePort}/?${new URLSearchParams({ apiUrl, assistantId })}`;
  await page.goto(start);
  await page.waitForSelector('[data-testid="composer"]');

  // Two turns: the second answer uses the first.
  summary.turns = [];
  for (const [prompt, count, expected] of [
    ["Hello, my name is Ada.", 1, "Ada"],
    ["What is my name?", 2, "Your name is Ada."],
  ]) {
    await watch();
    await say(prompt);
    await waitForAnswer(count, expected);
    const shown = await messages();
    summary.turns.push({
      prompt,
      messages: shown,
      frames: await frames(),
      thread_id_in_url: threadIdInUrl(),
    });
  }
  const threadId = threadIdInUrl();
  summary.thread_id = threadId;

  // A tool that needs approval: the run is interrupted, the page shows approve/reject.
  await say("What is 6 * 7?");
  await page.waitForSelector('[data-testid="interrupt"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent === "idle");
  summary.interrupt = {
    tool: await page.textContent('[data-testid="interrupt-tool"]'),
    args: JSON.parse((await page.textContent('[data-testid="interrupt-args"]')) ?? "null"),
    messages: await messages(),
  };
  await screenshot("interrupt");

  // A reload while interrupted: the thread's state brings the interrupt and the turn so far back.
  await page.reload();
  await page.waitForSelector('[data-testid="interrupt"] button');
  await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.textContent === "idle");
  summary.interrupt_after_reload = {
    thread_id_in_url: threadIdInUrl(),
    tool: await page.textContent('[data-testid="interrupt-tool"]'),
    messages: await messages(),
  };

  // Approve: the run goes on and answers from the tool's result.
  await watch();
  await page.getByRole("button", { name: "Approve" }).click();
  await waitForAnswer(4, "42");
  await page.waitForSelector('[data-testid="interrupt"]', { state: "detached" });
  summary.approved = { messages: await messages(), frames: await frames(), error: await errorText() };

  // The thread list shows the thread, labelled with its first message.
  const listed = page.locator(`[data-testid="thread"][data-thread-id="${threadId}"]`);
  await listed.waitFor();
  summary.thread_list = { label: await listed.textContent() };

  // A reload restores the whole conversation from the thread's history.
  await page.reload();
  await page.waitForFunction(
    (count) => document.querySelectorAll('[data-testid="message"][data-type="ai"]').length >= count,
    4,
  );
  await listed.waitFor();
  summary.reloaded = {
    thread_id_in_url: threadIdInUrl(),
    status: await status(),
    ai_count: await aiCount(),
    messages: await messages(),
    interrupt_shown: (await page.locator('[data-testid="interrupt"]').count()) > 0,
    listed_threads: await page.$$eval('[data-testid="thread"]', (nodes) => nodes.map((n) => n.dataset.threadId)),
    error: await errorText(),
  };
  await screenshot("reloaded");

  // agent-chat-ui as it is today: no reconnectOnMount, so its resume asks for on_disconnect
  // "cancel". A new thread with an approval, approved by a click.
  await page.goto(`${start}&reconnectOnMount=false`);
  await page.waitForSelector('[data-testid="composer"]');
  await say("What is 2 + 3?");
  await page.getByRole("button", { name: "Approve" }).click();
  await waitForAnswer(2, "calculator: 5");
  summary.without_reconnect = {
    thread_id_in_url: threadIdInUrl(),
    messages: await messages(),
    error: await errorText(),
  };

  async function errorText() {
    const error = page.locator('[data-testid="error"]');
    return (await error.count()) ? await error.textContent() : null;
  }
} catch (error) {
  summary.failure = String(error?.stack ?? error).slice(0, 4000);
  try {
    const [page] = browser.contexts().flatMap((context) => context.pages());
    if (page) {
      const path = join(outDir, "failure.png");
      await page.screenshot({ path, fullPage: true });
      summary.screenshots.push(path);
    }
  } catch {
    // the screenshot is a debugging aid only
  }
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(summary));
